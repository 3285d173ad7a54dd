"""Synthetic worlds: seeded, realistic test and demo datasets in the input format.

``generate_world(n_accounts, rng)`` builds the five input tables (accounts, logins,
payments, requests, labels) plus a truth table as DataFrames; ``split_nights`` cuts a
world into consecutive nightly exports; ``write_world`` is the thin writer behind
``ringwatch generate``. Everything is drawn from the ``numpy.random.Generator`` passed in,
so a seed gives the same world, whatever the number of nights or the file format.

Timeline and size
-----------------
120 days ending 2026-11-01T00:00:00Z (the start is 2026-07-04). Every event of an
account happens at or after its ``created_at`` and before the end. Ring campaigns start
at random dates, about 45% of them in the last 30 days, so accounts created late carry
much of the abuse and few of its labels (labels lag the abuse by days to weeks).
Account rings hold 2.5-3.5% of the accounts; worlds of 1,500 accounts or more hold at
least one ring of every scenario (so small worlds run above that share). There is one
logged-out crawler per 20,000 accounts (at least one) and one to three search bots.

Legitimate background and its look-alikes (truth kind ``legit_group``)
----------------------------------------------------------------------
Most accounts own 1-3 devices (a tail up to 8) with common user agents (plus a long tail
of old browsers and old Android WebViews, so a rare UA alone is no proof). Logins and
traffic come through channels: home, mobile carrier, office, campus, VPN, public kiosk,
travel. Signals that are NOT abuse, and how truth names them (entity_type ``account``
unless said otherwise):

- ``household``: 2-7 accounts on one home IP (sometimes two, IPv6 for ~15% of homes),
  sign-ups within hours of each other in a third of multi-account homes, a shared tablet
  in 15% of them, Gmail ``+tag`` addresses of one parent's mailbox in 5%. Written for
  homes of 4+ accounts or with a shared tablet or alias emails.
- ``family_card``: two or more household members paying with one card.
- ``office_nat``: 20-500 accounts behind one or two NAT IPs (ordinary ISP ranges).
- ``campus_nat``: 60-3000 students behind 2-4 IPs of one /24; over half of them sign up
  in the semester-start burst (2026-08-24 .. 09-12), many from the campus IPs.
- ``shared_device``: a library kiosk: 10-80 accounts log in on one device and IP.
- ``vpn_exit``: the 4% of users on a commercial VPN, whose exits sit in datacenter /24s
  (the same address space as ring proxies), each exit shared by many users, sometimes
  at sign-up. One group per provider.
- ``power_user``: superfans (0.25% of users) grouped by their favourite creator: heavy
  logged-in traffic (hundreds to thousands of requests an hour, 20-80 windows) but
  narrow (1-12 paths, 1-3 creators), recurring payments at the top tier.
- ``search_crawler`` (entity_type ``ip``): a legitimate search engine bot, 6-24 IPs in
  one well-known /24 with a bot UA, high volume and breadth around the clock but not in
  lockstep.

Mobile carriers put thousands of accounts behind each CGNAT IPv4 and hand out IPv6
addresses from a few hundred /48s; they are background, not written to truth.

Fake-account rings (truth kind ``fake_account``, entity_type ``account``)
-------------------------------------------------------------------------
Each ring has a "stealth" level in [0, 1] that blurs its pattern (longer bursts, more
devices, fewer shared items). Ring members also have ordinary-looking activity: mobile
logins, some browsing, a few payments.

- ``device_farm`` (8-60): many accounts on few devices (3-20 accounts per device), a
  burst of sign-ups within 1-48 hours, one rare old-Android WebView UA of its own,
  residential-proxy or carrier IPs (all different), throwaway emails (many disposable),
  half of them with one of 1-4 shared phone numbers written in different formats.
- ``card_testing`` (10-60): sign-up burst within 0.5-24 hours, then 3-12 payment attempts
  per account within hours, in USD, on 2-6 stolen cards of one or two BINs of one
  (usually foreign) country plus fresh cards of the same BIN, amounts of 0.50-5.99,
  60-90% declined, to 1-3 creators; a few datacenter IPs or residential proxies, 2-4
  shared devices for part of the ring, many disposable emails, few phones.
- ``fake_patrons`` (4-25): self-dealing: accounts created over 1-7 days that pay one or
  two unpopular creators monthly at the same high tier with a few shared cards (about
  one per four members), some disputes; a shared device and a shared home IP for part
  of the ring.
- ``shared_card_only`` (4-15), camouflaged: distinct devices, home IPs, emails, spread
  over weeks; the only link is one (sometimes two) shared card, often foreign, with a
  few more disputes than usual.
- ``subnet_lockstep`` (6-40), camouflaged: no shared device, card or email; each member
  has its own IP in one datacenter or residential-proxy /24, sign-ups at a fixed cadence
  (every 45-400 s, a few seconds of jitter) and logins in lockstep sessions (all members
  within a minute or two, a few seconds apart).
- ``email_alias`` (4-20), camouflaged: Gmail aliases of one mailbox (dots moved,
  ``+tag``s, ``googlemail.com``, mixed case); otherwise distinct devices and IPs, spread
  over 1-3 weeks.

Scraping clusters (truth kind ``scraping``)
-------------------------------------------
- ``logged_in_scraper`` (4-30 accounts; entity_type ``account``): members hold paid
  memberships to 5-40 creators each (picked uniformly, not by popularity, lowest tier),
  use IPs of one datacenter /24 (their own mostly, the ring's pool sometimes) and one UA
  (headless Chrome or a spoofed common browser), and run 3-8 lockstep sessions of
  consecutive windows: every member has a row in 90-100% of the ring's windows, with
  hundreds to thousands of requests per 300 s window (x12 for 3600 s) over 60-95% as
  many paths and tens to hundreds of creators; logins in lockstep too.
- ``logged_out_crawler`` (10-200 IPs; entity_type ``ip``): no account; IPs in one or two
  /24s (datacenter, or residential proxies for stealthy ones), one bot UA, one spoofed
  browser UA or a rotating set of common UAs, lockstep sessions in which a rotating
  30-100% of the IPs is active per window (at most 8,000 rows per cluster).

Requests
--------
One row per (window, client). ``window_s`` is 300 or 3600 (each exporter, i.e. each
account or crawler, keeps one); ``window_start`` is a multiple of ``window_s`` since the
epoch. "Lockstep" means identical ``window_start`` values across the members of a group
(consecutive windows within a session). Logged-in traffic comes from ~7% of ordinary
accounts, the power users and 30% of ring members; logged-out traffic (~0.9 rows per
account) from homes, carriers, travel IPs, and office/campus NATs (aggregated, 12x the
volume, many UAs). About 1.7 rows per account in all.

Labels
------
Per scenario, 50-80% of rings get labels and then only 20-60% of their members, from
``chargeback``, ``investigator`` or ``policy``, days to weeks after sign-up; labels that
would fall after the end are dropped, so late rings are mostly unlabeled. In all about a
fifth of abuse accounts end up labeled ``fraud`` (a quarter to three quarters of the
rings of each scenario have none). About 3% of legitimate accounts carry a ``legit``
label (payers more often); 1.5% of labels are flipped (friendly-fraud chargebacks on
legitimate accounts, investigator mistakes); 4% of labeled accounts also carry an
earlier label, often the opposite verdict (the latest wins; no ties). ``status`` follows
the final label loosely (60% of fraud-labeled accounts suspended, 10% deleted; 2% of
the others deleted, 0.5% suspended).

Realistic mess that stays valid: phones in national and international formats with the
country as hint (a few not normalisable, a few accounts without country), mixed-case
emails, Gmail and Googlemail addresses, disposable domains used by legitimate users too,
IPv6 clients (full, uncompressed notation), some timestamps without ``Z`` (UTC), some
empty optional cells (sign-up IP or device, login device, phone, email, card BIN and
country for wallets, creator for gift purchases). All ids are random-looking
(``a``/``d``/``pm``/``c`` + 12 hex digits, payments ``p`` + 14); every table is shuffled.

Examples
--------
>>> world = generate_world(2_000, np.random.default_rng(7))
>>> sorted(world.tables)
['accounts', 'labels', 'logins', 'payments', 'requests']
>>> len(world.accounts)
2000
>>> sorted(world.truth.scenario.unique())[:3]
['campus_nat', 'card_testing', 'device_farm']
"""

from __future__ import annotations

import gzip
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphs.errors import ConfigError
from ingest.tables import TABLES

__all__ = [
    "ABUSE_SCENARIOS",
    "FILE_FORMATS",
    "LOOKALIKE_SCENARIOS",
    "RING_SIZES",
    "TABLE_COLUMNS",
    "TIMELINE_END",
    "TIMELINE_START",
    "World",
    "generate_world",
    "split_nights",
    "write_world",
]

# ----------------------------------------------------------------------------- constants
_DAY = 86_400
_HOUR = 3_600
_END = int(np.datetime64("2026-11-01T00:00:00", "s").astype(np.int64))
_START = _END - 120 * _DAY
_SEMESTER = (
    int(np.datetime64("2026-08-24T00:00:00", "s").astype(np.int64)),
    int(np.datetime64("2026-09-12T00:00:00", "s").astype(np.int64)),
)
TIMELINE_START = pd.Timestamp(_START, unit="s", tz="UTC")
TIMELINE_END = pd.Timestamp(_END, unit="s", tz="UTC")

#: Columns of every table, exactly as the input format spells them (the validator's).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {name: spec.columns for name, spec in TABLES.items()}
_TRUTH_COLUMNS = ("group_id", "kind", "entity_type", "entity_id", "scenario")
_TIME_COLUMNS = {
    "accounts": "created_at",
    "logins": "ts",
    "payments": "ts",
    "requests": "window_start",
    "labels": "ts",
}
FILE_FORMATS = ("csv", "csv.gz", "parquet")

#: Smallest and largest planted group per abuse scenario (ips for logged_out_crawler).
RING_SIZES: dict[str, tuple[int, int]] = {
    "device_farm": (8, 60),
    "card_testing": (10, 60),
    "fake_patrons": (4, 25),
    "shared_card_only": (4, 15),
    "subnet_lockstep": (6, 40),
    "email_alias": (4, 20),
    "logged_in_scraper": (4, 30),
    "logged_out_crawler": (10, 200),
}
ABUSE_SCENARIOS = tuple(RING_SIZES)
_ACCOUNT_SCENARIOS = ABUSE_SCENARIOS[:-1]
_SCENARIO_WEIGHT = np.array([0.17, 0.13, 0.15, 0.16, 0.14, 0.14, 0.11])
LOOKALIKE_SCENARIOS = (
    "household",
    "family_card",
    "office_nat",
    "campus_nat",
    "shared_device",
    "vpn_exit",
    "power_user",
    "search_crawler",
)

# label policy per scenario: share of rings labeled, member share range, sources, delay (days)
_LABEL_POLICY: dict[str, tuple[float, tuple[float, float], tuple[str, ...], float]] = {
    "device_farm": (0.8, (0.3, 0.6), ("policy", "investigator"), 6.0),
    "card_testing": (0.8, (0.35, 0.6), ("chargeback", "policy"), 10.0),
    "fake_patrons": (0.65, (0.25, 0.5), ("chargeback", "investigator"), 12.0),
    "shared_card_only": (0.6, (0.25, 0.45), ("chargeback", "investigator"), 15.0),
    "subnet_lockstep": (0.5, (0.2, 0.4), ("investigator",), 15.0),
    "email_alias": (0.6, (0.25, 0.45), ("investigator", "policy"), 15.0),
    "logged_in_scraper": (0.6, (0.2, 0.5), ("policy",), 8.0),
}
_SOURCES = ("chargeback", "investigator", "policy")
_STATUSES = ("active", "suspended", "deleted")
_OUTCOMES = ("succeeded", "declined", "refunded", "disputed")

_COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "CA", "AU", "MX", "ES", "IT", "NL", "PL", "JP")
_COUNTRY_P = np.array([30, 8, 7, 5, 8, 8, 4, 3, 5, 4, 4, 3, 3, 4], float)
_COUNTRY_P /= _COUNTRY_P.sum()
_TZ = np.array([-5, 0, 1, 1, -3, 5, -5, 10, -6, 1, 1, 1, 1, 9])
_CURRENCY = ("USD", "GBP", "EUR", "EUR", "BRL", "INR", "CAD", "AUD", "MXN", "EUR", "EUR", "EUR",
             "PLN", "JPY")  # fmt: skip
_CURRENCY_CODES = ("USD", "GBP", "EUR", "BRL", "INR", "CAD", "AUD", "MXN", "PLN", "JPY")
_COUNTRY_CURRENCY = np.array([_CURRENCY_CODES.index(c) for c in _CURRENCY])
_FX = np.array([1, 0.8, 0.92, 5.4, 83, 1.36, 1.5, 18, 4, 150])  # per _CURRENCY_CODES
_TIERS = np.array([3, 5, 8, 10, 25, 50], float)
_TIER_P = np.array([0.15, 0.3, 0.1, 0.25, 0.13, 0.07])

# local hour-of-day activity (index = local hour)
_DIURNAL = np.array(
    [
        2,
        1.2,
        0.8,
        0.5,
        0.4,
        0.5,
        1,
        2,
        3,
        3.5,
        4,
        4.5,
        5,
        5,
        4.5,
        4.5,
        5,
        5.5,
        6.5,
        7.5,
        8,
        7.5,
        6,
        4,
    ]
)
_DIURNAL /= _DIURNAL.sum()

