"""Pure functions that turn query results into what the pages show.

Cytoscape elements, table rows, CSV text, plotly figures and search candidates are built
here from plain Python values (as :mod:`dashboards.queries` returns them), with no
driver and no Dash callback context, so each is unit-tested on tiny hand-written input.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from graphs.model import IDENTIFIER_KEYS, Label, Prop, Rel

__all__ = [
    "DEFAULT_COLLAPSE_AT",
    "IDENTIFIER_COLORS",
    "RING_STYLESHEET",
    "SEARCH_KINDS",
    "account_neighbour_rows",
    "account_reasons",
    "account_timeline_figure",
    "case_history_rows",
    "case_rows",
    "case_summary",
    "cell_text",
    "cypher_elements",
    "cypher_table",
    "drop_redundant_subnets",
    "entity_href",
    "format_time",
    "graph_layout",
    "identifier_elements",
    "identifier_rows",
    "legend",
    "members_csv",
    "members_rows",
    "neighbour_rows",
    "neighbourhood_rows",
    "node_details",
    "node_id",
    "query_params",
    "queue_rows",
    "queue_sort",
    "ring_elements",
    "risk_color",
    "search_candidates",
    "slider_window",
    "time_bounds",
    "time_slider",
]

P = Prop

#: Node colour by type (accounts are coloured by risk instead).
IDENTIFIER_COLORS: dict[str, str] = {
    Label.DEVICE: "#6a3d9a",
    Label.IP: "#1f78b4",
    Label.SUBNET: "#a6cee3",
    Label.EMAIL: "#33a02c",
    Label.PHONE: "#b2df8a",
    Label.PAYMENT_METHOD: "#ff7f00",
    Label.CREATOR: "#fdbf6f",
    Label.USER_AGENT: "#b15928",
    "more": "#bdbdbd",
}
#: Short words for edge labels: "paid ×3" reads faster than "PAID_WITH 3".
REL_WORDS: dict[str, str] = {
    Rel.HAS_EMAIL: "email",
    Rel.HAS_PHONE: "phone",
    Rel.SIGNED_UP_FROM: "sign-up",
    Rel.SIGNED_UP_ON: "sign-up",
    Rel.USED_IP: "used",
    Rel.USED_DEVICE: "used",
    Rel.USED_UA: "ua",
    Rel.PAID_WITH: "paid",
    Rel.SUPPORTS: "supports",
    Rel.IN_SUBNET: "via IP",
    Rel.SENT_UA: "sent",
}
#: An identifier with more links than this to members of a ring shows only this many
#: account edges plus a "+N more" node (its other member accounts stay in the graph
#: through their other identifiers).
DEFAULT_COLLAPSE_AT = 25

RING_STYLESHEET: list[dict[str, Any]] = [
    {
        "selector": "node",
        "style": {
            "label": "data(label)",
            "background-color": "data(color)",
            "font-size": "9px",
            "color": "#222",
            "text-valign": "bottom",
            "text-halign": "center",
            "text-background-color": "#fafafa",
            "text-background-opacity": 0.7,
            "width": 18,
            "height": 18,
        },
    },
    {"selector": ".identifier", "style": {"shape": "round-rectangle", "width": 22, "height": 22}},
    {"selector": ".member", "style": {"border-width": 2, "border-color": "#222"}},
    {"selector": ".outside", "style": {"opacity": 0.75}},
    {
        "selector": ".more",
        "style": {"shape": "ellipse", "width": 34, "height": 34, "font-size": "10px"},
    },
    {
        "selector": "edge",
        "style": {
            "label": "data(label)",
            "font-size": "7px",
            "color": "#555",
            "width": 1,
            "line-color": "#bbb",
            "curve-style": "bezier",
            "text-rotation": "autorotate",
            "text-background-color": "#fff",
            "text-background-opacity": 0.8,
        },
    },
    {"selector": ".to-more", "style": {"line-style": "dashed"}},
    {"selector": ":selected", "style": {"border-width": 3, "border-color": "#e6550d"}},
]


# ------------------------------------------------------------------ formatting
def format_time(value: Any) -> str:
    """A datetime as ``YYYY-MM-DD HH:MM`` UTC; anything else as text, None as ''.

    >>> format_time(datetime(2026, 3, 1, 10, 0, 59, tzinfo=UTC))
    '2026-03-01 10:00'
    >>> format_time(None)
    ''
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def risk_color(score: float | None) -> str:
    """Green (0) through yellow (0.5) to red (1); grey when unscored.

    >>> risk_color(0.0), risk_color(1.0), risk_color(None)
    ('#1a9850', '#d73027', '#969696')
    """
    if score is None:
        return "#969696"
    s = min(max(float(score), 0.0), 1.0)
    low, mid, high = (26, 152, 80), (254, 224, 139), (215, 48, 39)
    a, b, t = (low, mid, s / 0.5) if s <= 0.5 else (mid, high, (s - 0.5) / 0.5)
    rgb = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def node_id(label: str, key: str) -> str:
    """The cytoscape id of a graph node: ``Label:key``."""
    return f"{label}:{key}"


