"""Unit tests of the dashboard's pure view builders, on tiny hand-written inputs."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import pytest

from dashboards import app, sample, views

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _member(key: str, risk: float | None = 0.9, label: str = "Account") -> dict:
    return {"label": label, "key": key, "props": {"risk_score": risk, "created_at": T0}}


def _link(member: str, days: int = 0, count: int = 1, rels=("USED_DEVICE",)) -> dict:
    first = T0 + timedelta(days=days)
    return {"member": member, "rels": list(rels), "count": count, "first": first, "last": first}


def _ident(label: str, key: str, links: list[dict], neighbours: int | None = None) -> dict:
    return {
        "label": label,
        "key": key,
        "props": {},
        "links": links,
        "neighbours": len(links) if neighbours is None else neighbours,
    }


def _nodes(elements: list[dict]) -> set[str]:
    return {e["data"]["id"] for e in elements if "source" not in e["data"]}


def _edges(elements: list[dict]) -> set[tuple[str, str]]:
    return {(e["data"]["source"], e["data"]["target"]) for e in elements if "source" in e["data"]}


@pytest.mark.parametrize("module", [views, sample, app])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.failed == 0
    assert result.attempted > 0


# ------------------------------------------------------------------ ring elements
def test_ring_elements_members_identifiers_and_edges():
    members = [_member("a"), _member("b"), _member("c", risk=0.1)]
    device = _ident("Device", "d1", [_link("a", count=3), _link("b")])
    card = _ident("PaymentMethod", "pm1", [_link("b"), _link("c")])
    elements = views.ring_elements(members, [device, card])
    assert _nodes(elements) == {
        "Account:a",
        "Account:b",
        "Account:c",
        "Device:d1",
        "PaymentMethod:pm1",
    }
    assert _edges(elements) == {
        ("Account:a", "Device:d1"),
        ("Account:b", "Device:d1"),
        ("Account:b", "PaymentMethod:pm1"),
        ("Account:c", "PaymentMethod:pm1"),
    }
    labels = {e["data"]["id"]: e["data"]["label"] for e in elements}
    assert labels["Account:a->Device:d1"] == "used ×3"


def test_ring_elements_colours_accounts_by_risk_and_identifiers_by_type():
    elements = views.ring_elements(
        [_member("a", 1.0), _member("b", 0.0)], [_ident("IP", "1.2.3.4", [_link("a"), _link("b")])]
    )
    colour = {e["data"]["id"]: e["data"].get("color") for e in elements}
    assert colour["Account:a"] == views.risk_color(1.0) != colour["Account:b"]
    assert colour["IP:1.2.3.4"] == views.IDENTIFIER_COLORS["IP"]


def test_ring_elements_time_window_drops_links_outside_it():
    members = [_member(k) for k in "abc"]
    early = _ident("Device", "early", [_link("a", 0), _link("b", 1)])
    late = _ident("Device", "late", [_link("b", 10), _link("c", 11)])
    window = (T0 + timedelta(days=9), T0 + timedelta(days=12))
    nodes = _nodes(views.ring_elements(members, [early, late], window=window))
    assert "Device:late" in nodes
    assert "Device:early" not in nodes
    assert {"Account:a", "Account:b", "Account:c"} <= nodes  # members always shown


def test_ring_elements_collapses_outside_nodes_and_expands_on_demand():
    members = [_member("a"), _member("b")]
    ip = _ident("IP", "9.9.9.9", [_link("a"), _link("b")], neighbours=102)
    elements = views.ring_elements(members, [ip])
    more = [e for e in elements if e["data"].get("type") == "more"]
    assert [m["data"]["label"] for m in more] == ["+100 more"]
    assert more[0]["data"]["of"] == "IP:9.9.9.9"

    shown = [
        {"label": "Account", "key": f"x{i}", "props": {"risk_score": 0.1}, "rels": ["USED_IP"]}
        for i in range(50)
    ]
    elements = views.ring_elements(members, [ip], expanded={"IP:9.9.9.9": shown})
    nodes = _nodes(elements)
    assert {f"Account:x{i}" for i in range(50)} <= nodes
    more = [e["data"]["label"] for e in elements if e["data"].get("type") == "more"]
    assert more == ["+50 more"]


def test_ring_elements_collapses_identifiers_with_many_member_links():
    members = [_member(f"m{i}") for i in range(40)]
    hub = _ident("Device", "farm", [_link(f"m{i}") for i in range(40)])
    elements = views.ring_elements(members, [hub], collapse_at=10)
    assert len(_edges(elements)) == 10 + 1  # ten member edges and the "+N more" edge
    more = [e["data"] for e in elements if e["data"].get("type") == "more"]
    assert more[0]["label"] == "+30 more" and more[0]["what"] == "members"
    opened = views.ring_elements(members, [hub], collapse_at=10, open_members={"Device:farm"})
    assert len(_edges(opened)) == 40


def test_ring_elements_needs_two_members_to_share():
    elements = views.ring_elements([_member("a")], [_ident("Device", "d", [_link("a")])])
    assert _nodes(elements) == {"Account:a"}


def test_redundant_subnet_is_dropped_but_lockstep_subnet_kept():
    ip = _ident("IP", "10.0.0.1", [_link("a"), _link("b")])
    same = _ident("Subnet", "10.0.0.0/24", [{**_link(k), "via": ["10.0.0.1"]} for k in "ab"])
    lockstep = _ident(
        "Subnet", "10.0.1.0/24", [{**_link(k), "via": [f"10.0.1.{i}"]} for i, k in enumerate("ab")]
    )
    kept = views.drop_redundant_subnets([ip, same, lockstep])
    assert [i["key"] for i in kept] == ["10.0.0.1", "10.0.1.0/24"]


def test_time_slider_and_window_round_trip():
    bounds = views.time_bounds([_ident("Device", "d", [_link("a", 0), _link("b", 5)])])
    assert bounds == (T0, T0 + timedelta(days=5))
    slider = views.time_slider(bounds)
    assert slider["value"] == [0, 6]
    start, end = views.slider_window(slider["origin"], [1, 3])
    assert (start, end) == (T0 + timedelta(days=1), T0 + timedelta(days=3))
    assert views.time_slider(None)["origin"] is None
    assert views.slider_window(None, [0, 1]) is None


# ------------------------------------------------------------------ tables
def test_queue_rows_link_round_and_flag_new():
    rows = views.queue_rows(
        [
            {
                "ring_id": "R-1",
                "score": 0.91234,
                "kind": "scraping",
                "size": 4,
                "status": "open",
                "assignee": None,
                "first_seen": T0,
                "last_seen": None,
                "new": True,
            }
        ]
    )
    assert rows == [
        {
            "ring_id": "[R-1](/ring/R-1)",
            "score": 0.912,
            "kind": "scraping",
            "size": 4,
            "status": "open",
            "assignee": "",
            "first_seen": "2026-03-01 00:00",
            "last_seen": "",
            "new": "new",
        }
    ]


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        (None, ("score", True)),
        ([], ("score", True)),
        ([{"column_id": "size", "direction": "desc"}], ("size", True)),
        ([{"column_id": "first_seen", "direction": "asc"}], ("first_seen", False)),
    ],
)
def test_queue_sort(sort_by, expected):
    assert views.queue_sort(sort_by) == expected


def test_members_rows_and_csv_export():
    flagged = _member("a-1", 0.91)
    flagged["props"]["reasons"] = ["member of ring R-1", "shares device d1 with 3 others"]
    rows = views.members_rows([flagged, _member("1.2.3.4", None, label="IP")])
    assert rows[0]["link"] == "[a-1](/account/a-1)"
    assert rows[0]["reasons"] == "member of ring R-1; shares device d1 with 3 others"
    assert rows[1]["link"].startswith("[1.2.3.4](/identifier?label=IP&key=1.2.3.4)")
    text = views.members_csv(rows)
    lines = text.splitlines()
    assert lines[0] == "type,id,risk_score,created_at,status,country,email,label,reasons"
    assert lines[1].startswith("Account,a-1,0.91,2026-03-01 00:00")
    assert lines[1].endswith(",member of ring R-1; shares device d1 with 3 others")
    assert lines[2].startswith("IP,1.2.3.4,,")
    assert views.members_csv([]) == ""


def test_identifier_rows_show_raw_email_and_sharing():
    rows = views.identifier_rows(
        [
            {
                "rel": "HAS_EMAIL",
                "label": "Email",
                "key": "johndoe@gmail.com",
                "edge": {
                    "count": 1,
                    "first_seen": T0,
                    "last_seen": T0,
                    "raw": "John.Doe@gmail.com",
                },
                "accounts": 3,
            }
        ]
    )
    assert rows[0]["raw"] == "John.Doe@gmail.com"
    assert rows[0]["shared_with"] == 2
    assert rows[0]["how"] == "email (HAS_EMAIL)"


def test_case_rows_and_summary():
    case = {
        "ring_id": "R-9",
        "status": "confirmed",
        "kind": "fake_account",
        "score": 0.8,
        "size": 5,
        "assignee": "bo",
        "status_by": "ann",
        "status_at": T0,
        "note": "same card",
    }
    row = views.case_rows([case])[0]
    assert row["ring_id"] == "[R-9](/ring/R-9)"
    assert row["decided"] == "ann 2026-03-01 00:00"
    assert views.case_summary(case) == "confirmed by ann at 2026-03-01 00:00; assigned to bo"


def test_case_history_rows_newest_first_and_a_ring_decided_before_history():
    decisions = [
        {"status": "dismissed", "decided_by": "bo", "decided_at": T0 + timedelta(hours=1),
         "assignee": "ann", "note": None},
        {"status": "confirmed", "decided_by": "ann", "decided_at": T0, "assignee": None,
         "note": "same card"},
    ]  # fmt: skip
    rows = views.case_history_rows({"status": "dismissed", "status_by": "bo"}, decisions)
    assert [(r["when"], r["by"], r["status"], r["assignee"], r["note"]) for r in rows] == [
        ("2026-03-01 01:00", "bo", "dismissed", "ann", ""),
        ("2026-03-01 00:00", "ann", "confirmed", "", "same card"),
    ]
    old = {"status": "confirmed", "status_by": "ann", "status_at": T0, "note": "n"}
    assert views.case_history_rows(old, []) == [
        {"when": "2026-03-01 00:00", "by": "ann", "status": "confirmed", "assignee": "",
         "note": "n"}
    ]  # fmt: skip
    assert views.case_history_rows({"status": "open"}, []) == []


def test_account_reasons_put_the_accounts_own_sentences_before_its_rings():
    account = {"risk_score": 0.93, "reasons": ["member of fake_account ring R-1 (score 0.930, "
               "4 accounts)", "shares device d1 with 3 other accounts"]}  # fmt: skip
    ring = {"ring_id": "R-1", "kind": "fake_account", "score": 0.93, "status": "confirmed",
            "reasons": ["4 accounts share 1 device"]}  # fmt: skip
    assert views.account_reasons(account, [ring]) == [
        (None, account["reasons"][0]),
        (None, "shares device d1 with 3 other accounts"),
        ("R-1", " (fake_account, score 0.930, confirmed): 4 accounts share 1 device"),
    ]
    assert views.account_reasons({"risk_score": 0.0}, []) == [(None, "In no ring.")]


def test_account_neighbour_rows():
    rows = views.account_neighbour_rows(
        [
            {
                "account_id": "a-2",
                "risk_score": 0.5,
                "created_at": T0,
                "via": ["d1", "d2"],
                "shared": 2,
            }
        ]
    )
    assert rows == [
        {
            "account": "[a-2](/account/a-2)",
            "risk_score": 0.5,
            "created": "2026-03-01 00:00",
            "shared": 2,
            "via": "d1, d2",
        }
    ]


# ------------------------------------------------------------------ figures
def test_account_timeline_has_signup_logins_payments_and_requests():
    start = int(T0.timestamp())
    identifiers = [
        {
            "rel": "USED_IP",
            "label": "IP",
            "key": "1.2.3.4",
            "edge": {
                "first_seen": T0,
                "last_seen": T0 + timedelta(days=2),
                "logins": 4,
                "win_start": [start, start + 3600],
                "win_requests": [10, 40],
            },
        },
        {
            "rel": "PAID_WITH",
            "label": "PaymentMethod",
            "key": "pm-1",
            "edge": {"first_seen": T0, "last_seen": T0, "succeeded": 1, "declined": 3},
        },
    ]
    fig = views.account_timeline_figure({"created_at": T0}, identifiers)
    names = [trace.name for trace in fig.data]
    assert names == ["sign-up", "logins", "payments", "requests"]
    requests = fig.data[-1]
    assert len(requests.x) == 2
    assert requests.marker.size[1] > requests.marker.size[0]


def test_account_timeline_of_an_account_without_activity_is_empty():
    assert views.account_timeline_figure({}, []).data == ()


# ------------------------------------------------------------------ search
@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("", "auto", []),
        (
            "ANN.LEE@GoogleMail.com",
            "auto",
            [("Email", "annlee@gmail.com"), ("Email", "ann.lee@googlemail.com")],
        ),
        ("annlee@gmail.com", "Email", [("Email", "annlee@gmail.com")]),
        ("+1 (415) 555-0123", "auto", [("Phone", "+14155550123"), ("Phone", "14155550123")]),
        ("2001:db8:0::1", "auto", [("IP", "2001:db8::1"), ("Subnet", "2001:db8::/48")]),
        ("203.0.113.9/24", "auto", [("Subnet", "203.0.113.0/24")]),
        ("203.0.113.9", "Subnet", [("Subnet", "203.0.113.0/24")]),
        ("pm-4", "PaymentMethod", [("PaymentMethod", "pm-4")]),
        (
            "a-123",
            "auto",
            [
                ("Account", "a-123"),
                ("Device", "a-123"),
                ("PaymentMethod", "a-123"),
                ("Creator", "a-123"),
            ],
        ),
        ("not an ip", "IP", []),
    ],
)
def test_search_candidates(text, kind, expected):
    assert views.search_candidates(text, kind) == expected


# ------------------------------------------------------------------ cypher
def test_cypher_table_and_elements_from_plain_results():
    node_a = {"_node": {"id": "1", "labels": ["Account"], "props": {"account_id": "a-1"}}}
    node_d = {"_node": {"id": "2", "labels": ["Device"], "props": {"device_id": "d-1"}}}
    rel = {"_rel": {"id": "7", "type": "USED_DEVICE", "start": "1", "end": "2", "props": {}}}
    path = {"_path": {"nodes": [node_a["_node"], node_d["_node"]], "rels": [rel["_rel"]]}}
    rows = [[node_a, rel, node_d, 3], [path, None, None, 4]]
    table = views.cypher_table(["a", "e", "d", "n"], rows)
    assert table[0] == {"a": "(Account a-1)", "e": "[:USED_DEVICE]", "d": "(Device d-1)", "n": 3}
    assert table[1]["a"] == "<path of 1 relationships>"
    elements = views.cypher_elements(rows)
    assert _nodes(elements) == {"1", "2"}
    assert _edges(elements) == {("1", "2")}


def test_cypher_elements_of_a_table_without_graph_values_is_empty():
    assert views.cypher_elements([[1, "x"], [2, "y"]]) == []


@pytest.mark.parametrize(
    ("json_text", "form", "expected"),
    [
        ("", {}, {}),
        ('{"a": 1}', {"a": "2"}, {"a": "2"}),
        (None, {"ring_id": "R-1", "empty": ""}, {"ring_id": "R-1"}),
    ],
)
def test_query_params(json_text, form, expected):
    assert views.query_params(json_text, form) == expected


@pytest.mark.parametrize("bad", ["{", "[]", '"text"'])
def test_query_params_rejects_non_objects(bad):
    with pytest.raises(ValueError, match="Parameters"):
        views.query_params(bad, {})


# ------------------------------------------------------------------ app helpers
@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host, loopback):
    assert app.is_loopback(host) is loopback


def test_read_users_file(tmp_path):
    from graphs.errors import ConfigError

    good = tmp_path / "users"
    good.write_text("# investigators\nann:s3cret:with:colons\n\nbo: pw\n")
    assert app.read_users_file(good) == {"ann": "s3cret:with:colons", "bo": " pw"}
    bad = tmp_path / "bad"
    bad.write_text("ann\n")
    with pytest.raises(ConfigError, match="bad:1: expected user:password"):
        app.read_users_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        app.read_users_file(tmp_path / "missing")


def test_safe_layout_turns_a_database_error_into_a_message():
    from neo4j.exceptions import ServiceUnavailable

    def layout(**_):
        raise ServiceUnavailable("cannot reach 127.0.0.1:7687")

    page = app.safe_layout(layout)(ring_id="R-1")
    assert "could not be loaded" in str(page.children[0].children)
    assert page.children[1].children == "cannot reach 127.0.0.1:7687"
    assert app.safe_layout(lambda **p: p)(x=1) == {"x": 1}