# (calling code, leading digits, national formats, international formats);
# "D" takes the next digit of the national significant number.
_PHONE_PLAN: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "US": ("1", ("212", "213", "305", "312", "404", "415", "512", "617", "646", "702", "718",
                 "917", "206", "303", "510", "619", "214", "469", "773", "832"),
           ("(DDD) DDD-DDDD", "DDD-DDD-DDDD", "DDD.DDD.DDDD", "DDDDDDDDDD"),
           ("+1 DDD DDD DDDD", "+1DDDDDDDDDD", "1-DDD-DDD-DDDD")),
    "CA": ("1", ("416", "604", "514", "403", "613", "647", "778", "905"),
           ("(DDD) DDD-DDDD", "DDD-DDD-DDDD"), ("+1 DDD DDD DDDD", "+1DDDDDDDDDD")),
    "GB": ("44", ("74", "75", "77", "78", "79"), ("0DDDD DDDDDD", "0DDDDDDDDDD"),
           ("+44 DDDD DDDDDD", "+44DDDDDDDDDD", "0044 DDDD DDDDDD")),
    "DE": ("49", ("151", "152", "157", "160", "170", "171", "172", "173", "175", "176", "177"),
           ("0DDD DDDDDDDD", "0DDD-DDDDDDDD", "0DDDDDDDDDDD"),
           ("+49 DDD DDDDDDDD", "+49DDDDDDDDDDD")),
    "FR": ("33", ("6", "73", "75", "76", "77", "78"), ("0D DD DD DD DD", "0DDDDDDDDD"),
           ("+33 D DD DD DD DD", "+33DDDDDDDDD")),
    "BR": ("55", ("119", "219", "319", "419", "519", "619", "719", "819"),
           ("(DD) DDDDD-DDDD", "DD DDDDD-DDDD"), ("+55 DD DDDDD DDDD", "+55DDDDDDDDDDD")),
    "IN": ("91", ("98", "99", "97", "96", "95", "94", "93", "91", "90", "89", "88", "87", "86",
                  "85", "84", "83", "82", "81", "80", "79", "78", "77", "76", "75", "70"),
           ("DDDDD DDDDD", "0DDDDDDDDDD"), ("+91 DDDDD DDDDD", "+91-DDDDDDDDDD")),
    "AU": ("61", ("40", "41", "42", "43", "45", "47", "48", "49"), ("0DDD DDD DDD",),
           ("+61 DDD DDD DDD", "+61DDDDDDDDD")),
    "MX": ("52", ("55", "33", "81", "222", "442", "664"), ("DD DDDD DDDD", "DDDDDDDDDD"),
           ("+52 DD DDDD DDDD",)),
    "ES": ("34", ("6", "71", "72", "73", "74"), ("DDD DD DD DD", "DDD DDD DDD"),
           ("+34 DDD DDD DDD",)),
    "IT": ("39", ("31", "32", "33", "34", "35", "36", "37", "38", "39"), ("DDD DDD DDDD",),
           ("+39 DDD DDD DDDD", "+39DDDDDDDDDD")),
    "NL": ("31", ("61", "62", "63", "64", "65"), ("0D-DDDDDDDD", "0D DDDDDDDD"),
           ("+31 D DDDDDDDD",)),
    "PL": ("48", ("50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"),
           ("DDD DDD DDD", "DDD-DDD-DDD"), ("+48 DDD DDD DDD",)),
    "JP": ("81", ("90", "80", "70"), ("0DD-DDDD-DDDD",), ("+81 DD-DDDD-DDDD", "+81 DD DDDD DDDD")),
}  # fmt: skip
_NSN_LEN = {c: plan[2][0].count("D") for c, plan in _PHONE_PLAN.items()}


def _words(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=object)


_FIRST = _words(
    """james mary john patricia robert jennifer michael linda william elizabeth
david barbara richard susan joseph jessica thomas sarah charles karen daniel nancy matthew lisa
anthony betty mark sandra paul ashley steven kimberly andrew emily joshua donna kevin michelle
brian carol george amanda oliver amelia harry isla jack ava noah mia leon emma paul hannah lukas
lena felix sophie hugo chloe louis camille lucas julia gabriel ana pedro beatriz rafael larissa
arjun priya rohan ananya vikram neha rahul kavya liam olivia ethan chloe diego sofia mateo
valentina carlos lucia javier marta marco giulia luca chiara sem tess daan fleur jakub zuzanna
piotr maja haruto yui sota hina riku aoi"""
)
_LAST = _words("""smith johnson williams brown jones garcia miller davis rodriguez martinez
hernandez lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson
white harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres
nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts evans
turner murphy cook morgan bell cooper muller schmidt schneider fischer weber meyer wagner becker
dubois durand leroy moreau laurent simon michel silva santos oliveira souza lima pereira costa
sharma patel singh kumar gupta reddy iyer tremblay gagnon roy wong chen kelly ryan obrien
hernandez romero navarro ruiz rossi russo ferrari esposito bianchi romano devries jansen bakker
visser kowalski nowak wisniewski wojcik sato suzuki takahashi tanaka watanabe ito""")
_WORDS = _words(
    """blue fox moon star pixel shadow lucky sunny tiger wolf dragon ninja cookie
happy cosmic silver river storm music gamer coffee panda rocket angel dream night golden
velvet frosty crimson urban"""
)
_GLOBAL_DOMAINS = np.array(["gmail.com", "yahoo.com", "outlook.com", "hotmail.com",
    "icloud.com", "aol.com", "proton.me", "googlemail.com", "mail.com", "protonmail.com",
    "live.com", "msn.com"], dtype=object)  # fmt: skip
_GLOBAL_DOMAIN_P = np.array([46, 10, 9, 9, 8, 2, 3, 1.5, 1.5, 1, 3, 1], float)
_GLOBAL_DOMAIN_P /= _GLOBAL_DOMAIN_P.sum()
_COUNTRY_DOMAINS = {
    "US": ("comcast.net", "att.net", "verizon.net"), "GB": ("btinternet.com", "sky.com"),
    "DE": ("gmx.de", "web.de", "t-online.de"), "FR": ("orange.fr", "free.fr", "laposte.net"),
    "BR": ("uol.com.br", "bol.com.br"), "IN": ("yahoo.co.in", "rediffmail.com"),
    "CA": ("shaw.ca", "rogers.com"), "AU": ("bigpond.com", "optusnet.com.au"),
    "MX": ("prodigy.net.mx", "yahoo.com.mx"), "ES": ("telefonica.net", "yahoo.es"),
    "IT": ("libero.it", "virgilio.it"), "NL": ("ziggo.nl", "kpnmail.nl"),
    "PL": ("wp.pl", "onet.pl", "o2.pl"), "JP": ("yahoo.co.jp", "docomo.ne.jp"),
}  # fmt: skip
_DISPOSABLE = _words("""mailinator.com guerrillamail.com yopmail.com 10minutemail.com
temp-mail.org sharklasers.com dispostable.com""")

# first octets of the simulated address space; disjoint, free of private and reserved ranges
_RESIDENTIAL_OCTETS = (24, 47, 50, 65, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80,
    81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 108, 109, 112,
    113, 114, 115, 116, 117, 118, 119, 121, 122, 123, 124, 151, 171, 173, 174, 175, 176, 177,
    179, 180, 181, 182, 183, 186, 187, 189, 190, 191, 200, 201)  # fmt: skip
_DATACENTER_OCTETS = (5, 23, 31, 37, 45, 46, 51, 52, 54, 62, 64, 104, 107, 128, 134, 135, 136,
    137, 138, 139, 141, 142, 143, 144, 145, 146, 147, 149, 152, 154, 155, 156, 158, 159, 161,
    162, 164, 165, 167, 168, 170, 178, 185, 188, 193, 194, 195, 204, 205, 206, 207, 209, 212,
    213, 216, 217)  # fmt: skip
_MOBILE_OCTETS = (39, 42, 49, 58, 59, 60, 61, 101, 102, 106, 110, 111, 153, 160, 163, 166)
_V6_REGION = {"US": (0x2600, 0x2601, 0x2603), "CA": (0x2607,), "BR": (0x2804,),
              "MX": (0x2806,), "IN": (0x2405, 0x2409), "JP": (0x2400,),
              "AU": (0x2403,)}  # fmt: skip
_V6_EU = (0x2A00, 0x2A01, 0x2A02)
_SEARCH_BOT_SUBNETS = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", (66, 249, 66)),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", (40, 77, 167)),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", (157, 55, 39)),
)

# six card issuers per country: Visa (4...) and Mastercard (51-55...), a third 8-digit;
# a constant table, the same in every world
_ISSUER_BINS = np.where(
    np.arange(6) < 4,
    np.where(np.arange(6) % 2 == 0, 400_000, 510_000)
    + np.random.default_rng(20261101).integers(0, 50_000, (len(_COUNTRIES), 6)),
    np.random.default_rng(20261102).integers(40_000_000, 55_999_999, (len(_COUNTRIES), 6)),
)

# login channels of legitimate accounts
_HOME, _MOBILE, _OFFICE, _CAMPUS, _VPN, _KIOSK, _TRAVEL = range(7)


_IPAD_UA = (
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1"
)


def _ua_catalog() -> tuple[list[str], np.ndarray]:
    """Common user agents with popularity weights, then a long tail of old ones."""
    win = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
    agents: list[tuple[str, float]] = []
    for v, w in ((130, 8), (129, 6), (128, 3), (127, 1.5)):
        agents += [
            (f"{win} Chrome/{v}.0.0.0 Safari/537.36", w),
            (f"{mac} AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36", w / 3),
            (f"{win} Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0", w / 4),
            (
                f"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{v}.0.0.0 Mobile Safari/537.36",
                w * 1.2,
            ),
        ]
    for ios, w in (("18_1", 7), ("18_0", 5), ("17_6_1", 4), ("17_5", 1.5), ("16_7_10", 1)):
        ver = ios.replace("_", ".")[:4].rstrip(".")
        agents.append(
            (
                f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 "
                f"(KHTML, like Gecko) Version/{ver} Mobile/15E148 Safari/604.1",
                w,
            )
        )
    for v, w in ((131, 2), (130, 1.5), (128, 1)):
        agents.append(
            (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", w)
        )
    agents += [
        (f"{mac} AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15", 3),
        (f"{mac} AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15", 2),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            2,
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36",
            1,
        ),
        ("CreatorHub/6.4.1 (iPhone15,2; iOS 18.0.1; Scale/3.00)", 5),
        ("CreatorHub/6.4.0 (iPhone14,5; iOS 17.6.1; Scale/3.00)", 2),
        ("CreatorHub/6.4.1 (Linux; Android 14; SM-A546B)", 3),
        ("CreatorHub/6.3.9 (Linux; Android 13; Pixel 7)", 1.5),
        (
            _IPAD_UA,
            1.5,
        ),
    ]
    tail: list[tuple[str, float]] = []
    for v in range(100, 127):
        tail.append((f"{win} Chrome/{v}.0.0.0 Safari/537.36", 0.05))
        tail.append(
            (
                f"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{v}.0.0.0 Mobile Safari/537.36",
                0.05,
            )
        )
    for i, model in enumerate(
        (
            "SM-A515F",
            "Redmi Note 8 Pro",
            "moto g(7)",
            "SM-J730G",
            "CPH1909",
            "M2006C3LG",
            "SM-A107M",
            "LM-K200",
            "Nokia 2.3",
            "TECNO KE5",
        )
    ):
        tail.append((_webview_ua(f"{9 + i % 3}", model, f"QP1A.{190711 + i}.020", 90 + i), 0.04))
    strings = [a for a, _ in agents + tail]
    weights = np.array([w for _, w in agents + tail])
    return strings, weights / weights.sum()


def _webview_ua(android: str, model: str, build: str, chrome: int) -> str:
    return (
        f"Mozilla/5.0 (Linux; Android {android}; {model} Build/{build}; wv) AppleWebKit/537.36 "
        f"(KHTML, like Gecko) Version/4.0 Chrome/{chrome}.0.{3000 + chrome * 7}.{chrome % 90} "
        "Mobile Safari/537.36"
    )


_FARM_MODELS = (
    "SM-G955N",
    "vivo 1606",
    "Redmi 4A",
    "OPPO A37f",
    "SM-J700F",
    "Lenovo K33a42",
    "ASUS_X00TD",
    "Moto G (5)",
    "LDN-L21",
    "SM-G610F",
    "HM NOTE 1LTE",
    "A1601",
    "SM-N950N",
    "MI MAX 2",
    "vivo Y53",
    "SM-G930K",
)
_BOT_UAS = (
    "python-requests/2.31.0",
    "python-requests/2.28.2",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "Go-http-client/1.1",
    "curl/8.5.0",
    "axios/1.7.7",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/129.0.6668.58 Safari/537.36",
)


# --------------------------------------------------------------------- vector helpers
def _log_uniform_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, math.floor(math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))))))


def _unique_draws(rng: np.random.Generator, n: int, bits: int) -> np.ndarray:
    vals = rng.integers(0, 1 << bits, n, dtype=np.uint64)
    while True:
        _, first = np.unique(vals, return_index=True)
        if first.size == n:
            return vals
        again = np.ones(n, bool)
        again[first] = False
        vals[again] = rng.integers(0, 1 << bits, int(again.sum()), dtype=np.uint64)


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _hex_ids(rng: np.random.Generator, prefix: str, n: int, nbytes: int = 6) -> pa.Array:
    """``n`` distinct random ids: ``prefix`` + ``2 * nbytes`` lowercase hex digits."""
    raw = _unique_draws(rng, n, 8 * nbytes).astype(">u8").view(np.uint8).reshape(n, 8)
    raw = raw[:, 8 - nbytes :]
    width = len(prefix) + 2 * nbytes
    out = np.empty((n, width), np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix.encode(), np.uint8)
    out[:, len(prefix) :: 2] = _HEX[raw >> 4]
    out[:, len(prefix) + 1 :: 2] = _HEX[raw & 15]
    return _flat(pa.array(out.view(f"S{width}").ravel())).cast(pa.string())


def _ipv4_strings(ints: np.ndarray) -> pa.Array:
    ints = ints.astype(np.uint64)
    parts = [pa.array((ints >> s) & 255).cast(pa.string()) for s in (24, 16, 8, 0)]
    return _flat(pc.binary_join_element_wise(*parts, "."))


def _ipv6_strings(hi: np.ndarray, lo: np.ndarray) -> pa.Array:
    raw = np.stack([hi, lo], axis=1).astype(">u8").view(np.uint8).reshape(-1, 16)
    out = np.full((raw.shape[0], 39), ord(":"), np.uint8)
    for k in range(8):  # group k = bytes 2k, 2k+1 -> 4 hex digits at 5k
        a, b = raw[:, 2 * k], raw[:, 2 * k + 1]
        out[:, 5 * k], out[:, 5 * k + 1] = _HEX[a >> 4], _HEX[a & 15]
        out[:, 5 * k + 2], out[:, 5 * k + 3] = _HEX[b >> 4], _HEX[b & 15]
    return _flat(pa.array(out.view("S39").ravel())).cast(pa.string())


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (pyarrow chunks big conversions)."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _take(strings: pa.Array, idx: np.ndarray) -> pa.Array:
    """``strings[idx]`` with null where ``idx < 0``."""
    return strings.take(pa.array(idx, type=pa.int64(), mask=idx < 0))