def entity_href(label: str, key: str) -> str:
    """The dashboard page of a graph node: an account, a ring or an identifier.

    >>> entity_href("Account", "a 1"), entity_href("IP", "2001:db8::1")
    ('/account/a%201', '/identifier?label=IP&key=2001%3Adb8%3A%3A1')
    """
    quoted = quote(str(key), safe="")
    if label == Label.ACCOUNT:
        return f"/account/{quoted}"
    if label == Label.RING:
        return f"/ring/{quoted}"
    return f"/identifier?label={quote(str(label), safe='')}&key={quoted}"


def _link(label: str, key: str) -> str:
    """A markdown link for DataTable cells (brackets in keys escaped)."""
    text = str(key).replace("[", "\\[").replace("]", "\\]")
    return f"[{text}]({entity_href(label, key)})"


def _short(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cell_text(value: Any) -> str | int | float | bool | None:
    """A table cell: numbers and text as they are, times formatted, the rest as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Mapping) and "_node" in value:
        node = value["_node"]
        return f"({':'.join(node['labels'])} {_node_key(node)})"
    if isinstance(value, Mapping) and "_rel" in value:
        return f"[:{value['_rel']['type']}]"
    if isinstance(value, Mapping) and "_path" in value:
        return f"<path of {len(value['_path']['rels'])} relationships>"
    if isinstance(value, list):
        return ", ".join(str(cell_text(v)) for v in value)
    return str(value)


# ------------------------------------------------------------------ ring queue
def queue_sort(sort_by: Sequence[Mapping[str, str]] | None) -> tuple[str, bool]:
    """DataTable ``sort_by`` to ``(column, descending)``; the queue's default is score desc.

    >>> queue_sort([{"column_id": "size", "direction": "asc"}])
    ('size', False)
    >>> queue_sort(None)
    ('score', True)
    """
    if not sort_by:
        return "score", True
    first = sort_by[0]
    return str(first["column_id"]), first.get("direction") != "asc"


def queue_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Queue rows for the DataTable: links, rounded scores, formatted times."""
    return [
        {
            "ring_id": _link(Label.RING, row["ring_id"]),
            "score": round(float(row["score"]), 3) if row.get("score") is not None else None,
            "kind": row.get("kind"),
            "size": row.get("size"),
            "status": row.get("status"),
            "assignee": row.get("assignee") or "",
            "first_seen": format_time(row.get("first_seen")),
            "last_seen": format_time(row.get("last_seen")),
            "new": "new" if row.get("new") else "",
        }
        for row in rows
    ]


def case_rows(cases: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the "my cases" table.

    >>> case_rows([{"ring_id": "R-1", "status": "confirmed", "kind": "scraping",
    ...     "score": 0.91234, "size": 4, "assignee": None, "status_by": "ann",
    ...     "status_at": None, "note": None}])[0]["decided"]
    'ann'
    """
    return [
        {
            "ring_id": _link(Label.RING, c["ring_id"]),
            "status": c.get("status") or "open",
            "kind": c.get("kind"),
            "score": round(float(c.get("score") or 0), 3),
            "size": c.get("size"),
            "assignee": c.get("assignee") or "",
            "decided": f"{c.get('status_by') or ''} {format_time(c.get('status_at'))}".strip(),
            "note": c.get("note") or "",
        }
        for c in cases
    ]


# ------------------------------------------------------------------ ring view
def drop_redundant_subnets(identifiers: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Subnets that add nothing to a shared IP (the same members, through that IP) go.

    A /24 in lockstep shares no single IP and stays; a subnet that only repeats the
    shared IP it holds would draw every edge twice.
    """
    ip_members = {
        ident["key"]: {link["member"] for link in ident["links"]}
        for ident in identifiers
        if ident["label"] == Label.IP
    }
    kept = []
    for ident in identifiers:
        if ident["label"] == Label.SUBNET and "via" in ident["links"][0]:
            members = {link["member"] for link in ident["links"]}
            ips = {ip for link in ident["links"] for ip in link.get("via", [])}
            if any(members <= ip_members.get(ip, set()) for ip in ips):
                continue
        kept.append(ident)
    return kept


def _in_window(link: Mapping[str, Any], window: tuple[datetime, datetime] | None) -> bool:
    if window is None:
        return True
    start, end = window
    first, last = link.get("first"), link.get("last")
    return (first is None or first <= end) and (last is None or last >= start)


def time_bounds(identifiers: Iterable[Mapping[str, Any]]) -> tuple[datetime, datetime] | None:
    """Earliest first and latest last time over the links, or None without times."""
    firsts = [link["first"] for i in identifiers for link in i["links"] if link.get("first")]
    lasts = [link["last"] for i in identifiers for link in i["links"] if link.get("last")]
    if not firsts or not lasts:
        return None
    return min(firsts), max(lasts)


def time_slider(bounds: tuple[datetime, datetime] | None) -> dict[str, Any]:
    """RangeSlider settings in whole days from the first day of ``bounds``.

    >>> t0, t1 = datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 4, 1, tzinfo=UTC)
    >>> s = time_slider((t0, t1))
    >>> s["origin"], s["max"], s["value"], s["marks"][3]
    ('2026-03-01T00:00:00+00:00', 4, [0, 4], '03-04')
    """
    if bounds is None:
        return {"origin": None, "min": 0, "max": 1, "value": [0, 1], "marks": {}}
    first, last = (t.astimezone(UTC) for t in bounds)
    origin = first.replace(hour=0, minute=0, second=0, microsecond=0)
    days = max((last - origin).days + 1, 1)
    step = max(1, days // 8)
    marks = {d: (origin + timedelta(days=d)).strftime("%m-%d") for d in range(0, days + 1, step)}
    return {"origin": origin.isoformat(), "min": 0, "max": days, "value": [0, days], "marks": marks}


def slider_window(
    origin: str | None, value: Sequence[float] | None
) -> tuple[datetime, datetime] | None:
    """The time window a :func:`time_slider` value selects (None when it has no origin).

    >>> slider_window("2026-03-01T00:00:00+00:00", [1, 2])[1]
    datetime.datetime(2026, 3, 3, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if not origin or not value:
        return None
    start = datetime.fromisoformat(origin)
    return start + timedelta(days=value[0]), start + timedelta(days=value[1])


def _edge_label(rels: Sequence[str], count: int | None) -> str:
    words = list(dict.fromkeys(REL_WORDS.get(rel, rel.lower()) for rel in rels))
    return f"{'/'.join(words)} ×{count}" if count else "/".join(words)


def _member_node(member: Mapping[str, Any], *, classes: str) -> dict[str, Any]:
    props = member.get("props") or {}
    risk = props.get(P.RISK_SCORE)
    return {
        "data": {
            "id": node_id(member["label"], member["key"]),
            "label": _short(str(member["key"])),
            "type": member["label"],
            "key": member["key"],
            "risk": risk,
            "color": risk_color(risk) if member["label"] == Label.ACCOUNT else "#1f78b4",
            "created": format_time(props.get(P.CREATED_AT)),
            "status": props.get(P.STATUS),
        },
        "classes": f"account {classes}" if member["label"] == Label.ACCOUNT else classes,
    }


def ring_elements(
    members: Sequence[Mapping[str, Any]],
    identifiers: Sequence[Mapping[str, Any]],
    *,
    window: tuple[datetime, datetime] | None = None,
    expanded: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    open_members: Collection[str] = (),
    collapse_at: int = DEFAULT_COLLAPSE_AT,
    min_shared: int = 2,
) -> list[dict[str, Any]]:
    """Cytoscape elements of a ring: members, the identifiers they share, and edges.

    ``members`` rows have ``label, key, props``; ``identifiers`` rows have ``label, key,
    props, links`` (each link ``member, rels, count, first, last``) and ``neighbours``
    (how many nodes link to the identifier in the whole graph). Links outside ``window``
    are left out, and an identifier left with fewer than ``min_shared`` member links
    goes too. Nodes outside the ring that share an identifier are one ``+N more`` node
    per identifier until ``expanded`` (identifier node id -> rows of
    :func:`dashboards.queries.outside_neighbours`) lists some; then those are drawn and
    the rest stay behind a smaller ``+N more``. An identifier linked to more than
    ``collapse_at`` members draws that many edges and a ``+N more`` for the rest, unless
    its node id is in ``open_members``.

    >>> members = [{"label": "Account", "key": k, "props": {"risk_score": 0.9}} for k in "ab"]
    >>> links = [{"member": k, "rels": ["USED_DEVICE"], "count": 2} for k in "ab"]
    >>> device = {"label": "Device", "key": "d1", "props": {}, "links": links, "neighbours": 5}
    >>> els = ring_elements(members, [device])
    >>> sorted(e["data"]["id"] for e in els if "source" not in e["data"])
    ['Account:a', 'Account:b', 'Device:d1', 'more:Device:d1']
    >>> [e["data"]["label"] for e in els if e["data"]["id"] == "more:Device:d1"]
    ['+3 more']
    """
    expanded = expanded or {}
    elements = [_member_node(m, classes="member") for m in members]
    member_ids = {m["key"]: node_id(m["label"], m["key"]) for m in members}
    seen = set(member_ids.values())
    for ident in drop_redundant_subnets(list(identifiers)):
        links = [
            link
            for link in ident["links"]
            if link["member"] in member_ids and _in_window(link, window)
        ]
        if len(links) < min_shared:
            continue
        ident_id = node_id(ident["label"], ident["key"])
        elements.append(_identifier_node(ident, len(links)))
        seen.add(ident_id)
        limit = None if ident_id in open_members else collapse_at
        drawn = sorted(links, key=lambda link: -(link.get("count") or 0))[:limit]
        for link in drawn:
            elements.append(_edge(member_ids[link["member"]], ident_id, link))
        hidden_members = len(links) - len(drawn)
        if hidden_members:
            elements += _more(ident_id, f"members:{ident_id}", hidden_members, "members")
        outside = max(int(ident.get("neighbours") or 0) - len(ident["links"]), 0)
        shown = expanded.get(ident_id, [])
        for row in shown:
            other = node_id(row["label"], row["key"])
            if other not in seen:
                elements.append(_member_node(row, classes="outside"))
                seen.add(other)
            elements.append(_edge(other, ident_id, row))
        if outside > len(shown):
            elements += _more(ident_id, f"more:{ident_id}", outside - len(shown), "outside")
    return elements


def _identifier_node(ident: Mapping[str, Any], n_members: int) -> dict[str, Any]:
    label, key = ident["label"], ident["key"]
    return {
        "data": {
            "id": node_id(label, key),
            "label": _short(str(key)),
            "type": label,
            "key": key,
            "color": IDENTIFIER_COLORS.get(label, "#636363"),
            "members": n_members,
            "neighbours": ident.get("neighbours"),
            "approximate": bool(ident.get("approximate")),
            **{k: v for k, v in (ident.get("props") or {}).items() if v is not None},
        },
        "classes": f"identifier {label}",
    }


def _edge(source: str, target: str, link: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "id": f"{source}->{target}",
            "source": source,
            "target": target,
            "label": _edge_label(link.get("rels", []), link.get("count")),
        }
    }


def _more(ident_id: str, more_id: str, count: int, what: str) -> list[dict[str, Any]]:
    return [
        {
            "data": {
                "id": more_id,
                "label": f"+{count} more",
                "type": "more",
                "of": ident_id,
                "what": what,
                "hidden": count,
                "color": IDENTIFIER_COLORS["more"],
            },
            "classes": "more",
        },
        {
            "data": {"id": f"{more_id}->{ident_id}", "source": more_id, "target": ident_id},
            "classes": "to-more",
        },
    ]


def graph_layout(n_elements: int) -> dict[str, Any]:
    """A cytoscape layout: force-directed for small graphs, concentric (fast) for big ones.

    >>> graph_layout(20)["name"], graph_layout(2000)["name"]
    ('cose', 'concentric')
    """
    if n_elements > 600:
        return {"name": "concentric", "animate": False, "minNodeSpacing": 12}
    return {
        "name": "cose",
        "animate": False,
        "nodeRepulsion": 9000,
        "idealEdgeLength": 90,
        "padding": 20,
        "randomize": False,
    }


def legend() -> list[tuple[str, str]]:
    """``(name, colour)`` pairs for the graph legend: identifier types, then risk.

    >>> legend()[-1]
    ('account, risk 1', '#d73027')
    """
    names = {label: str(label) for label in IDENTIFIER_COLORS if label != "more"}
    items = [(names[label], color) for label, color in IDENTIFIER_COLORS.items() if label != "more"]
    items.append(("outside nodes (click to expand)", IDENTIFIER_COLORS["more"]))
    return items + [(f"account, risk {r:g}", risk_color(r)) for r in (0, 0.5, 1)]


def node_details(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rows ``(field, value)`` for the side panel of a clicked node.

    >>> node_details({"id": "Device:d1", "type": "Device", "key": "d1", "members": 3,
    ...               "neighbours": 9, "label": "d1", "color": "#fff"})[2:]
    [('ring members linked', '3'), ('linked in the whole graph', '9')]
    """
    names = {
        "type": "type",
        "key": "key",
        "risk": "risk score",
        "created": "created",
        "status": "status",
        "members": "ring members linked",
        "neighbours": "linked in the whole graph",
        "hidden": "hidden",
        "domain": "domain",
        "card_bin": "card BIN",
        "card_country": "card country",
        "is_v6": "IPv6",
    }
    rows = []
    for field_name, title in names.items():
        value = data.get(field_name)
        if value is None or value == "":
            continue
        if field_name == "neighbours" and data.get("approximate"):
            title += " (about)"
        if field_name == "risk":
            value = f"{float(value):.3f}"
        rows.append((title, str(value)))
    return rows


def members_rows(members: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the members table (accounts and, for scraping clusters, IPs)."""
    rows = []
    for member in members:
        props = member.get("props") or {}
        risk = props.get(P.RISK_SCORE)
        rows.append(
            {
                "type": member["label"],
                "id": member["key"],
                "link": _link(member["label"], member["key"]),
                "risk_score": None if risk is None else round(float(risk), 4),
                "created_at": format_time(props.get(P.CREATED_AT)),
                "status": props.get(P.STATUS) or "",
                "country": props.get(P.COUNTRY) or "",
                "email": props.get(P.ACCOUNT_EMAIL) or "",
                "label": props.get(P.LABEL) or "",
                "reasons": "; ".join(props.get(P.REASONS) or []),
            }
        )
    return rows


def members_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of :func:`members_rows` (header row first; the markdown link left out).

    >>> print(members_csv([{"id": "a-1", "link": "[a-1](..)", "risk_score": 0.5}]), end="")
    id,risk_score
    a-1,0.5
    """
    if not rows:
        return ""
    out = io.StringIO()
    fields = [name for name in rows[0] if name != "link"]
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def case_summary(ring: Mapping[str, Any]) -> str:
    """One line on the investigator's decision on a ring.

    >>> case_summary({"status": "confirmed", "status_by": "ann", "assignee": "bo",
    ...               "status_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC)})
    'confirmed by ann at 2026-03-01 09:30; assigned to bo'
    >>> case_summary({"status": "open"})
    'open; no decision recorded yet'
    """
    status = ring.get(P.STATUS) or "open"
    if ring.get(P.STATUS_BY):
        text = f"{status} by {ring[P.STATUS_BY]} at {format_time(ring.get(P.STATUS_AT))}"
    else:
        text = f"{status}; no decision recorded yet"
    if ring.get(P.ASSIGNEE):
        text += f"; assigned to {ring[P.ASSIGNEE]}"
    return text


def case_history_rows(
    ring: Mapping[str, Any], decisions: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Rows of the ring's decision history, newest first. A ring decided before history
    was kept has no decision nodes: its latest decision (on the ring) stands alone.

    >>> at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    >>> rows = case_history_rows({}, [{"status": "confirmed", "decided_by": "ann",
    ...     "decided_at": at, "assignee": None, "note": "cards"}])
    >>> [(r["when"], r["by"], r["status"], r["note"]) for r in rows]
    [('2026-03-01 09:30', 'ann', 'confirmed', 'cards')]
    >>> case_history_rows({"status": "dismissed", "status_by": "bo", "status_at": at}, [])[0]["by"]
    'bo'
    >>> case_history_rows({"status": "open"}, [])
    []
    """
    if not decisions and ring.get(P.STATUS_BY):
        decisions = [
            {
                P.STATUS: ring.get(P.STATUS),
                P.ASSIGNEE: ring.get(P.ASSIGNEE),
                P.NOTE: ring.get(P.NOTE),
                P.DECIDED_BY: ring[P.STATUS_BY],
                P.DECIDED_AT: ring.get(P.STATUS_AT),
            }
        ]
    return [
        {
            "when": format_time(d.get(P.DECIDED_AT)),
            "by": d.get(P.DECIDED_BY) or "",
            "status": d.get(P.STATUS) or "",
            "assignee": d.get(P.ASSIGNEE) or "",
            "note": d.get(P.NOTE) or "",
        }
        for d in decisions
    ]


# ---------------------------------------------------------------- account view
def identifier_rows(identifiers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The account's identifiers table: one row per usage edge."""
    rows = []
    for ident in identifiers:
        edge = ident.get("edge") or {}
        rows.append(
            {
                "type": ident["label"],
                "identifier": str(ident["key"]),
                "how": REL_WORDS.get(ident["rel"], ident["rel"]) + f" ({ident['rel']})",
                "count": edge.get(P.COUNT),
                "first_seen": format_time(edge.get(P.FIRST_SEEN)),
                "last_seen": format_time(edge.get(P.LAST_SEEN)),
                "shared_with": max(int(ident.get("accounts") or 0) - 1, 0),
                "raw": edge.get(P.RAW) or "",
            }
        )
    return rows


def account_reasons(
    account: Mapping[str, Any], rings: Sequence[Mapping[str, Any]]
) -> list[tuple[str | None, str]]:
    """Why the account scores as it does: ``(ring_id or None, text)`` lines: detection's
    sentences on the account itself (``Account.reasons``, written nightly for flagged
    accounts by :func:`graphs.account_reasons.account_reasons`), then one line per ring it
    belongs to with that ring's reasons.

    >>> lines = account_reasons({"risk_score": 0.9, "reasons": ["shares device d1 with 7"]},
    ...     [{"ring_id": "R-1", "kind": "scraping", "score": 0.91, "status": "open",
    ...       "reasons": ["5 IPs in one /24"]}])
    >>> for line in lines: print(line)
    (None, 'shares device d1 with 7')
    ('R-1', ' (scraping, score 0.910, open): 5 IPs in one /24')
    >>> account_reasons({}, [])
    [(None, 'Not scored and in no ring.')]
    """
    lines: list[tuple[str | None, str]] = [(None, str(r)) for r in account.get(P.REASONS) or []]
    for ring in rings:
        reasons = "; ".join(ring.get(P.REASONS) or []) or "no reasons recorded"
        score = float(ring.get(P.SCORE) or 0)
        status = ring.get(P.STATUS) or "open"
        lines.append(
            (ring[P.RING_ID], f" ({ring.get(P.KIND)}, score {score:.3f}, {status}): {reasons}")
        )
    if not lines:
        scored = account.get(P.RISK_SCORE) is not None
        lines.append((None, "In no ring." if scored else "Not scored and in no ring."))
    return lines


def neighbour_rows(counts: Iterable[Mapping[str, Any]], cap: int) -> list[dict[str, Any]]:
    """Neighbour counts per identifier type, ``cap`` shown as ``cap+``.

    >>> neighbour_rows([{"label": "IP", "identifiers": 2, "accounts": 10}], cap=10)
    [{'type': 'IP', 'identifiers': 2, 'accounts': '10+'}]
    """
    return [
        {
            "type": row["label"],
            "identifiers": row["identifiers"],
            "accounts": f"{cap}+" if row["accounts"] >= cap else row["accounts"],
        }
        for row in counts
        if row["identifiers"]
    ]


def account_timeline_figure(
    account: Mapping[str, Any], identifiers: Sequence[Mapping[str, Any]]
) -> Any:
    """A plotly timeline: sign-up, logins and payments as spans (first to last seen, one
    per identifier), logged-in request windows as markers sized by requests."""
    import plotly.graph_objects as go

    fig = go.Figure()
    created = account.get(P.CREATED_AT)
    if created is not None:
        fig.add_trace(
            go.Scatter(
                x=[created],
                y=["sign-up"],
                mode="markers",
                marker={"size": 12, "symbol": "star", "color": "#333"},
                name="sign-up",
                hovertext=[f"created {format_time(created)}"],
                hoverinfo="text",
            )
        )
    spans = {"logins": [], "payments": []}
    windows: list[tuple[datetime, int, str]] = []
    for ident in identifiers:
        edge = ident.get("edge") or {}
        first, last = edge.get(P.FIRST_SEEN), edge.get(P.LAST_SEEN)
        if ident["rel"] in (Rel.USED_IP, Rel.USED_DEVICE) and edge.get(P.LOGINS):
            text = (
                f"{ident['label']} {ident['key']}: {edge[P.LOGINS]} logins, "
                f"{edge.get(P.FAILED_LOGINS) or 0} failed"
            )
            spans["logins"].append((first, last, text))
        elif ident["rel"] == Rel.PAID_WITH:
            text = (
                f"{ident['key']}: {edge.get(P.SUCCEEDED) or 0} succeeded, "
                f"{edge.get(P.DECLINED) or 0} declined, amount {edge.get(P.AMOUNT) or 0:.2f}"
            )
            spans["payments"].append((first, last, text))
        for start, n in zip(
            edge.get(P.WIN_START) or [], edge.get(P.WIN_REQUESTS) or [], strict=False
        ):
            windows.append((datetime.fromtimestamp(start, UTC), n, str(ident["key"])))
    colors = {"logins": "#1f78b4", "payments": "#ff7f00"}
    for row, items in spans.items():
        if items:
            fig.add_trace(_span_trace(row, items, colors[row]))
    if windows:
        top = max(n for _, n, _ in windows) or 1
        fig.add_trace(
            go.Scatter(
                x=[t for t, _, _ in windows],
                y=["requests"] * len(windows),
                mode="markers",
                name="requests",
                marker={"size": [6 + 18 * n / top for _, n, _ in windows], "color": "#6a3d9a"},
                hovertext=[f"{n} requests from {ip}" for _, n, ip in windows],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        height=260,
        margin={"l": 80, "r": 20, "t": 10, "b": 30},
        showlegend=False,
        yaxis={
            "categoryorder": "array",
            "categoryarray": ["requests", "payments", "logins", "sign-up"],
        },
    )
    return fig


def _span_trace(row: str, items: list[tuple[Any, Any, str]], color: str) -> Any:
    """One trace for many spans: segments separated by None, hover text on both ends."""
    import plotly.graph_objects as go

    xs: list[Any] = []
    texts: list[str | None] = []
    for first, last, text in items:
        xs += [first, last or first, None]
        texts += [text, text, None]
    return go.Scatter(
        x=xs,
        y=[row if x is not None else None for x in xs],
        mode="lines+markers",
        line={"width": 6, "color": color},
        marker={"size": 7, "color": color},
        name=row,
        hovertext=texts,
        hoverinfo="text",
    )


def account_neighbour_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the "accounts sharing a <type>" table of the account view."""
    return [
        {
            "account": _link(Label.ACCOUNT, r["account_id"]),
            "risk_score": None if r.get("risk_score") is None else round(r["risk_score"], 3),
            "created": format_time(r.get("created_at")),
            "shared": r.get("shared"),
            "via": ", ".join(str(v) for v in r.get("via") or []),
        }
        for r in rows
    ]


# --------------------------------------------------------- identifier page
def neighbourhood_rows(neighbours: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the identifier view's table: each linked node with how and when."""
    rows = []
    for n in neighbours:
        risk = (n.get("props") or {}).get(P.RISK_SCORE)
        rows.append(
            {
                "node": _link(n["label"], n["key"]),
                "type": n["label"],
                "risk_score": None if risk is None else round(float(risk), 3),
                "how": ", ".join(n.get("rels") or []),
                "count": n.get("count"),
                "first_seen": format_time(n.get("first")),
                "last_seen": format_time(n.get("last")),
            }
        )
    return rows


def identifier_elements(hood: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cytoscape elements of an identifier's neighbourhood: the identifier in the middle,
    the nodes linked to it (as returned, bounded), a ``+N more`` for the rest, and what
    it links to itself (an IP's subnet)."""
    centre = {
        "label": hood["label"],
        "key": hood["key"],
        "props": hood.get("props") or {},
        "links": [],
        "neighbours": hood.get("degree"),
    }
    elements = [_identifier_node(centre, 0)]
    centre_id = node_id(hood["label"], hood["key"])
    seen = {centre_id}
    for row in hood.get("neighbours", []):
        other = node_id(row["label"], row["key"])
        if other not in seen:
            elements.append(_member_node(row, classes="outside"))
            seen.add(other)
        elements.append(_edge(other, centre_id, row))
    for link in hood.get("links", []):
        other = node_id(link["label"], link["key"])
        if other not in seen:
            elements.append(_identifier_node({**link, "links": []}, 0))
            seen.add(other)
        elements.append(_edge(centre_id, other, {"rels": [], "count": None}))
    hidden = int(hood.get("degree") or 0) - len(hood.get("neighbours", []))
    if hidden > 0:
        elements += _more(centre_id, f"more:{centre_id}", hidden, "outside")
    return elements


# ------------------------------------------------------------------- search
#: What the search box can look for, in the order the auto mode tries them.
SEARCH_KINDS: dict[str, str] = {
    "auto": "anything",
    Label.ACCOUNT: "account id",
    Label.EMAIL: "email (raw or canonical)",
    Label.PHONE: "phone",
    Label.DEVICE: "device",
    Label.IP: "IP",
    Label.SUBNET: "subnet",
    Label.PAYMENT_METHOD: "payment method",
}
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")


def _subnet_of(text: str) -> str | None:
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=False))
        from ingest.normalise import ip_subnet, normalise_ip

        ip = normalise_ip(text)
        return ip_subnet(ip) if ip else None
    except ValueError:
        return None


def search_candidates(text: str, kind: str = "auto") -> list[tuple[str, str]]:
    """``(label, key)`` pairs to look up for what the investigator typed.

    Emails are canonicalised (and the lower-cased text tried too), phones normalised to
    E.164, IPs compressed; ``auto`` guesses the type from the text's shape.

    >>> search_candidates("John.Doe+x@GoogleMail.com")
    [('Email', 'johndoe@gmail.com'), ('Email', 'john.doe+x@googlemail.com')]
    >>> search_candidates("203.0.113.7")
    [('IP', '203.0.113.7'), ('Subnet', '203.0.113.0/24')]
    >>> search_candidates("d-9", "Device")
    [('Device', 'd-9')]
    """
    from ingest.normalise import canonical_email, normalise_ip, normalise_phone

    text = text.strip()
    if not text:
        return []
    if kind == "auto":
        if "@" in text:
            kind = Label.EMAIL
        elif normalise_ip(text.split("/")[0]) is not None:
            kind = Label.SUBNET if "/" in text else Label.IP
        elif _PHONE.match(text):
            kind = Label.PHONE
        else:
            keys = (Label.ACCOUNT, Label.DEVICE, Label.PAYMENT_METHOD, Label.CREATOR)
            return [(str(label), text) for label in keys]
    found: list[tuple[str, str]] = []
    if kind == Label.EMAIL:
        found = [(Label.EMAIL, canonical_email(text) or text), (Label.EMAIL, text.lower())]
    elif kind == Label.PHONE:
        digits = re.sub(r"\D", "", text)
        found = [(Label.PHONE, normalise_phone(text) or text), (Label.PHONE, digits)]
    elif kind == Label.IP:
        ip = normalise_ip(text)
        found = [(Label.IP, ip), (Label.SUBNET, _subnet_of(ip))] if ip else []
    elif kind == Label.SUBNET:
        subnet = _subnet_of(text)
        found = [(Label.SUBNET, subnet)] if subnet else []
    elif kind in SEARCH_KINDS:
        found = [(kind, text)]
    return [(str(label), key) for label, key in dict.fromkeys(found) if key]


# ------------------------------------------------------------------- cypher
def _node_key(node: Mapping[str, Any]) -> str:
    props = node.get("props") or {}
    for label in node.get("labels", []):
        key = IDENTIFIER_KEYS.get(label)
        if key and key in props:
            return str(props[key])
    return str(node["id"])


def cypher_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """DataTable rows of a query result, every cell made displayable.

    >>> cypher_table(["n", "t"], [[1, datetime(2026, 1, 2, tzinfo=UTC)]])
    [{'n': 1, 't': '2026-01-02 00:00'}]
    """
    return [{col: cell_text(v) for col, v in zip(columns, row, strict=True)} for row in rows]


def query_params(json_text: str | None, form: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters from the JSON box and the saved query's form (the form wins;
    empty form fields are left out). Raises ValueError with a readable message.

    >>> query_params('{"min_score": 0.5}', {"ring_id": "R-1", "limit": ""})
    {'min_score': 0.5, 'ring_id': 'R-1'}
    >>> query_params("[1]", {})
    Traceback (most recent call last):
    ...
    ValueError: Parameters must be a JSON object such as {"ring_id": "R-1"}.
    """
    params: dict[str, Any] = {}
    if json_text and json_text.strip():
        try:
            params = json.loads(json_text)
        except json.JSONDecodeError as error:
            raise ValueError(f"Parameters are not valid JSON: {error.msg}.") from None
        if not isinstance(params, dict):
            raise ValueError('Parameters must be a JSON object such as {"ring_id": "R-1"}.')
    params.update({k: v for k, v in form.items() if v not in (None, "")})
    return params


def _walk_graph(value: Any, nodes: dict[str, Any], rels: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        if "_node" in value:
            nodes[value["_node"]["id"]] = value["_node"]
        elif "_rel" in value:
            rels[value["_rel"]["id"]] = value["_rel"]
        elif "_path" in value:
            for node in value["_path"]["nodes"]:
                nodes[node["id"]] = node
            for rel in value["_path"]["rels"]:
                rels[rel["id"]] = rel
        else:
            for v in value.values():
                _walk_graph(v, nodes, rels)
    elif isinstance(value, list):
        for v in value:
            _walk_graph(v, nodes, rels)


def cypher_elements(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Cytoscape elements of the nodes, relationships and paths anywhere in a result.

    A relationship whose end nodes the result does not hold is drawn to a bare node.

    >>> a = {"_node": {"id": "1", "labels": ["Account"], "props": {"account_id": "a-1"}}}
    >>> r = {"_rel": {"id": "9", "type": "USED_IP", "start": "1", "end": "2", "props": {}}}
    >>> [e["data"]["id"] for e in cypher_elements([[a, r]])]
    ['1', '2', '9']
    """
    nodes: dict[str, Any] = {}
    rels: dict[str, Any] = {}
    for row in rows:
        _walk_graph(list(row), nodes, rels)
    for rel in rels.values():
        for end in (rel["start"], rel["end"]):
            nodes.setdefault(end, {"id": end, "labels": [], "props": {}})
    elements = []
    for node in nodes.values():
        label = node["labels"][0] if node["labels"] else "?"
        props = node.get("props") or {}
        color = (
            risk_color(props.get(P.RISK_SCORE))
            if label == Label.ACCOUNT
            else IDENTIFIER_COLORS.get(label, "#636363")
        )
        elements.append(
            {
                "data": {
                    "id": node["id"],
                    "label": _short(_node_key(node)),
                    "type": label,
                    "key": _node_key(node),
                    "color": color,
                }
            }
        )
    for rel in rels.values():
        elements.append(
            {
                "data": {
                    "id": rel["id"],
                    "source": rel["start"],
                    "target": rel["end"],
                    "label": rel["type"],
                }
            }
        )
    return elements