def _diurnal_times(
    rng: np.random.Generator, lo: np.ndarray, country: np.ndarray, hi: np.ndarray | int = _END
) -> np.ndarray:
    """Random times in ``[lo, hi)`` that follow the local day rhythm of ``country``."""
    lo = np.asarray(lo, np.int64)
    hi = np.broadcast_to(np.asarray(hi, np.int64), lo.shape)
    m = lo.size
    day0 = lo // _DAY
    ndays = np.maximum((hi - 1) // _DAY - day0 + 1, 1)
    day = day0 + (rng.random(m) * ndays).astype(np.int64)
    hour = rng.choice(24, m, p=_DIURNAL)
    t = day * _DAY + ((hour - _TZ[country]) % 24) * _HOUR + rng.integers(0, _HOUR, m)
    bad = (t < lo) | (t >= hi)
    t[bad] = lo[bad] + (rng.random(int(bad.sum())) * (hi[bad] - lo[bad])).astype(np.int64)
    return t


def _fill_template(template: str, digits: np.ndarray) -> np.ndarray:
    tb = np.frombuffer(template.encode(), np.uint8)
    slots = np.flatnonzero(tb == ord("D"))
    buf = np.tile(tb, (digits.shape[0], 1))
    buf[:, slots] = digits[:, : slots.size]
    return buf.view(f"S{tb.size}").ravel().astype(str).astype(object)


def _nsn(rng: np.random.Generator, code: str, m: int) -> np.ndarray:
    """National significant numbers (ascii digit rows) of plausible mobile numbers."""
    leads = _PHONE_PLAN[code][1]
    length = _NSN_LEN[code]
    digits = rng.integers(48, 58, (m, length)).astype(np.uint8)
    lead = rng.integers(0, len(leads), m)
    for i, prefix in enumerate(leads):
        rows = lead == i
        digits[np.ix_(rows, np.arange(len(prefix)))] = np.frombuffer(prefix.encode(), np.uint8)
    if _PHONE_PLAN[code][0] == "1":  # NANP exchange codes start with 2-9
        digits[:, 3] = rng.integers(ord("2"), ord("9") + 1, m)
    return digits


def _phones(
    rng: np.random.Generator, country: np.ndarray, nsn: np.ndarray | None = None
) -> np.ndarray:
    """Phone numbers as people type them: national or international formats, a few junk."""
    out = np.empty(country.size, object)
    for c, code in enumerate(_COUNTRIES):
        rows = np.flatnonzero(country == c)
        if rows.size == 0:
            continue
        _, _, national, international = _PHONE_PLAN[code]
        digits = nsn[rows] if nsn is not None else _nsn(rng, code, rows.size)
        templates = national + international
        weights = np.r_[
            np.full(len(national), 0.6 / len(national)),
            np.full(len(international), 0.4 / len(international)),
        ]
        pick = rng.choice(len(templates), rows.size, p=weights)
        for t, template in enumerate(templates):
            sel = np.flatnonzero(pick == t)
            if sel.size:
                out[rows[sel]] = _fill_template(template, digits[sel])
    junk = np.flatnonzero(rng.random(country.size) < 0.01)  # too short to normalise
    out[junk] = (
        pa.array(rng.integers(10_000, 9_999_999, junk.size))
        .cast(pa.string())
        .to_numpy(zero_copy_only=False)
    )
    return out


def _email_locals(rng: np.random.Generator, m: int) -> pa.Array:
    first, last = pa.array(rng.choice(_FIRST, m)), pa.array(rng.choice(_LAST, m))
    d2 = pa.array(rng.integers(1, 100, m)).cast(pa.string())
    year = pa.array(rng.integers(1962, 2010, m)).cast(pa.string())
    w1, w2 = pa.array(rng.choice(_WORDS, m)), pa.array(rng.choice(_WORDS, m))
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    join = pc.binary_join_element_wise
    styles = [
        join(first, last, "."),
        join(first, last, d2, ""),
        join(initial, last, d2, ""),
        join(first, last, "_"),
        join(first, year, ""),
        join(w1, w2, d2, ""),
        join(last, first, "."),
        join(first, last, year, ""),
        join(initial, last, "."),
    ]
    p = np.array([0.12, 0.16, 0.14, 0.06, 0.12, 0.1, 0.05, 0.15, 0.1])
    return pc.choose(pa.array(rng.choice(len(styles), m, p=p).astype(np.int8)), *styles)


def _email_domains(
    rng: np.random.Generator, country: np.ndarray, disposable: np.ndarray
) -> np.ndarray:
    m = country.size
    domain = rng.choice(_GLOBAL_DOMAINS, m, p=_GLOBAL_DOMAIN_P)
    local = rng.random(m) < 0.24
    for c, code in enumerate(_COUNTRIES):
        rows = np.flatnonzero(local & (country == c))
        domain[rows] = rng.choice(np.array(_COUNTRY_DOMAINS[code], object), rows.size)
    junk = rng.random(m) < disposable
    domain[junk] = rng.choice(_DISPOSABLE, int(junk.sum()))
    return domain


def _emails(
    rng: np.random.Generator,
    country: np.ndarray,
    disposable: np.ndarray,
    locals_: pa.Array | None = None,
) -> np.ndarray:
    """Email addresses as typed: mostly lower case, some capitalised, a few shouted;
    ``disposable`` is each address's chance of a throwaway domain."""
    m = country.size
    local = _email_locals(rng, m) if locals_ is None else locals_
    domain = pa.array(_email_domains(rng, country, disposable), pa.string())
    plain = pc.binary_join_element_wise(local, domain, "@")
    capital = pc.binary_join_element_wise(
        pc.utf8_capitalize(local), pc.utf8_capitalize(domain), "@"
    )
    u = rng.random(m)
    case = (u < 0.05).astype(np.int8) + (u < 0.01)
    mixed = pc.choose(pa.array(case), plain, capital, pc.utf8_upper(plain))
    return mixed.to_numpy(zero_copy_only=False)


def _contacts(b: _Builder, rng: np.random.Generator) -> None:
    """Emails and phones of every account that its scenario did not write itself."""
    todo = np.flatnonzero(pd.isna(b.email))
    b.email[todo] = _emails(rng, b.country[todo], b.disposable[todo])
    todo = np.flatnonzero(pd.isna(b.phone) & (rng.random(b.n) < b.phone_share))
    b.phone[todo] = _phones(rng, b.country[todo])


def _canonical_emails(emails: np.ndarray) -> pd.Series:
    """Mailbox key used to keep unplanned accounts from sharing a mailbox by accident."""
    arr = pa.array(emails, pa.string())
    parts = pc.split_pattern(pc.utf8_lower(arr), "@", max_splits=1)
    local = pc.replace_substring(
        pc.replace_substring_regex(pc.list_element(parts, 0), r"\+.*$", ""), ".", ""
    )
    domain = pc.replace_substring(pc.list_element(parts, 1), "googlemail.com", "gmail.com")
    return pd.Series(pc.binary_join_element_wise(local, domain, "@").to_numpy(zero_copy_only=False))


# -------------------------------------------------------------------------- the builder
class _Builder:
    """Accumulates the world as integer-coded arrays; strings are made once at the end.

    Accounts, devices, cards, creators, IPs and user agents are integer indices here;
    event tables are lists of column chunks. ``assemble`` turns it into :class:`World`.
    """

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.n = n
        self.created = np.zeros(n, np.int64)
        self.country = np.zeros(n, np.int64)
        self.email = np.full(n, None, object)
        self.phone = np.full(n, None, object)
        self.signup_ip = np.full(n, -1, np.int64)
        self.signup_dev = np.full(n, -1, np.int64)
        self.alias_email = np.zeros(n, bool)  # planted shared mailboxes: keep as they are
        # emails and phones are made in one pass at the end, from these per-account odds
        self.phone_share = np.full(n, 0.55)
        self.disposable = np.full(n, 0.01)
        self.camouflaged: list[tuple[np.ndarray, np.ndarray]] = []
        self.uas, self.ua_p = _ua_catalog()
        self.n_common_uas = len(self.uas)
        self._ips: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.n_ips = 0
        self._dev_ua: list[np.ndarray] = []
        self.n_devices = 0
        self._cards: list[tuple[np.ndarray, np.ndarray]] = []
        self.n_cards = 0
        self.n_creators = max(40, n // 150)
        rank = np.arange(1, self.n_creators + 1, dtype=float)
        self.creator_p = rank**-1.05 / (rank**-1.05).sum()
        self.events: dict[str, list[dict[str, np.ndarray]]] = {
            t: [] for t in ("logins", "payments", "requests", "labels")
        }
        self.truth: list[tuple[str, str, str, np.ndarray, np.ndarray]] = []
        self.rings: list[tuple[str, np.ndarray]] = []
        self.family_card_users = np.zeros(0, np.int64)
        self.family_card_homes = np.zeros(0, np.int64)
        self.final_label = np.full(n, -1, np.int64)
        self._networks(rng)

    # ---- address space
    def _networks(self, rng: np.random.Generator) -> None:
        nc = len(_COUNTRIES)
        n_blocks = 30 + self.n // 2000
        first = rng.choice(_RESIDENTIAL_OCTETS, n_blocks)
        blocks = (first.astype(np.int64) << 24) | (rng.integers(0, 256, n_blocks) << 16)
        owner = np.r_[np.arange(nc), rng.choice(nc, n_blocks - nc, p=_COUNTRY_P)]
        order = np.argsort(owner, kind="stable")
        self.res_blocks = blocks[order]
        self.res_block_start = np.searchsorted(owner[order], np.arange(nc))
        self.res_block_n = np.bincount(owner, minlength=nc)
        self.v6_prefix = np.array(
            [
                [
                    (rng.choice(_V6_REGION.get(code, _V6_EU)) << 16) | int(rng.integers(0, 1 << 16))
                    for _ in range(3)
                ]
                for code in _COUNTRIES
            ],
            np.uint64,
        )
        dc_first = rng.choice(_DATACENTER_OCTETS, 48)
        dc_blocks = (dc_first.astype(np.int64) << 24) | (rng.integers(0, 256, 48) << 16)
        self._dc24 = list(rng.permutation((dc_blocks[:, None] + (np.arange(256) << 8)).ravel()))
        self._res24 = list(
            rng.permutation((self.res_blocks[:, None] + (np.arange(256) << 8)).ravel())[:20_000]
        )
        # two mobile carriers per country: CGNAT IPv4 pools and IPv6 /32s
        weight = np.repeat(_COUNTRY_P / 2, 2)
        pool = np.maximum(4, np.ceil(self.n * weight * 0.65 * 1.4 / 2500)).astype(np.int64)
        mob_first = rng.choice(_MOBILE_OCTETS, 2 * nc)
        base = (mob_first.astype(np.int64) << 24) | (rng.integers(0, 256, 2 * nc) << 16)
        self.carrier_ip0 = np.empty(2 * nc, np.int64)
        for k in range(2 * nc):
            hosts = base[k] + rng.choice(1 << 12, pool[k], replace=pool[k] > 1 << 12)
            self.carrier_ip0[k] = self.add_v4(hosts)[0]
        self.carrier_nip = pool
        self.carrier_v6 = np.array(
            [
                (rng.choice(_V6_REGION.get(_COUNTRIES[k // 2], _V6_EU)) << 16)
                | int(rng.integers(0, 1 << 16))
                for k in range(2 * nc)
            ],
            np.uint64,
        )

    def take_subnet(self, datacenter: bool) -> int:
        """A fresh /24 (as its base address) that no other planted group uses."""
        return int((self._dc24 if datacenter else self._res24).pop())

    def add_v4(self, ints: np.ndarray) -> np.ndarray:
        ints = np.asarray(ints, np.uint64)
        return self._add_ip(np.zeros(ints.size, np.uint64), ints, np.zeros(ints.size, bool))

    def add_v6(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        return self._add_ip(hi.astype(np.uint64), lo.astype(np.uint64), np.ones(hi.size, bool))

    def _add_ip(self, hi: np.ndarray, lo: np.ndarray, v6: np.ndarray) -> np.ndarray:
        self._ips.append((hi, lo, v6))
        idx = np.arange(self.n_ips, self.n_ips + hi.size, dtype=np.int64)
        self.n_ips += hi.size
        return idx

    def residential_ips(self, rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        """Fresh home-broadband IPv4 addresses in each row's country."""
        start, count = self.res_block_start[country], self.res_block_n[country]
        block = self.res_blocks[start + (rng.random(country.size) * count).astype(np.int64)]
        host = (rng.integers(0, 256, country.size) << 8) | rng.integers(1, 255, country.size)
        return self.add_v4(block | host)

    def residential_v6(self, rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        prefix = self.v6_prefix[country, rng.integers(0, 3, country.size)]
        hi = (prefix << np.uint64(32)) | rng.integers(0, 1 << 32, country.size, dtype=np.uint64)
        return self.add_v6(hi, rng.integers(0, 1 << 63, country.size, dtype=np.uint64) * 2 + 1)

    def mobile_ips(self, rng: np.random.Generator, carrier: np.ndarray) -> np.ndarray:
        """Carrier addresses: a shared CGNAT IPv4, or an IPv6 in one of 256 /48s."""
        m = carrier.size
        ip = self.carrier_ip0[carrier] + (rng.random(m) * self.carrier_nip[carrier]).astype(int)
        v6 = np.flatnonzero(rng.random(m) < 0.35)
        if v6.size:
            slash48 = rng.integers(0, 256, v6.size, dtype=np.uint64) << np.uint64(16)
            hi = (self.carrier_v6[carrier[v6]] << np.uint64(32)) | slash48
            hi |= rng.integers(0, 1 << 16, v6.size, dtype=np.uint64)
            lo = rng.integers(0, 1 << 63, v6.size, dtype=np.uint64) * 2 + 1
            ip[v6] = self.add_v6(hi, lo)
        return ip

    def subnet_hosts(self, rng: np.random.Generator, subnet: int, k: int) -> np.ndarray:
        hosts = rng.choice(np.arange(2, 255), min(k, 253), replace=False)
        if k > 253:
            hosts = np.r_[hosts, rng.integers(2, 255, k - 253)]
        return self.add_v4(subnet + hosts)

    # ---- devices, cards, user agents
    def new_devices(self, ua: np.ndarray) -> np.ndarray:
        ua = np.asarray(ua, np.int64)
        self._dev_ua.append(ua)
        idx = np.arange(self.n_devices, self.n_devices + ua.size, dtype=np.int64)
        self.n_devices += ua.size
        return idx

    def common_uas(self, rng: np.random.Generator, m: int) -> np.ndarray:
        return rng.choice(self.n_common_uas, m, p=self.ua_p)

    def ua_index(self, ua: str) -> int:
        """Index of a user agent, added to the catalog if new."""
        if ua not in self.uas:
            self.uas.append(ua)
        return self.uas.index(ua)

    def new_cards(
        self,
        rng: np.random.Generator,
        country: np.ndarray,
        bins: np.ndarray | None = None,
        wallets: float = 0.1,
    ) -> np.ndarray:
        """Payment methods: card BINs (6 or 8 digits, country-coded) or BIN-less wallets."""
        m = country.size
        if bins is None:
            bins = self.country_bins(rng, country)
        bins = np.where(rng.random(m) < wallets, -1, bins)
        card_country = np.where(bins < 0, -1, country)
        self._cards.append((bins.astype(np.int64), card_country.astype(np.int64)))
        idx = np.arange(self.n_cards, self.n_cards + m, dtype=np.int64)
        self.n_cards += m
        return idx

    @staticmethod
    def country_bins(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        """BIN of one of the six issuers of each country (a third with 8-digit BINs)."""
        return _ISSUER_BINS[country, rng.integers(0, 6, country.size)]

    # ---- events
    def add(self, table: str, **cols: np.ndarray) -> None:
        if "ts" in cols:  # nothing happens after the end of the timeline
            keep = cols["ts"] < _END
            cols = {k: v[keep] for k, v in cols.items()}
        self.events[table].append(cols)

    def event_accounts(self, table: str) -> np.ndarray:
        return np.concatenate([c["account"] for c in self.events[table]])

    def add_logins(
        self,
        rng: np.random.Generator,
        account: np.ndarray,
        ts: np.ndarray,
        ip: np.ndarray,
        device: np.ndarray,
        fail: float = 0.03,
    ) -> None:
        device = np.asarray(device, np.int64)
        self.add(
            "logins",
            account=np.asarray(account, np.int64),
            ts=np.asarray(ts, np.int64),
            ip=np.asarray(ip, np.int64),
            device=device,
            ua=np.full(device.size, -2, np.int64),  # -2: the device's own user agent
            success=rng.random(device.size) >= fail,
        )

    def add_payments(
        self,
        account: np.ndarray,
        ts: np.ndarray,
        card: np.ndarray,
        amount: np.ndarray,
        outcome: np.ndarray,
        creator: np.ndarray,
        currency: np.ndarray | None = None,
    ) -> None:
        account = np.asarray(account, np.int64)
        if currency is None:
            currency = _COUNTRY_CURRENCY[self.country[account]]
        self.add(
            "payments",
            account=account,
            ts=np.asarray(ts, np.int64),
            card=np.asarray(card, np.int64),
            amount=np.round(np.asarray(amount, float), 2),
            currency=np.asarray(currency, np.int64),
            outcome=np.asarray(outcome, np.int64),
            creator=np.asarray(creator, np.int64),
        )

    def add_requests(self, **cols: np.ndarray) -> None:
        """Request rows; ``t`` is any time inside the window (aligned here)."""
        ws = np.asarray(cols.pop("window_s"), np.int64)
        t = np.asarray(cols.pop("t"), np.int64)
        lo = np.asarray(cols.pop("not_before", _START), np.int64)
        start = t // ws * ws
        start = np.where(start < lo, start + ws * -(-(lo - start) // ws), start)
        n_req = np.maximum(np.asarray(cols.pop("n_requests"), np.int64), 1)
        n_paths = np.clip(np.asarray(cols.pop("n_paths"), np.int64), 1, n_req)
        n_creators = np.clip(np.asarray(cols.pop("n_creators"), np.int64), 0, n_paths)
        m = start.size
        rows = {
            "window_start": start,
            "window_s": np.broadcast_to(ws, m).copy(),
            "n_requests": n_req,
            "n_paths": n_paths,
            "n_creators": np.minimum(n_creators, self.n_creators),
        }
        for key in ("ip", "ua", "device", "account"):
            rows[key] = np.broadcast_to(np.asarray(cols.pop(key, -1), np.int64), m).copy()
        keep = start < _END
        self.add("requests", **{k: v[keep] for k, v in rows.items()})

    def add_truth(
        self, kind: str, scenario: str, entity_type: str, group: np.ndarray, members: np.ndarray
    ) -> None:
        """Members of planted groups; ``group`` numbers them within ``scenario``."""
        group = np.broadcast_to(np.asarray(group, np.int64), np.shape(members))
        self.truth.append((kind, scenario, entity_type, group, np.asarray(members, np.int64)))

    @staticmethod
    def tier_price(currency: np.ndarray, tier: np.ndarray) -> np.ndarray:
        """Membership prices in local currency: 4.99-style below 2 per USD, round above."""
        fx = _FX[currency]
        local = _TIERS[tier] * fx
        price = np.where(
            fx >= 100, np.round(local, -2), np.where(fx >= 50, np.round(local, -1), np.round(local))
        )
        return np.where((fx < 2) & (_TIERS[tier] >= 5), price - 0.01, price)


# ---------------------------------------------------------------- legitimate background
@dataclass
class _Profiles:
    """Per-position attributes of the legitimate accounts (position p is ``accounts[p]``)."""

    accounts: np.ndarray
    country: np.ndarray
    created: np.ndarray
    hh: np.ndarray
    hh_ip: np.ndarray  # (households, 2)
    hh_dev: np.ndarray
    dev0: np.ndarray
    ndev: np.ndarray
    carrier: np.ndarray
    office: np.ndarray
    office_ip: np.ndarray  # (offices, 2): first ip index, count
    campus: np.ndarray
    campus_ip: np.ndarray
    vpn: np.ndarray
    vpn_ip: np.ndarray
    kiosk: np.ndarray
    kiosk_ip: np.ndarray
    kiosk_dev: np.ndarray
    weights: np.ndarray  # (positions, channels)


def _group_sizes(
    rng: np.random.Generator, total: int, draw: Callable[[int], np.ndarray]
) -> np.ndarray:
    """Split ``total`` members into groups whose sizes come from ``draw``."""
    sizes = np.zeros(0, np.int64)
    while sizes.sum() < total:
        sizes = np.r_[sizes, draw(max(8, total // 8))]
    cut = int(np.searchsorted(np.cumsum(sizes), total)) + 1
    sizes = sizes[:cut].copy()
    sizes[-1] -= sizes.sum() - total
    return sizes[sizes > 0]


def _assign_groups(
    rng: np.random.Generator, pool: np.ndarray, share: float, draw: Callable[[int], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``share`` of ``pool`` and cut it into groups; return (group per pool pos, sizes)."""
    chosen = pool[rng.random(pool.size) < share]
    group = np.full(pool.max(initial=-1) + 1, -1, np.int64)
    if chosen.size == 0:
        return group, np.zeros(0, np.int64)
    sizes = _group_sizes(rng, chosen.size, draw)
    group[rng.permutation(chosen)] = np.repeat(np.arange(sizes.size), sizes)
    return group, sizes


def _legit_created(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    days = np.arange(120)
    weight = (1 + 0.6 * days / 120) * np.where((days + 5) % 7 >= 5, 1.15, 1.0)  # growth, weekends
    day = rng.choice(120, country.size, p=weight / weight.sum())
    lo = _START + day * _DAY
    return _diurnal_times(rng, lo, country, lo + _DAY)


def _background(b: _Builder, rng: np.random.Generator, accounts: np.ndarray) -> _Profiles:
    n = accounts.size
    positions = np.arange(n)
    sizes = _group_sizes(
        rng,
        n,
        lambda k: rng.choice(np.arange(1, 8), k, p=[0.75, 0.16, 0.06, 0.02, 0.007, 0.0025, 0.0005]),
    )
    households = sizes.size
    hh = np.repeat(np.arange(households), sizes)
    country = rng.choice(len(_COUNTRIES), households, p=_COUNTRY_P)[hh]
    # creation: heads anywhere, a third of families sign up together within hours
    created = _legit_created(rng, country)
    head = np.cumsum(sizes) - sizes
    together = (sizes > 1) & (rng.random(households) < 0.35)
    follow = together[hh] & (positions != head[hh])
    created[follow] = np.minimum(
        created[head[hh[follow]]] + rng.exponential(1.5 * _HOUR, int(follow.sum())).astype(int),
        _END - 60,
    )
    # home addresses (15% IPv6), a second one after an ISP change in 30% of homes
    hh_country = country[head]
    v6 = rng.random(households) < 0.15
    hh_ip = np.empty((households, 2), np.int64)
    for col in range(2):
        ip = np.empty(households, np.int64)
        ip[~v6] = b.residential_ips(rng, hh_country[~v6])
        ip[v6] = b.residential_v6(rng, hh_country[v6])
        hh_ip[:, col] = ip
    same = rng.random(households) >= 0.3
    hh_ip[same, 1] = hh_ip[same, 0]
    # devices: 1-3 mostly; a shared family tablet in 15% of multi-member homes
    ndev = rng.choice([1, 2, 3, 4, 5, 6, 8], n, p=[0.5, 0.3, 0.12, 0.04, 0.02, 0.01, 0.01])
    devices = b.new_devices(b.common_uas(rng, int(ndev.sum())))
    dev0 = devices[0] + (np.cumsum(ndev) - ndev)
    hh_dev = np.full(households, -1, np.int64)
    tablet = np.flatnonzero((sizes > 1) & (rng.random(households) < 0.15))
    hh_dev[tablet] = b.new_devices(np.full(tablet.size, b.uas.index(_IPAD_UA)))

    carrier = np.where(rng.random(n) < 0.65, country * 2 + rng.integers(0, 2, n), -1)
    office, office_sizes = _assign_groups(
        rng,
        positions,
        0.07,
        lambda k: np.clip(rng.lognormal(np.log(70), 0.8, k), 20, 500).astype(int),
    )
    single = positions[sizes[hh] == 1]
    campus, campus_sizes = _assign_groups(
        rng,
        single,
        0.08,
        lambda k: np.clip(rng.lognormal(np.log(350), 0.7, k), 60, 3000).astype(int),
    )
    campus = np.r_[campus, np.full(n - campus.size, -1)]
    vpn_providers = max(2, n // 120_000)
    vpn = np.where(
        rng.random(n) < 0.04,
        rng.choice(vpn_providers, n, p=_zipf(vpn_providers, 1.0)),
        -1,
    )
    kiosk, kiosk_sizes = _assign_groups(rng, positions, 0.006, lambda k: rng.integers(10, 81, k))

    # campus burst: over half of the students sign up at semester start
    student = np.flatnonzero(campus >= 0)
    burst = student[rng.random(student.size) < 0.55]
    created[burst] = _diurnal_times(
        rng, np.full(burst.size, _SEMESTER[0]), country[burst], _SEMESTER[1]
    )

    office_ip = _nat_ranges(b, rng, office_sizes, lambda k: rng.integers(1, 3, k), country, office)
    campus_ip = _nat_ranges(
        b, rng, campus_sizes, lambda k: rng.integers(2, 5, k), country, campus, same24=True
    )
    vpn_ip = np.empty((vpn_providers, 2), np.int64)
    for v in range(vpn_providers):
        exits = np.concatenate(
            [
                b.subnet_hosts(rng, b.take_subnet(True), int(rng.integers(4, 31)))
                for _ in range(int(rng.integers(1, 5)))
            ]
        )
        vpn_ip[v] = exits[0], exits.size  # contiguous: allocated back to back
    kiosk_ip = b.residential_ips(rng, _kiosk_country(country, kiosk, kiosk_sizes.size))
    kiosk_dev = b.new_devices(np.full(kiosk_sizes.size, 0))

    weights = np.zeros((n, 7), np.float32)
    weights[:, _HOME] = np.where(campus >= 0, 0.3, 1.0)
    weights[:, _MOBILE] = np.where(carrier >= 0, rng.uniform(0.3, 1.5, n), 0)
    weights[:, _OFFICE] = np.where(office >= 0, 1.2, 0)
    weights[:, _CAMPUS] = np.where(campus >= 0, 2.0, 0)
    weights[:, _VPN] = np.where(vpn >= 0, rng.uniform(0.3, 1.5, n), 0)
    weights[:, _KIOSK] = np.where(kiosk >= 0, 0.6, 0)
    weights[:, _TRAVEL] = 0.04
    prof = _Profiles(
        accounts,
        country,
        created,
        hh,
        hh_ip,
        hh_dev,
        dev0,
        ndev,
        carrier,
        office,
        office_ip,
        campus,
        campus_ip,
        vpn,
        vpn_ip,
        kiosk,
        kiosk_ip,
        kiosk_dev,
        weights,
    )
    _background_accounts(b, rng, prof, sizes, head, burst)
    return prof


def _zipf(k: int, s: float) -> np.ndarray:
    w = np.arange(1, k + 1, dtype=float) ** -s
    return w / w.sum()


def _kiosk_country(country: np.ndarray, kiosk: np.ndarray, k: int) -> np.ndarray:
    """Country of each kiosk: that of its first user."""
    out = np.zeros(k, np.int64)
    users = np.flatnonzero(kiosk >= 0)
    out[kiosk[users[::-1]]] = country[users[::-1]]
    return out


def _nat_ranges(
    b: _Builder,
    rng: np.random.Generator,
    sizes: np.ndarray,
    n_ips: Callable[[int], np.ndarray],
    country: np.ndarray,
    group: np.ndarray,
    same24: bool = False,
) -> np.ndarray:
    """NAT addresses of offices or campuses: (first ip index, count) per group."""
    out = np.zeros((sizes.size, 2), np.int64)
    counts = n_ips(sizes.size)
    group_country = _kiosk_country(country, group, sizes.size)
    for g in range(sizes.size):
        if same24:
            out[g] = b.subnet_hosts(rng, b.take_subnet(False), int(counts[g]))[0], counts[g]
        else:
            out[g] = b.residential_ips(rng, np.full(counts[g], group_country[g]))[0], counts[g]
    return out


def _background_accounts(
    b: _Builder,
    rng: np.random.Generator,
    prof: _Profiles,
    sizes: np.ndarray,
    head: np.ndarray,
    burst: np.ndarray,
) -> None:
    n = prof.accounts.size
    positions = np.arange(n)
    acc = prof.accounts
    b.created[acc] = prof.created
    b.country[acc] = prof.country
    # a parent's Gmail with +tags for the kids in 5% of families
    alias_homes = np.flatnonzero((sizes > 1) & (rng.random(sizes.size) < 0.05))
    for h in alias_homes:
        members = acc[head[h] : head[h] + sizes[h]]
        base = str(rng.choice(_FIRST)) + str(rng.choice(_LAST)) + str(rng.integers(10, 99))
        tags = [""] + [f"+{rng.choice(_FIRST)}" for _ in range(members.size - 1)]
        b.email[members] = [f"{base}{t}@gmail.com" for t in tags]
        b.alias_email[members] = True
    # sign-up: usually at home (campus burst students on the campus network)
    boost = prof.weights.copy()
    boost[:, _HOME] *= 3
    boost[burst, _CAMPUS] *= 4
    channel = _sample_channels(rng, boost)
    b.signup_ip[acc] = _channel_ips(b, rng, prof, positions, channel)
    b.signup_dev[acc] = _channel_devices(rng, prof, positions, channel)
    _background_logins(b, rng, prof)
    _background_payments(b, rng, prof, sizes)
    _background_requests(b, rng, prof)
    _background_truth(b, prof, sizes, alias_homes)


def _sample_channels(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * cum[:, -1]
    return (cum < u[:, None]).sum(axis=1)


def _pick(rng: np.random.Generator, ranges: np.ndarray) -> np.ndarray:
    return ranges[:, 0] + (rng.random(ranges.shape[0]) * ranges[:, 1]).astype(np.int64)


def _channel_ips(
    b: _Builder, rng: np.random.Generator, prof: _Profiles, pos: np.ndarray, channel: np.ndarray
) -> np.ndarray:
    ip = np.empty(pos.size, np.int64)
    for c in range(7):
        sel = np.flatnonzero(channel == c)
        p = pos[sel]
        if sel.size == 0:
            continue
        if c == _HOME:
            ip[sel] = prof.hh_ip[prof.hh[p], rng.integers(0, 2, sel.size)]
        elif c == _MOBILE:
            ip[sel] = b.mobile_ips(rng, prof.carrier[p])
        elif c == _OFFICE:
            ip[sel] = _pick(rng, prof.office_ip[prof.office[p]])
        elif c == _CAMPUS:
            ip[sel] = _pick(rng, prof.campus_ip[prof.campus[p]])
        elif c == _VPN:
            ip[sel] = _pick(rng, prof.vpn_ip[prof.vpn[p]])
        elif c == _KIOSK:
            ip[sel] = prof.kiosk_ip[prof.kiosk[p]]
        else:
            ip[sel] = b.residential_ips(rng, prof.country[p])
    return ip


def _channel_devices(
    rng: np.random.Generator, prof: _Profiles, pos: np.ndarray, channel: np.ndarray
) -> np.ndarray:
    dev = prof.dev0[pos] + (rng.random(pos.size) * prof.ndev[pos]).astype(np.int64)
    kiosk = channel == _KIOSK
    dev[kiosk] = prof.kiosk_dev[prof.kiosk[pos[kiosk]]]
    family = prof.hh_dev[prof.hh[pos]]
    shared = (channel == _HOME) & (family >= 0) & (rng.random(pos.size) < 0.3)
    dev[shared] = family[shared]
    return dev


def _background_logins(b: _Builder, rng: np.random.Generator, prof: _Profiles) -> None:
    n = prof.accounts.size
    age = (_END - prof.created) / (120 * _DAY)
    mean = 0.5 + 3.5 * age
    count = 1 + np.minimum(rng.negative_binomial(0.7, 0.7 / (0.7 + mean)), 80)
    pos = np.repeat(np.arange(n), count)
    first = np.cumsum(count) - count
    at_signup = np.zeros(pos.size, bool)
    at_signup[first[rng.random(n) < 0.7]] = True
    ts = _diurnal_times(rng, prof.created[pos], prof.country[pos])
    channel = _sample_channels(rng, prof.weights[pos])
    ip = _channel_ips(b, rng, prof, pos, channel)
    dev = _channel_devices(rng, prof, pos, channel)
    acc = prof.accounts[pos]
    s = np.flatnonzero(at_signup)
    ts[s] = np.minimum(prof.created[pos[s]] + rng.integers(10, 600, s.size), _END - 1)
    ip[s] = b.signup_ip[acc[s]]
    dev[s] = b.signup_dev[acc[s]]
    b.add_logins(rng, acc, ts, ip, dev)


def _memberships(
    b: _Builder,
    rng: np.random.Generator,
    account: np.ndarray,
    creator: np.ndarray,
    tier: np.ndarray,
    card: np.ndarray,
    start: np.ndarray,
    outcome_p: tuple[float, float, float, float] = (0.945, 0.035, 0.014, 0.006),
    churn: float = 0.3,
) -> None:
    """Monthly payments from ``start`` until the end (or until the member churns)."""
    keep = start < _END
    account, creator, tier, card, start = (x[keep] for x in (account, creator, tier, card, start))
    months = 1 + (_END - 1 - start) // (30 * _DAY)
    quit_after = np.where(rng.random(start.size) < churn, rng.geometric(0.4, start.size), 99)
    months = np.minimum(months, quit_after)
    row = np.repeat(np.arange(start.size), months)
    k = np.arange(row.size) - np.repeat((np.cumsum(months) - months), months)
    ts = start[row] + k * 30 * _DAY + rng.integers(-3 * _HOUR, 3 * _HOUR, row.size)
    ts = np.clip(ts, start[row], _END - 1)
    acc = account[row]
    in_usd = rng.random(start.size) < 0.04  # some members pay in USD wherever they live
    currency = np.where(in_usd[row], 0, _COUNTRY_CURRENCY[b.country[acc]])
    amount = b.tier_price(currency, tier[row])
    outcome = rng.choice(4, row.size, p=outcome_p)
    b.add_payments(acc, ts, card[row], amount, outcome, creator[row], currency)


def _background_payments(
    b: _Builder, rng: np.random.Generator, prof: _Profiles, sizes: np.ndarray
) -> None:
    n = prof.accounts.size
    payer = rng.random(n) < 0.3
    payers = np.flatnonzero(payer)
    cards = b.new_cards(rng, prof.country[payers])
    second = b.new_cards(rng, prof.country[payers])
    has_second = rng.random(payers.size) < 0.2
    # family card: one card for the household in 12% of multi-member homes
    fam = np.flatnonzero((sizes > 1) & (rng.random(sizes.size) < 0.12))
    fam_card = np.full(sizes.size, -1, np.int64)
    fam_card[fam] = b.new_cards(rng, _kiosk_country(prof.country, prof.hh, sizes.size)[fam])
    on_family = fam_card[prof.hh[payers]] >= 0
    cards = np.where(on_family & (rng.random(payers.size) < 0.8), fam_card[prof.hh[payers]], cards)
    b.family_card_users = prof.accounts[payers[on_family]]
    b.family_card_homes = prof.hh[payers[on_family]]

    n_mem = np.minimum(rng.geometric(0.65, payers.size), 6)
    row = np.repeat(np.arange(payers.size), n_mem)
    creator = rng.choice(b.n_creators, row.size, p=b.creator_p)
    tier = rng.choice(_TIERS.size, row.size, p=_TIER_P)
    card = np.where(has_second[row] & (rng.random(row.size) < 0.3), second[row], cards[row])
    start = prof.created[payers[row]] + rng.exponential(4 * _DAY, row.size).astype(int) + 600
    _memberships(b, rng, prof.accounts[payers[row]], creator, tier, card, start)
    # one-off tips, some to no creator at all (gift cards, platform fees)
    tippers = payers[rng.random(payers.size) < 0.12]
    t_row = np.repeat(tippers, rng.integers(1, 4, tippers.size))
    t_card = cards[np.searchsorted(payers, t_row)]
    creator = np.where(
        rng.random(t_row.size) < 0.1, -1, rng.choice(b.n_creators, t_row.size, p=b.creator_p)
    )
    amount = np.clip(rng.lognormal(2.3, 0.8, t_row.size), 1, 200)
    b.add_payments(
        prof.accounts[t_row],
        _diurnal_times(rng, prof.created[t_row], prof.country[t_row]),
        t_card,
        amount * _FX[_COUNTRY_CURRENCY[prof.country[t_row]]],
        rng.choice(4, t_row.size, p=(0.95, 0.04, 0.008, 0.002)),
        creator,
    )


def _background_requests(b: _Builder, rng: np.random.Generator, prof: _Profiles) -> None:
    n = prof.accounts.size
    # logged-in browsing by a small share of accounts
    browsing = np.flatnonzero(rng.random(n) < 0.07)
    pos = np.repeat(browsing, np.minimum(rng.geometric(0.25, browsing.size), 30))
    _logged_in_windows(b, rng, prof, pos, rng.lognormal(np.log(25), 1.0, pos.size), 0.6, 1.5)
    # power users: superfans of one creator, heavy but narrow
    power = np.flatnonzero(rng.random(n) < 0.0025)
    if power.size == 0:
        power = rng.choice(n, 1)
    favourite = rng.choice(min(30, b.n_creators), power.size)
    pos = np.repeat(power, rng.integers(20, 81, power.size))
    volume = rng.lognormal(np.log(700), 0.6, pos.size)
    _logged_in_windows(b, rng, prof, pos, volume, None, None)
    start = prof.created[power] + rng.integers(600, 3 * _DAY, power.size)
    cards = b.new_cards(rng, prof.country[power], wallets=0)
    _memberships(
        b, rng, prof.accounts[power], favourite, np.full(power.size, 5), cards, start, churn=0.0
    )
    b.add_truth("legit_group", "power_user", "account", favourite, prof.accounts[power])
    _logged_out_background(b, rng, prof)


def _logged_in_windows(
    b: _Builder,
    rng: np.random.Generator,
    prof: _Profiles,
    pos: np.ndarray,
    volume: np.ndarray,
    path_share: float | None,
    creators_mean: float | None,
) -> None:
    """Hourly (or 5-minute) windows of logged-in traffic; ``None`` means narrow traffic."""
    m = pos.size
    short = rng.random(prof.accounts.size) < 0.3  # the account's exporter uses 300 s windows
    ws = np.where(short[pos], 300, 3600)
    volume = np.where(ws == 300, volume / 6, volume)
    if path_share is None:
        paths = rng.integers(1, 13, m)
        creators = rng.integers(1, 4, m)
    else:
        paths = volume * rng.uniform(0.3, 0.9, m)
        creators = rng.poisson(creators_mean, m)
    channel = _sample_channels(rng, prof.weights[pos])
    dev = _channel_devices(rng, prof, pos, channel)
    b.add_requests(
        t=_diurnal_times(rng, prof.created[pos], prof.country[pos]),
        not_before=prof.created[pos],
        window_s=ws,
        ip=_channel_ips(b, rng, prof, pos, channel),
        device=dev,
        account=prof.accounts[pos],
        n_requests=np.round(volume),
        n_paths=np.round(paths),
        n_creators=creators,
    )


def _logged_out_background(b: _Builder, rng: np.random.Generator, prof: _Profiles) -> None:
    """Visitors who are not logged in, and NAT gateways aggregating many of them."""
    n = prof.accounts.size
    m = int(0.9 * n)
    pos = rng.integers(0, n, m)
    source = rng.choice(5, m, p=[0.35, 0.3, 0.2, 0.1, 0.05])
    channel = np.choose(source, [_HOME, _MOBILE, _TRAVEL, _OFFICE, _VPN])
    channel = np.where((channel == _MOBILE) & (prof.carrier[pos] < 0), _HOME, channel)
    nat = channel == _OFFICE
    channel = np.where(nat & (prof.office[pos] < 0) & (prof.campus[pos] >= 0), _CAMPUS, channel)
    channel = np.where(nat & (prof.office[pos] < 0) & (prof.campus[pos] < 0), _HOME, channel)
    channel = np.where((channel == _VPN) & (prof.vpn[pos] < 0), _HOME, channel)
    nat = (channel == _OFFICE) | (channel == _CAMPUS)
    ip = _channel_ips(b, rng, prof, pos, channel)
    device = np.where(
        (channel == _HOME) & (rng.random(m) < 0.25),
        _channel_devices(rng, prof, pos, channel),
        -1,
    )
    ua = b.common_uas(rng, m)
    volume = rng.lognormal(np.log(8), 1.1, m) * np.where(nat, 12, 1)
    ws = np.where(rng.random(m) < 0.3, 300, 3600)
    b.add_requests(
        t=_diurnal_times(rng, np.full(m, _START), prof.country[pos]),
        window_s=ws,
        ip=ip,
        ua=ua,
        device=device,
        n_requests=np.round(np.where(ws == 300, volume / 6, volume)),
        n_paths=np.round(volume * rng.uniform(0.3, 0.9, m)),
        n_creators=rng.poisson(np.where(nat, 8, 1.2)),
    )


def _background_truth(
    b: _Builder, prof: _Profiles, sizes: np.ndarray, alias_homes: np.ndarray
) -> None:
    look = (sizes >= 4) | (prof.hh_dev >= 0)
    look[alias_homes] = True
    members = np.flatnonzero(look[prof.hh])
    b.add_truth("legit_group", "household", "account", prof.hh[members], prof.accounts[members])
    homes, counts = np.unique(b.family_card_homes, return_counts=True)
    shared = np.isin(b.family_card_homes, homes[counts > 1])
    b.add_truth(
        "legit_group",
        "family_card",
        "account",
        b.family_card_homes[shared],
        b.family_card_users[shared],
    )
    for name, group in (
        ("office_nat", prof.office),
        ("campus_nat", prof.campus),
        ("shared_device", prof.kiosk),
        ("vpn_exit", prof.vpn),
    ):
        members = np.flatnonzero(group >= 0)
        b.add_truth("legit_group", name, "account", group[members], prof.accounts[members])


def _search_crawlers(b: _Builder, rng: np.random.Generator) -> None:
    """Legitimate search bots: a known /24, a bot UA, steady 24/7 crawling."""
    for k in range(max(1, min(3, b.n // 300_000 + 1))):
        ua_str, (o1, o2, o3) = _SEARCH_BOT_SUBNETS[k]
        ua = b.ua_index(ua_str)
        ips = b.subnet_hosts(rng, (o1 << 24) | (o2 << 16) | (o3 << 8), int(rng.integers(6, 25)))
        rows = np.repeat(ips, rng.integers(60, 200, ips.size))
        volume = rng.lognormal(np.log(900), 0.4, rows.size)
        b.add_requests(
            t=rng.integers(_START, _END, rows.size),
            window_s=3600,
            ip=rows,
            ua=ua,
            n_requests=np.round(volume),
            n_paths=np.round(volume * rng.uniform(0.8, 0.95, rows.size)),
            n_creators=np.round(rng.lognormal(np.log(150), 0.5, rows.size)),
        )
        b.add_truth("legit_group", "search_crawler", "ip", k, ips)


# ------------------------------------------------------------------------------ rings
@dataclass
class _Ring:
    """What a ring function needs: its accounts, when its campaign starts, how stealthy."""

    accounts: np.ndarray
    start: int
    stealth: float
    country: np.ndarray  # per member


def _ring_countries(rng: np.random.Generator, m: int) -> np.ndarray:
    home = rng.choice(len(_COUNTRIES), p=_COUNTRY_P)
    mixed = rng.random() < 0.25
    other = rng.choice(len(_COUNTRIES), m, p=_COUNTRY_P)
    return np.where(mixed & (rng.random(m) < 0.5), other, home)


def _set_accounts(
    b: _Builder,
    ring: _Ring,
    created: np.ndarray,
    ip: np.ndarray,
    device: np.ndarray,
    email: np.ndarray | None = None,
    phone_share: float = 0.55,
) -> None:
    acc = ring.accounts
    b.created[acc] = np.clip(created, _START, _END - 60)
    b.country[acc] = ring.country
    if email is not None:
        b.email[acc] = email
    b.phone_share[acc] = phone_share
    b.signup_ip[acc] = ip
    b.signup_dev[acc] = device


def _spread(rng: np.random.Generator, ring: _Ring, span: float) -> np.ndarray:
    """Sign-up times over ``span`` seconds from the campaign start, at local daytime."""
    lo = ring.start + np.sort(rng.random(ring.accounts.size) * span).astype(np.int64)
    return _diurnal_times(rng, lo, ring.country, np.minimum(lo + _DAY, _END - 60))


def _later(rng: np.random.Generator, after: np.ndarray, mean: float) -> np.ndarray:
    return after + 60 + rng.exponential(mean, after.size).astype(np.int64)


def _camouflage(b: _Builder, ring: _Ring, devices: np.ndarray) -> None:
    """Give ring members ordinary-looking activity too (made in bulk by ``_ordinary``)."""
    b.camouflaged.append((ring.accounts, devices))


def _ordinary(b: _Builder, rng: np.random.Generator) -> None:
    """Phone logins and a little browsing of ring members, on their own devices."""
    acc, devices = (np.concatenate(x) for x in zip(*b.camouflaged, strict=True))
    country, created = b.country[acc], b.created[acc]
    # like most people, most members log in right after signing up
    first = np.flatnonzero(rng.random(acc.size) < 0.7)
    b.add_logins(
        rng,
        acc[first],
        created[first] + rng.integers(10, 600, first.size),
        b.signup_ip[acc[first]],
        b.signup_dev[acc[first]],
    )
    rows = np.repeat(np.arange(acc.size), rng.integers(0, 4, acc.size))
    carrier = country[rows] * 2 + rng.integers(0, 2, rows.size)
    ts = _diurnal_times(rng, created[rows], country[rows])
    b.add_logins(rng, acc[rows], ts, b.mobile_ips(rng, carrier), devices[rows])
    browse = np.flatnonzero(rng.random(acc.size) < 0.3)
    rows = np.repeat(browse, rng.integers(1, 6, browse.size))
    volume = rng.lognormal(np.log(25), 1.0, rows.size)
    carrier = country[rows] * 2 + rng.integers(0, 2, rows.size)
    short = rng.random(acc.size) < 0.3
    b.add_requests(
        t=_diurnal_times(rng, created[rows], country[rows]),
        not_before=created[rows],
        window_s=np.where(short[rows], 300, 3600),
        ip=b.mobile_ips(rng, carrier),
        device=devices[rows],
        account=acc[rows],
        n_requests=np.round(volume),
        n_paths=np.round(volume * rng.uniform(0.3, 0.9, rows.size)),
        n_creators=rng.poisson(1.5, rows.size),
    )


def _small_payments(
    b: _Builder,
    rng: np.random.Generator,
    ring: _Ring,
    share: float,
    cards: np.ndarray | None = None,
) -> None:
    """A few ordinary payments to popular creators (own cards unless given)."""
    acc = ring.accounts
    who = np.flatnonzero(rng.random(acc.size) < share)
    if who.size == 0:
        return
    if cards is None:
        cards = b.new_cards(rng, ring.country)
    rows = np.repeat(who, rng.integers(1, 3, who.size))
    currency = _COUNTRY_CURRENCY[ring.country[rows]]
    b.add_payments(
        acc[rows],
        _later(rng, b.created[acc[rows]], 3 * _DAY),
        cards[rows],
        b.tier_price(currency, rng.choice(3, rows.size)),
        rng.choice(4, rows.size, p=(0.93, 0.05, 0.015, 0.005)),
        rng.choice(b.n_creators, rows.size, p=b.creator_p),
        currency,
    )


def _device_farm(b: _Builder, rng: np.random.Generator, ring: _Ring) -> None:
    acc, m, s = ring.accounts, ring.accounts.size, ring.stealth
    created = ring.start + np.sort(rng.random(m) * _HOUR * (1 + 47 * s)).astype(np.int64)
    per_device = int(rng.integers(8, 21)) if s < 0.5 else int(rng.integers(3, 9))
    ua = b.ua_index(
        _webview_ua(
            str(rng.choice(["5.1.1", "6.0.1", "7.1.2", "7.0"])),
            str(rng.choice(_FARM_MODELS)),
            f"{rng.choice(['NRD90M', 'MMB29K', 'N2G47H', 'LMY47V'])}.{rng.integers(100, 999)}",
            int(rng.integers(52, 75)),
        )
    )
    farm = b.new_devices(np.full(max(1, math.ceil(m / per_device)), ua))
    device = farm[rng.integers(0, farm.size, m)]
    proxy = rng.random(m) < 0.6
    ip = np.where(
        proxy,
        b.residential_ips(rng, ring.country),
        b.mobile_ips(rng, ring.country * 2 + rng.integers(0, 2, m)),
    )
    local = pc.binary_join_element_wise(
        pa.array(rng.choice(_FIRST, m)),
        pa.array(rng.choice(_LAST, m)),
        pa.array(rng.integers(1000, 9999, m)).cast(pa.string()),
        "",
    )
    b.disposable[acc] = 0.45
    email = _emails(rng, ring.country, b.disposable[acc], locals_=local)
    _set_accounts(b, ring, created, ip, device, email, phone_share=0.0)
    # SMS-verification numbers reused across the farm, typed in different formats
    country = int(ring.country[0])
    pool = _nsn(rng, _COUNTRIES[country], int(rng.integers(1, 5)))
    with_phone = np.flatnonzero(rng.random(m) < 0.5)
    b.phone[acc[with_phone]] = _phones(
        rng, np.full(with_phone.size, country), pool[rng.integers(0, len(pool), with_phone.size)]
    )
    rows = np.repeat(np.arange(m), rng.integers(2, 9, m))
    ts = _later(rng, b.created[acc[rows]], 2 * _DAY)
    on_farm = np.where(
        rng.random(rows.size) < 0.9, device[rows], farm[rng.integers(0, farm.size, rows.size)]
    )
    b.add_logins(rng, acc[rows], ts, b.residential_ips(rng, ring.country[rows]), on_farm, fail=0.08)
    _small_payments(b, rng, ring, 0.25)
    _camouflage(b, ring, device)


def _card_testing(b: _Builder, rng: np.random.Generator, ring: _Ring) -> None:
    acc, m, s = ring.accounts, ring.accounts.size, ring.stealth
    created = ring.start + np.sort(rng.random(m) * _HOUR * (0.5 + 23.5 * s)).astype(np.int64)
    own = b.new_devices(b.common_uas(rng, m))
    shared = b.new_devices(b.common_uas(rng, int(rng.integers(2, 5))))
    device = np.where(
        rng.random(m) < 0.5 * (1 - s) + 0.1, shared[rng.integers(0, shared.size, m)], own
    )
    if rng.random() < 0.5:
        pool = b.subnet_hosts(rng, b.take_subnet(True), int(rng.integers(3, 12)))
        ip = pool[rng.integers(0, pool.size, m)]
    else:
        ip = b.residential_ips(rng, ring.country)
    b.disposable[acc] = 0.4
    _set_accounts(b, ring, created, ip, device, phone_share=0.3)
    # a batch of stolen cards from one or two issuers abroad
    card_country = np.full(int(rng.integers(2, 7)), rng.choice(len(_COUNTRIES)))
    issuers = b.country_bins(rng, np.full(2, card_country[0]))
    bins = issuers[rng.integers(0, 2 if rng.random() < 0.4 else 1, card_country.size)]
    stolen = b.new_cards(rng, card_country, bins=bins, wallets=0)
    rows = np.repeat(np.arange(m), rng.integers(3, 13, m))
    fresh = b.new_cards(
        rng, np.full(rows.size, card_country[0]), bins=np.full(rows.size, bins[0]), wallets=0
    )
    card = np.where(
        rng.random(rows.size) < 0.7, stolen[rng.integers(0, stolen.size, rows.size)], fresh
    )
    decline = rng.uniform(0.6, 0.9)
    outcome = np.where(rng.random(rows.size) < decline, 1, rng.choice([0, 0, 0, 2], rows.size))
    amount = rng.choice([0.5, 1, 1, 1, 2, 3, 5], rows.size) + np.where(
        rng.random(rows.size) < 0.3, rng.integers(1, 99, rows.size) / 100, 0
    )
    creators = rng.choice(b.n_creators, int(rng.integers(1, 4)))
    ts = b.created[acc[rows]] + rng.integers(120, int(_HOUR * (1 + 6 * s)) + 240, rows.size)
    b.add_payments(
        acc[rows],
        np.minimum(ts, _END - 1),
        card,
        amount,
        outcome,
        creators[rng.integers(0, creators.size, rows.size)],
        np.zeros(rows.size, int),
    )
    logins = np.repeat(np.arange(m), rng.integers(1, 4, m))
    b.add_logins(
        rng,
        acc[logins],
        _later(rng, b.created[acc[logins]], _HOUR),
        ip[logins],
        device[logins],
        fail=0.1,
    )
    _camouflage(b, ring, device)


def _fake_patrons(b: _Builder, rng: np.random.Generator, ring: _Ring) -> None:
    acc, m, s = ring.accounts, ring.accounts.size, ring.stealth
    created = _spread(rng, ring, _DAY * (1 + 6 * s))
    device = b.new_devices(b.common_uas(rng, m))
    shared_dev = b.new_devices(b.common_uas(rng, 1))
    device = np.where(rng.random(m) < 0.3 * (1 - s), shared_dev[0], device)
    ip = b.residential_ips(rng, ring.country)
    boss_ip = b.residential_ips(rng, ring.country[:1])[0]
    ip = np.where(rng.random(m) < 0.3 * (1 - s) + 0.05, boss_ip, ip)
    _set_accounts(b, ring, created, ip, device)
    # one or two unpopular creators, paid monthly at the same high tier
    beneficiaries = rng.integers(b.n_creators // 2, b.n_creators, int(rng.integers(1, 3)))
    cards = b.new_cards(rng, ring.country[: int(rng.integers(1, max(2, m // 4) + 1))], wallets=0.05)
    creator = beneficiaries[rng.integers(0, beneficiaries.size, m)]
    tier = np.full(m, rng.choice([4, 5]))
    card = cards[rng.integers(0, cards.size, m)]
    start = b.created[acc] + rng.integers(600, 2 * _DAY, m)
    _memberships(b, rng, acc, creator, tier, card, start, (0.88, 0.03, 0.04, 0.05), churn=0.1)
    rows = np.repeat(np.arange(m), rng.integers(2, 7, m))
    home = rng.random(rows.size) < 0.6
    ips = np.where(home, ip[rows], b.residential_ips(rng, ring.country[rows]))
    b.add_logins(rng, acc[rows], _later(rng, b.created[acc[rows]], 5 * _DAY), ips, device[rows])
    _camouflage(b, ring, device)


def _shared_card_only(b: _Builder, rng: np.random.Generator, ring: _Ring) -> None:
    acc, m = ring.accounts, ring.accounts.size
    created = _spread(rng, ring, _DAY * rng.uniform(14, 45))
    device = b.new_devices(b.common_uas(rng, m))
    home = np.where(
        rng.random(m) < 0.15,
        b.residential_v6(rng, ring.country),
        b.residential_ips(rng, ring.country),
    )
    _set_accounts(b, ring, created, home, device)
    abroad = rng.random() < 0.5
    card_country = np.full(
        int(rng.choice([1, 1, 1, 2])), rng.choice(len(_COUNTRIES)) if abroad else ring.country[0]
    )
    shared = b.new_cards(rng, card_country, wallets=0)
    creator = rng.choice(b.n_creators, m, p=b.creator_p)
    start = b.created[acc] + rng.exponential(4 * _DAY, m).astype(np.int64) + 600
    _memberships(
        b,
        rng,
        acc,
        creator,
        rng.choice(_TIERS.size, m, p=_TIER_P),
        shared[rng.integers(0, shared.size, m)],
        start,
        (0.85, 0.07, 0.03, 0.05),
    )
    rows = np.repeat(np.arange(m), rng.integers(2, 7, m))
    ts = _diurnal_times(rng, b.created[acc[rows]], ring.country[rows])
    b.add_logins(rng, acc[rows], ts, home[rows], device[rows])
    _camouflage(b, ring, device)


def _subnet_lockstep(b: _Builder, rng: np.random.Generator, ring: _Ring) -> None:
    acc, m = ring.accounts, ring.accounts.size
    subnet = b.take_subnet(rng.random() < 0.6)  # datacenter, or a residential-proxy /24
    ip = b.subnet_hosts(rng, subnet, m)
    cadence = int(rng.integers(45, 401))
    created = ring.start + np.arange(m) * cadence + rng.integers(-3, 4, m)
    device = b.new_devices(b.common_uas(rng, m))
    _set_accounts(b, ring, created, ip, device, phone_share=0.5)
    sessions = (
        ring.start + m * cadence + np.sort(rng.integers(_HOUR, 20 * _DAY, int(rng.integers(3, 11))))
    )
    step = int(rng.integers(2, 21))
    k = np.tile(np.arange(m), sessions.size)
    order = np.concatenate([rng.permutation(m) for _ in sessions])
    ts = np.repeat(sessions, m) + order * step + rng.integers(0, 5, k.size)
    keep = ts < _END
    b.add_logins(rng, acc[k[keep]], ts[keep], ip[k[keep]], device[k[keep]])
    _small_payments(b, rng, ring, 0.3)
    _camouflage(b, ring, device)


def _alias_variants(rng: np.random.Generator, m: int) -> list[str]:
    """Addresses of one Gmail mailbox: moved dots, +tags, googlemail, mixed case."""
    first, last = str(rng.choice(_FIRST)), str(rng.choice(_LAST))
    base = first + last + (str(rng.integers(1, 99)) if rng.random() < 0.5 else "")
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < m:
        chars = list(base)
        for pos in sorted(
            rng.choice(np.arange(1, len(base)), int(rng.integers(0, 3)), replace=False),
            reverse=True,
        ):
            chars.insert(int(pos), ".")
        local = "".join(chars)
        if rng.random() < 0.6:
            local += "+" + str(
                rng.choice([str(rng.integers(1, 50)), str(rng.choice(_WORDS)), "promo", "x"])
            )
        if rng.random() < 0.2:
            local = local.capitalize()
        email = f"{local}@{'googlemail.com' if rng.random() < 0.25 else 'gmail.com'}"
        if email.lower() not in seen:
            seen.add(email.lower())
            out.append(email)
    return out


def _email_alias(b: _Builder, rng: np.random.Generator, ring: _Ring) -> None:
    acc, m = ring.accounts, ring.accounts.size
    created = _spread(rng, ring, _DAY * rng.uniform(7, 21))
    device = b.new_devices(b.common_uas(rng, m))
    ip = np.where(
        rng.random(m) < 0.5,
        b.residential_ips(rng, ring.country),
        b.mobile_ips(rng, ring.country * 2 + rng.integers(0, 2, m)),
    )
    _set_accounts(b, ring, created, ip, device, np.array(_alias_variants(rng, m), object))
    b.alias_email[acc] = True
    rows = np.repeat(np.arange(m), rng.integers(1, 6, m))
    ips = b.residential_ips(rng, ring.country[rows])
    b.add_logins(
        rng,
        acc[rows],
        _diurnal_times(rng, b.created[acc[rows]], ring.country[rows]),
        ips,
        device[rows],
    )
    _small_payments(b, rng, ring, 0.4)
    _camouflage(b, ring, device)


def _lockstep_sessions(
    rng: np.random.Generator, after: int, ws: int
) -> tuple[np.ndarray, np.ndarray]:
    """Window starts of a scraping campaign: sessions of consecutive windows."""
    n_sessions = int(rng.integers(3, 9))
    per = int(rng.integers(12, 37)) if ws == 300 else int(rng.integers(3, 10))
    room = min(25 * _DAY, _END - after - per * ws)  # a late campaign packs its sessions
    starts = (after + np.sort(rng.integers(_HOUR // 2, max(room, _HOUR), n_sessions))) // ws * ws
    windows = (starts[:, None] + np.arange(per) * ws).ravel()
    session = np.repeat(np.arange(n_sessions), per)
    keep = windows < _END
    return windows[keep], session[keep]


def _logged_in_scraper(b: _Builder, rng: np.random.Generator, ring: _Ring) -> None:
    acc, m = ring.accounts, ring.accounts.size
    subnet = b.take_subnet(True)
    ip_pool = b.subnet_hosts(rng, subnet, int(m * rng.uniform(1, 3)) + 1)
    ip = ip_pool[rng.permutation(ip_pool.size)[:m] % ip_pool.size]
    span = min(3 * _DAY * ring.stealth, _END - ring.start - _DAY)
    created = ring.start + np.sort(rng.random(m) * span).astype(np.int64)
    spoof = rng.random() < 0.5
    ua = b.common_uas(rng, 1)[0] if spoof else b.ua_index(_BOT_UAS[-1])
    device = b.new_devices(np.full(m, ua))
    _set_accounts(b, ring, created, ip, device)
    # memberships to many creators (uniformly), paid at the lowest tier
    cards = b.new_cards(rng, ring.country)
    shared = b.new_cards(rng, ring.country[:1], wallets=0)
    cards = np.where(rng.random(m) < 0.4, shared[0], cards)
    rows = np.repeat(np.arange(m), rng.integers(5, 41, m))
    currency = _COUNTRY_CURRENCY[ring.country[rows]]
    b.add_payments(
        acc[rows],
        _later(rng, b.created[acc[rows]], _DAY),
        cards[rows],
        b.tier_price(currency, np.zeros(rows.size, int)),
        rng.choice(4, rows.size, p=(0.92, 0.06, 0.015, 0.005)),
        rng.integers(0, b.n_creators, rows.size),
        currency,
    )
    ws = 300 if rng.random() < 0.7 else 3600
    windows, _ = _lockstep_sessions(rng, int(b.created[acc].max()), ws)
    k = np.repeat(np.arange(m), windows.size)
    t = np.tile(windows, m)
    keep = rng.random(k.size) < rng.uniform(0.9, 1.0)
    k, t = k[keep], t[keep]
    scale = ws / 300
    volume = rng.lognormal(np.log(600), 0.5, k.size) * scale
    rotate = rng.random(k.size) < 0.3  # a member's requests mostly leave from its own IP
    b.add_requests(
        t=t,
        not_before=b.created[acc[k]],
        window_s=ws,
        ip=np.where(rotate, ip_pool[rng.integers(0, ip_pool.size, k.size)], ip[k]),
        device=device[k],
        account=acc[k],
        n_requests=np.round(volume),
        n_paths=np.round(volume * rng.uniform(0.6, 0.95, k.size)),
        n_creators=np.round(rng.lognormal(np.log(60), 0.6, k.size) * scale**0.5),
    )
    sessions = np.unique(t // (6 * _HOUR))
    ts = np.repeat(sessions * 6 * _HOUR, m)
    who = np.tile(np.arange(m), sessions.size)
    ok = ts >= b.created[acc[who]]
    b.add_logins(
        rng, acc[who[ok]], ts[ok] + rng.integers(0, 30, int(ok.sum())), ip[who[ok]], device[who[ok]]
    )
    _camouflage(b, ring, device)


def _logged_out_crawler(
    b: _Builder, rng: np.random.Generator, k: int, start: int, stealth: float
) -> np.ndarray:
    n_subnets = 1 if rng.random() < 0.6 else 2
    datacenter = stealth < 0.6
    ips = np.concatenate(
        [
            b.subnet_hosts(rng, b.take_subnet(datacenter), part.size)
            for part in np.array_split(np.arange(k), n_subnets)
            if part.size
        ]
    )
    mode = rng.choice(3, p=[0.4, 0.3, 0.3])  # bot UA, one spoofed browser UA, rotating
    fixed = b.ua_index(str(rng.choice(_BOT_UAS))) if mode == 0 else b.common_uas(rng, 1)[0]
    ws = 300 if rng.random() < 0.7 else 3600
    windows, _ = _lockstep_sessions(rng, start, ws)
    active = rng.uniform(0.3, 1.0)
    i = np.repeat(np.arange(ips.size), windows.size)
    t = np.tile(windows, ips.size)
    keep = rng.random(i.size) < active
    i, t = i[keep], t[keep]
    if i.size > 8000:  # keep a cluster's footprint moderate
        sel = np.sort(rng.choice(i.size, 8000, replace=False))
        i, t = i[sel], t[sel]
    ua = b.common_uas(rng, i.size) if mode == 2 else fixed
    volume = rng.lognormal(np.log(500 if stealth < 0.5 else 150), 0.5, i.size) * ws / 300
    b.add_requests(
        t=t,
        window_s=ws,
        ip=ips[i],
        ua=ua,
        n_requests=np.round(volume),
        n_paths=np.round(volume * rng.uniform(0.6, 0.95, i.size)),
        n_creators=np.round(rng.lognormal(np.log(80), 0.6, i.size)),
    )
    return ips


_RING_FUNCTIONS: dict[str, Callable[[_Builder, np.random.Generator, _Ring], None]] = {
    "device_farm": _device_farm,
    "card_testing": _card_testing,
    "fake_patrons": _fake_patrons,
    "shared_card_only": _shared_card_only,
    "subnet_lockstep": _subnet_lockstep,
    "email_alias": _email_alias,
    "logged_in_scraper": _logged_in_scraper,
}


def _ring_plan(rng: np.random.Generator, n: int) -> list[tuple[str, int]]:
    """Scenario and size of every account ring: together 2.5-3.5% of the accounts.

    Worlds of 1,500 accounts or more hold at least one ring of every scenario.
    """
    budget = round(rng.uniform(0.025, 0.035) * n)
    plan: list[tuple[str, int]] = []
    if n >= 1500:
        cap = max(1, 2 * budget // len(_ACCOUNT_SCENARIOS))
        for name in _ACCOUNT_SCENARIOS:
            lo, hi = RING_SIZES[name]
            plan.append((name, _log_uniform_int(rng, lo, max(lo, min(hi, cap)))))
    used = sum(size for _, size in plan)
    p = _SCENARIO_WEIGHT / _SCENARIO_WEIGHT.sum()
    while used < budget:
        name = str(rng.choice(_ACCOUNT_SCENARIOS, p=p))
        lo, hi = RING_SIZES[name]
        size = min(_log_uniform_int(rng, lo, hi), budget - used)
        if size < lo:
            if plan:
                break
            size = lo
        plan.append((name, size))
        used += size
    return plan


def _campaign_start(rng: np.random.Generator) -> int:
    if rng.random() < 0.45:
        return int(rng.integers(_END - 30 * _DAY, _END - 2 * _DAY))
    return int(rng.integers(_START + 3 * _DAY, _END - 2 * _DAY))


# ----------------------------------------------------------------------------- labels
def _labels(b: _Builder, rng: np.random.Generator, legit: np.ndarray) -> None:
    acc, value, source, ts = [], [], [], []
    for scenario, members in b.rings:
        p_ring, (lo, hi), sources, delay = _LABEL_POLICY[scenario]
        if rng.random() >= p_ring:
            continue
        chosen = members[rng.random(members.size) < rng.uniform(lo, hi)]
        acc.append(chosen)
        value.append(np.zeros(chosen.size, np.int64))
        source.append(rng.choice([_SOURCES.index(s) for s in sources], chosen.size))
        ts.append(_later(rng, b.created[chosen], delay * _DAY))
    payer = np.zeros(b.n, bool)
    payer[b.event_accounts("payments")] = True
    weight = np.where(payer[legit], 3.0, 1.0)
    k = int(0.035 * legit.size)
    chosen = rng.choice(legit, k, replace=False, p=weight / weight.sum())
    acc.append(chosen)
    value.append(np.ones(k, np.int64))
    source.append(rng.choice([1, 2], k, p=(0.55, 0.45)))
    ts.append(_later(rng, b.created[chosen], 20 * _DAY))
    acc_a, value_a, source_a, ts_a = (np.concatenate(x) for x in (acc, value, source, ts))
    keep = ts_a < _END
    acc_a, value_a, source_a, ts_a = acc_a[keep], value_a[keep], source_a[keep], ts_a[keep]
    # label noise: friendly-fraud chargebacks on legitimate accounts, investigator mistakes
    flipped = rng.random(acc_a.size) < 0.015
    value_a = np.where(flipped, 1 - value_a, value_a)
    source_a = np.where(flipped, np.where(value_a == 0, 0, 1), source_a)
    b.final_label[acc_a] = value_a
    # some accounts carry an earlier label, often the opposite verdict (later reversed)
    extra = np.flatnonzero(rng.random(acc_a.size) < 0.04)
    earlier = b.created[acc_a[extra]] + (
        rng.random(extra.size) * (ts_a[extra] - b.created[acc_a[extra]])
    ).astype(np.int64)
    flip = rng.random(extra.size) < 0.6
    b.add("labels", account=acc_a, value=value_a, source=source_a, ts=ts_a)
    b.add(
        "labels",
        account=acc_a[extra],
        value=np.where(flip, 1 - value_a[extra], value_a[extra]),
        source=(source_a[extra] + 1) % 3,
        ts=np.minimum(earlier, ts_a[extra] - 1),
    )


def _statuses(b: _Builder, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(b.n)
    fraud = b.final_label == 0
    status = np.where(u < 0.02, 2, np.where(u < 0.025, 1, 0))
    return np.where(fraud, np.where(u < 0.6, 1, np.where(u < 0.7, 2, 0)), status)


# -------------------------------------------------------------------------- the world
@dataclass(frozen=True)
class World:
    """A synthetic dataset: the five input tables and the planted truth.

    Timestamp columns are ``datetime64[s, UTC]``; everything else is as it will be
    written. ``truth`` has the columns of ``truth.csv``.
    """

    accounts: pd.DataFrame
    logins: pd.DataFrame
    payments: pd.DataFrame
    requests: pd.DataFrame
    labels: pd.DataFrame
    truth: pd.DataFrame

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The input tables by name (without truth)."""
        return {name: getattr(self, name) for name in TABLE_COLUMNS}


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}


def generate_world(
    n_accounts: int, rng: np.random.Generator, progress: Callable[[str], None] | None = None
) -> World:
    """Generate a world of ``n_accounts`` accounts from ``rng``.

    ``progress`` (optional) is called with the name of each finished stage.

    Examples
    --------
    >>> w = generate_world(500, np.random.default_rng(1))
    >>> w.accounts.account_id.is_unique and len(w.accounts) == 500
    True
    """
    if n_accounts < 100:
        raise ConfigError(f"a synthetic world needs at least 100 accounts, not {n_accounts}")
    step = progress or (lambda _stage: None)
    b = _Builder(n_accounts, rng)
    order = rng.permutation(n_accounts)
    plan = _ring_plan(rng, n_accounts)
    used = sum(size for _, size in plan)
    legit = order[used:]
    _background(b, rng, legit)
    _search_crawlers(b, rng)
    step("background")
    offset = 0
    for i, (scenario, size) in enumerate(plan):
        members = order[offset : offset + size]
        offset += size
        ring = _Ring(members, _campaign_start(rng), float(rng.random()), _ring_countries(rng, size))
        _RING_FUNCTIONS[scenario](b, rng, ring)
        kind = "scraping" if scenario == "logged_in_scraper" else "fake_account"
        b.add_truth(kind, scenario, "account", i, members)
        b.rings.append((scenario, members))
    n_crawlers = max(1, n_accounts // 20_000)
    for j in range(n_crawlers):
        lo, hi = RING_SIZES["logged_out_crawler"]
        ips = _logged_out_crawler(
            b, rng, _log_uniform_int(rng, lo, hi), _campaign_start(rng), float(rng.random())
        )
        b.add_truth("scraping", "logged_out_crawler", "ip", j, ips)
    _ordinary(b, rng)
    _contacts(b, rng)
    step("rings")
    _labels(b, rng, legit)
    step("labels")
    world = _assemble(b, rng)
    step("tables")
    return world


def _assemble(b: _Builder, rng: np.random.Generator) -> World:
    """Strings at last: ids, IPs and user agents looked up from their integer codes, rows
    shuffled (as integer codes, before the strings are made)."""
    account_ids = _hex_ids(rng, "a", b.n)
    device_ids = _hex_ids(rng, "d", b.n_devices)
    card_ids = _hex_ids(rng, "pm", b.n_cards)
    creator_ids = _hex_ids(rng, "c", b.n_creators)
    hi, lo, v6 = (np.concatenate(x) for x in zip(*b._ips, strict=True))
    ip_strings = _ip_strings(hi, lo, v6)
    uas = pa.array(b.uas, pa.string())
    device_ua = np.concatenate(b._dev_ua)
    _dedupe_emails(b, rng)

    # some cells are unknown for any kind of account
    country = np.where(rng.random(b.n) < 0.03, -1, b.country)
    email = np.where(rng.random(b.n) < 0.02, None, b.email)
    signup_ip = np.where(rng.random(b.n) < 0.02, -1, b.signup_ip)
    signup_dev = np.where(rng.random(b.n) < 0.05, -1, b.signup_dev)
    status = _statuses(b, rng)
    row = rng.permutation(b.n)
    accounts = {
        "account_id": account_ids.take(pa.array(row)),
        "created_at": _ts(b.created[row]),
        "email": pa.array(email[row], pa.string()),
        "phone": pa.array(b.phone[row], pa.string()),
        "country": _take(pa.array(_COUNTRIES), country[row]),
        "signup_ip": _take(ip_strings, signup_ip[row]),
        "signup_device_id": _take(device_ids, signup_dev[row]),
        "status": _take(pa.array(_STATUSES), status[row]),
    }
    lg = _shuffle(rng, _concat(b.events["logins"]))
    ua_idx = np.where(lg["ua"] == -2, device_ua[np.maximum(lg["device"], 0)], lg["ua"])
    logins = {
        "account_id": _take(account_ids, lg["account"]),
        "ts": _ts(lg["ts"]),
        "ip": _take(ip_strings, lg["ip"]),
        # old app versions sent no fingerprint (the IP is always there)
        "device_id": _take(device_ids, np.where(rng.random(ua_idx.size) < 0.03, -1, lg["device"])),
        "user_agent": _take(uas, np.where(lg["device"] < 0, lg["ua"], ua_idx)),
        "success": pa.array(lg["success"]),
    }
    pm = _shuffle(rng, _concat(b.events["payments"]))
    bins, card_country = (np.concatenate(x) for x in zip(*b._cards, strict=True))
    card = pm["card"]
    payments = {
        "payment_id": _hex_ids(rng, "p", card.size, nbytes=7),
        "account_id": _take(account_ids, pm["account"]),
        "ts": _ts(pm["ts"]),
        "payment_method_id": _take(card_ids, card),
        "amount": pa.array(pm["amount"]),
        "currency": _take(pa.array(_CURRENCY_CODES), pm["currency"]),
        "outcome": _take(pa.array(_OUTCOMES), pm["outcome"]),
        "creator_id": _take(creator_ids, pm["creator"]),
        "card_bin": pa.array(bins[card], mask=bins[card] < 0).cast(pa.string()),
        "card_country": _take(pa.array(_COUNTRIES), card_country[card]),
    }
    rq = _shuffle(rng, _dedupe_requests(_concat(b.events["requests"])))
    rq_ua = np.where(
        (rq["ua"] < 0) & (rq["device"] >= 0), device_ua[np.maximum(rq["device"], 0)], rq["ua"]
    )
    requests = {
        "window_start": _ts(rq["window_start"]),
        "window_s": pa.array(rq["window_s"]),
        "ip": _take(ip_strings, rq["ip"]),
        "user_agent": _take(uas, rq_ua),
        "device_id": _take(device_ids, rq["device"]),
        "account_id": _take(account_ids, rq["account"]),
        "n_requests": pa.array(rq["n_requests"]),
        "n_paths": pa.array(rq["n_paths"]),
        "n_creators": pa.array(rq["n_creators"]),
    }
    lb = _shuffle(rng, _concat(b.events["labels"]))
    labels = {
        "account_id": _take(account_ids, lb["account"]),
        "label": _take(pa.array(["fraud", "legit"]), lb["value"]),
        "source": _take(pa.array(_SOURCES), lb["source"]),
        "ts": _ts(lb["ts"]),
    }
    tables = {
        name: pa.table(cols).to_pandas()
        for name, cols in (
            ("accounts", accounts),
            ("logins", logins),
            ("payments", payments),
            ("requests", requests),
            ("labels", labels),
        )
    }
    truth = _truth_table(b, account_ids, ip_strings)
    return World(**tables, truth=truth)


def _ip_strings(hi: np.ndarray, lo: np.ndarray, v6: np.ndarray) -> pa.Array:
    pos4, pos6 = np.flatnonzero(~v6), np.flatnonzero(v6)
    joined = pa.concat_arrays([_ipv4_strings(lo[pos4]), _ipv6_strings(hi[pos6], lo[pos6])])
    where = np.empty(v6.size, np.int64)
    where[np.r_[pos4, pos6]] = np.arange(v6.size)
    return joined.take(pa.array(where))


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("datetime64[s]")).cast(pa.timestamp("s", tz="UTC"))


def _shuffle(rng: np.random.Generator, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same random row order for every column (no order may reveal a group)."""
    order = rng.permutation(next(iter(cols.values())).size)
    return {key: values[order] for key, values in cols.items()}


def _dedupe_emails(b: _Builder, rng: np.random.Generator) -> None:
    """Give accidental mailbox collisions digits, as people do when a name is taken.

    Planted shared mailboxes (alias rings, family ``+tag`` addresses) stay as they are
    and win over ordinary accounts that happen to collide with them.
    """
    has = np.flatnonzero(pd.notna(b.email))
    has = has[np.argsort(~b.alias_email[has], kind="stable")]  # planted ones first
    canon = _canonical_emails(b.email[has])
    planted = b.alias_email[has]
    for _ in range(20):
        dup = np.flatnonzero(canon.duplicated().to_numpy() & ~planted)
        if dup.size == 0:
            return
        rows = has[dup]
        digits = rng.integers(1, 9999, rows.size)
        b.email[rows] = [
            e.replace("@", f"{d}@", 1) for e, d in zip(b.email[rows], digits, strict=True)
        ]
        canon.iloc[dup] = _canonical_emails(b.email[rows]).to_numpy()


def _dedupe_requests(rq: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per (window, client): merge accidental duplicates by dropping repeats."""
    keys = pd.DataFrame(
        {k: rq[k] for k in ("window_start", "window_s", "ip", "ua", "device", "account")}
    )
    keep = ~keys.duplicated().to_numpy()
    return {k: v[keep] for k, v in rq.items()}


def _truth_table(b: _Builder, account_ids: pa.Array, ip_strings: pa.Array) -> pd.DataFrame:
    kinds, scenarios, entity_types, groups, members = zip(*b.truth, strict=True)
    chunk = np.repeat(np.arange(len(b.truth)), [m.size for m in members])
    member, group = np.concatenate(members), np.concatenate(groups)
    is_ip = np.array([e == "ip" for e in entity_types])[chunk]
    entity = np.empty(member.size, object)
    entity[~is_ip] = account_ids.take(pa.array(member[~is_ip])).to_numpy(zero_copy_only=False)
    entity[is_ip] = ip_strings.take(pa.array(member[is_ip])).to_numpy(zero_copy_only=False)
    scenario = np.array(scenarios, object)[chunk]
    number = pc.utf8_lpad(pa.array(group).cast(pa.string()), 4, "0")
    group_id = pc.binary_join_element_wise(pa.array(scenario, pa.string()), number, "-")
    truth = pd.DataFrame(
        {
            "group_id": group_id.to_numpy(zero_copy_only=False),
            "kind": np.array(kinds, object)[chunk],
            "entity_type": np.where(is_ip, "ip", "account"),
            "entity_id": entity,
            "scenario": scenario,
        }
    ).drop_duplicates(["group_id", "entity_id"])
    return truth.sort_values(["kind", "scenario", "group_id", "entity_id"], ignore_index=True)


# ------------------------------------------------------------------------------ nights
_ONE_DAY = pd.Timedelta(days=1)


def split_nights(world: World, nights: int, period: pd.Timedelta = _ONE_DAY) -> list[World]:
    """Cut ``world`` into ``nights`` consecutive exports over the end of the timeline.

    Night 1 holds everything before ``end - (nights - 1) * period``; each later night
    holds the accounts created and the events that happened during its ``period``. Each
    night's truth covers the entities that exist up to that night's cut.

    Examples
    --------
    >>> w = generate_world(300, np.random.default_rng(2))
    >>> parts = split_nights(w, 3)
    >>> sum(len(p.accounts) for p in parts) == len(w.accounts)
    True
    """
    if nights < 1:
        raise ConfigError(f"nights must be at least 1, not {nights}")
    step = int(period.total_seconds())
    cuts = np.array([_END - (nights - 1 - i) * step for i in range(nights)], np.int64)
    if step <= 0 or cuts[0] <= _START:
        raise ConfigError(f"{nights} nights of {period} do not fit in the 120-day timeline")
    night_of = {
        name: np.searchsorted(cuts, _seconds(df[_TIME_COLUMNS[name]]), side="right")
        for name, df in world.tables.items()
    }
    seen = _entity_first_seen(world).reindex(world.truth.entity_id).to_numpy()
    parts = []
    for i, cut in enumerate(cuts):
        tables = {
            name: df[night_of[name] == i].reset_index(drop=True)
            for name, df in world.tables.items()
        }
        parts.append(World(**tables, truth=world.truth[seen < cut].reset_index(drop=True)))
    return parts


def _seconds(column: pd.Series) -> np.ndarray:
    """Epoch seconds of a UTC timestamp column."""
    return (
        column.dt.tz_convert("UTC")
        .dt.tz_localize(None)
        .to_numpy()
        .astype("datetime64[s]")
        .astype(np.int64)
    )


def _entity_first_seen(world: World) -> pd.Series:
    """Epoch second at which each truth entity appears: accounts at creation, IPs at
    their first request window."""
    accounts = pd.Series(_seconds(world.accounts.created_at), index=world.accounts.account_id)
    ips = world.truth.entity_id[world.truth.entity_type == "ip"]
    rq = world.requests[world.requests.ip.isin(ips)]
    ip_seen = pd.Series(_seconds(rq.window_start), index=rq.ip).groupby(level=0).min()
    seen = pd.concat([accounts, ip_seen])
    return seen[~seen.index.duplicated()]


# ----------------------------------------------------------------------------- writing
def _csv_timestamps(values: pa.ChunkedArray) -> pa.Array:
    """ISO-8601 text; one row in sixteen has no ``Z`` (UTC all the same), as some
    exporters write it. The choice hangs on the value, so a night split keeps it."""
    values = values.combine_chunks()
    seconds = values.cast(pa.int64()).to_numpy(zero_copy_only=False)
    text = pc.replace_substring(values.cast(pa.timestamp("s")).cast(pa.string()), " ", "T")
    zoned = pc.binary_join_element_wise(text, pa.scalar("Z"), "")
    bare = ((seconds.astype(np.uint64) * np.uint64(2654435761)) >> np.uint64(11)) % np.uint64(
        16
    ) == 0
    return pc.if_else(pa.array(bare), text, zoned)


def _write_table(df: pd.DataFrame, path: Path, file_format: str, time_column: str | None) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if file_format == "parquet":
        pq.write_table(table, path)
        return
    if time_column is not None:
        i = table.schema.get_field_index(time_column)
        table = table.set_column(i, time_column, _csv_timestamps(table.column(time_column)))
    if file_format == "csv.gz":
        # level 3: six times faster than arrow's default gzip for a fifth more bytes;
        # mtime 0 keeps the bytes the same for the same seed
        with (
            path.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3, mtime=0) as sink,
        ):
            pacsv.write_csv(table, sink)
    else:
        pacsv.write_csv(table, path)


def _check_target(out: Path, file_format: str) -> None:
    """Refuse to mix formats: a dataset directory must hold one file per table."""
    for name in TABLE_COLUMNS:
        for other in FILE_FORMATS:
            if other != file_format and (out / f"{name}.{other}").exists():
                raise ConfigError(
                    f"{out} already holds {name}.{other}; write a {file_format} world to an "
                    "empty directory"
                )


def _write_dataset(out: Path, world: World, file_format: str) -> int:
    out.mkdir(parents=True, exist_ok=True)
    size = 0
    for name, df in world.tables.items():
        path = out / f"{name}.{file_format}"
        _write_table(df, path, file_format, _TIME_COLUMNS[name])
        size += path.stat().st_size
    world.truth.to_csv(out / "truth.csv", index=False)
    return size


def write_world(
    out: Path,
    *,
    n_accounts: int,
    seed: int,
    nights: int = 1,
    file_format: str = "csv",
    progress: bool | None = None,
) -> str:
    """Generate a world and write it to ``out``; return a one-line summary.

    With ``nights > 1`` the world is split by :func:`split_nights` into
    ``out/night-01`` .. ``out/night-NN``. ``progress=None`` shows a bar on a terminal.
    """
    from tqdm import tqdm

    if file_format not in FILE_FORMATS:
        raise ConfigError(
            f"unknown format {file_format!r}; choose one of {', '.join(FILE_FORMATS)}"
        )
    if not 1 <= nights < 120:
        raise ConfigError(f"nights must be between 1 and 119 (one day each), not {nights}")
    out = Path(out)
    targets = [out] if nights == 1 else [out / f"night-{i:02d}" for i in range(1, nights + 1)]
    for target in targets:
        _check_target(target, file_format)
    began = time.perf_counter()
    disable = None if progress is None else not progress
    with tqdm(total=5, desc="generate", unit="stage", file=sys.stderr, disable=disable) as bar:
        world = generate_world(
            n_accounts,
            np.random.default_rng(seed),
            progress=lambda stage: (bar.set_postfix_str(stage), bar.update()),
        )
        if nights == 1:
            size = _write_dataset(out, world, file_format)
        else:
            size = sum(
                _write_dataset(out / f"night-{i:02d}", part, file_format)
                for i, part in enumerate(split_nights(world, nights), start=1)
            )
        bar.update()
    return _summary(world, out, nights, size, time.perf_counter() - began)


def _summary(world: World, out: Path, nights: int, size: int, seconds: float) -> str:
    truth = world.truth
    abuse = truth[truth.kind != "legit_group"]
    rings = abuse.groupby("group_id").size()
    flagged = abuse[abuse.entity_type == "account"].entity_id.nunique()
    where = f"{nights} nightly exports in {out}" if nights > 1 else str(out)
    return (
        f"wrote {len(world.accounts):,} accounts ({flagged:,} in {rings.size} planted abuse "
        f"groups, {truth[truth.kind == 'legit_group'].group_id.nunique():,} look-alike groups), "
        f"{len(world.logins):,} logins, {len(world.payments):,} payments, "
        f"{len(world.requests):,} request rows, {len(world.labels):,} labels "
        f"to {where} ({size / 1e6:,.1f} MB, {seconds:.1f} s)"
    )
