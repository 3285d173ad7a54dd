"""Ring view: the ring's subgraph, its reasons, its members, and the case decision."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from urllib.parse import unquote

import dash
import dash_cytoscape as cyto
from dash import Input, Output, State, callback, dash_table, dcc, html, no_update

from dashboards import queries, views
from dashboards.app import context, current_user, safe_layout
from graphs.model import RING_STATUSES, Label

dash.register_page(__name__, path_template="/ring/<ring_id>", name="Ring", title="ringwatch: ring")

#: How many outside nodes one click on "+N more" adds.
EXPAND_STEP = 50
CSV_MEMBER_LIMIT = 100_000
MEMBER_COLUMNS = [
    {"name": "type", "id": "type"},
    {"name": "id", "id": "link", "presentation": "markdown"},
    {"name": "risk score", "id": "risk_score", "type": "numeric"},
    {"name": "created", "id": "created_at"},
    {"name": "status", "id": "status"},
    {"name": "country", "id": "country"},
    {"name": "email", "id": "email"},
    {"name": "label", "id": "label"},
    {"name": "reasons", "id": "reasons"},
]


class _RecentRings:
    """The graph data of the rings whose pages were opened last, for the graph's own
    callbacks (a click on ``+N more``, the time slider): they redraw the ring the page
    just read, so they reuse it instead of reading 500 nodes again. A page load always
    reads afresh; an entry lives ``ttl_s`` seconds (the subgraph changes only when
    detection runs)."""

    def __init__(self, size: int = 8, ttl_s: float = 300.0) -> None:
        self.size, self.ttl_s = size, ttl_s
        self._items: OrderedDict[tuple, tuple[float, queries.RingGraphData]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: tuple, data: queries.RingGraphData) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), data)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: tuple) -> queries.RingGraphData | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or time.monotonic() - item[0] > self.ttl_s:
                return None
            return item[1]


RECENT = _RecentRings()


def _ring_data(ring_id: str, *, fresh: bool) -> queries.RingGraphData | None:
    c = context()
    key = (id(c.driver), c.database, ring_id)
    data = None if fresh else RECENT.get(key)
    if data is None:
        data = queries.ring_graph_data(c.driver, c.database, ring_id)
        if data is not None:
            RECENT.put(key, data)
    return data


def _graph_elements(ring_id: str, window, expanded: dict, open_members: list) -> list[dict]:
    c = context()
    data = _ring_data(ring_id, fresh=False)
    if data is None:
        return []
    outside = {}
    for ident_id, shown in (expanded or {}).items():
        label, _, key = ident_id.partition(":")
        outside[ident_id] = queries.outside_neighbours(
            c.driver, c.database, label, key, ring_id=ring_id, limit=int(shown)
        )
    return views.ring_elements(
        data.members,
        data.identifiers,
        window=window,
        expanded=outside,
        open_members=set(open_members or []),
    )


def _legend() -> html.Div:
    return html.Div(
        [
            html.Span(
                [html.Span(className="rw-swatch", style={"backgroundColor": color}), name],
                className="rw-legend-item",
            )
            for name, color in views.legend()
        ],
        className="rw-legend",
    )


HISTORY_COLUMNS = [
    {"name": name, "id": name} for name in ("when", "by", "status", "assignee", "note")
]


def _case_panel(ring: dict, history: list[dict]) -> html.Div:
    return html.Div(
        className="rw-panel",
        children=[
            html.H4("Case"),
            dcc.Dropdown(
                id="ring-case-status",
                options=list(RING_STATUSES),
                value=ring.get("status") or "open",
                clearable=False,
            ),
            dcc.Input(
                id="ring-case-assignee",
                value=ring.get("assignee") or "",
                placeholder="assignee",
                debounce=False,
            ),
            dcc.Textarea(id="ring-case-note", value=ring.get("note") or "", placeholder="note"),
            html.Button("Save decision", id="ring-case-save", n_clicks=0),
            html.P(views.case_summary(ring), id="ring-case-message", className="rw-muted"),
            html.H5("Decisions, newest first"),
            dash_table.DataTable(
                id="ring-case-history",
                columns=HISTORY_COLUMNS,
                data=views.case_history_rows(ring, history),
                page_size=10,
                style_table={"overflowX": "auto"},
                style_cell={"textAlign": "left", "fontSize": 12, "padding": "2px 6px"},
                style_cell_conditional=[
                    {"if": {"column_id": "when"}, "minWidth": "110px"},
                    {"if": {"column_id": "note"}, "minWidth": "140px"},
                ],
                style_data={"whiteSpace": "normal", "height": "auto"},
            ),
        ],
    )


def _header(ring: dict, size: int) -> html.Div:
    facts = [
        ("kind", ring.get("kind")),
        ("score", f"{float(ring.get('score') or 0):.3f}"),
        ("members", f"{size:,}"),
        ("first seen", views.format_time(ring.get("first_seen"))),
        ("last seen", views.format_time(ring.get("last_seen"))),
        ("detected", views.format_time(ring.get("detected_at"))),
    ]
    return html.Div(
        [
            html.H2(f"Ring {ring['ring_id']}"),
            html.Div(
                [
                    html.Span([html.B(k + ": "), str(v or "")], className="rw-fact")
                    for k, v in facts
                ],
                className="rw-facts",
            ),
            html.H4("Why it was flagged"),
            html.Ul([html.Li(r) for r in ring.get("reasons") or []] or [html.Li("no reasons")]),
        ]
    )


@safe_layout
def layout(ring_id: str | None = None, **_):
    ring_id = unquote(ring_id or "")
    c = context()
    data = _ring_data(ring_id, fresh=True)
    if data is None:
        return html.Div([html.H2("No such ring"), html.P(f"There is no ring {ring_id!r}.")])
    history = queries.case_history(c.driver, c.database, ring_id)
    slider = views.time_slider(views.time_bounds(data.identifiers))
    elements = views.ring_elements(data.members, data.identifiers)
    return html.Div(
        [
            dcc.Store(id="ring-id", data=ring_id),
            dcc.Store(id="ring-time-origin", data=slider["origin"]),
            dcc.Store(id="ring-expanded", data={}),
            dcc.Store(id="ring-open", data=[]),
            html.Div(
                [_header(data.ring, data.size), _case_panel(data.ring, history)],
                className="rw-two-cols",
            ),
            html.Div(
                className="rw-slider",
                children=[
                    html.Label("activity between"),
                    dcc.RangeSlider(
                        id="ring-time",
                        min=slider["min"],
                        max=slider["max"],
                        step=1,
                        value=slider["value"],
                        marks=slider["marks"],
                    ),
                ],
            ),
            html.Div(
                className="rw-graph-row",
                children=[
                    cyto.Cytoscape(
                        id="ring-graph",
                        elements=elements,
                        stylesheet=views.RING_STYLESHEET,
                        layout=views.graph_layout(len(elements)),
                        style={"width": "100%", "height": "560px"},
                        minZoom=0.1,
                        maxZoom=3,
                    ),
                    html.Div(
                        id="ring-details",
                        className="rw-panel rw-side",
                        children=html.P("Click a node for details.", className="rw-muted"),
                    ),
                ],
            ),
            _legend(),
            html.Div(
                [
                    html.H4(f"Members ({data.size:,})"),
                    html.Button("Export CSV", id="ring-export", n_clicks=0),
                    dcc.Download(id="ring-download"),
                ],
                className="rw-row",
            ),
            dash_table.DataTable(
                id="ring-members",
                columns=MEMBER_COLUMNS,
                data=views.members_rows(data.members),
                page_size=25,
                sort_action="native",
                markdown_options={"link_target": "_self"},
                style_cell={"textAlign": "left", "fontSize": 13, "padding": "4px 8px"},
                style_cell_conditional=[
                    {
                        "if": {"column_id": "reasons"},
                        "whiteSpace": "normal",
                        "minWidth": "320px",
                        "maxWidth": "520px",
                        "fontSize": 12,
                    }
                ],
            ),
        ]
    )


@callback(
    Output("ring-graph", "elements"),
    Input("ring-time", "value"),
    Input("ring-expanded", "data"),
    Input("ring-open", "data"),
    State("ring-time-origin", "data"),
    State("ring-id", "data"),
    prevent_initial_call=True,
)
def update_graph(value, expanded, open_members, origin, ring_id):
    return _graph_elements(ring_id, views.slider_window(origin, value), expanded, open_members)


@callback(
    Output("ring-details", "children"),
    Output("ring-expanded", "data"),
    Output("ring-open", "data"),
    Input("ring-graph", "tapNodeData"),
    State("ring-expanded", "data"),
    State("ring-open", "data"),
    prevent_initial_call=True,
)
def tap_node(node, expanded, open_members):
    if not node:
        return no_update, no_update, no_update
    if node.get("type") == "more":
        ident_id = node["of"]
        if node.get("what") == "members":
            return no_update, no_update, sorted({*(open_members or []), ident_id})
        expanded = dict(expanded or {})
        expanded[ident_id] = int(expanded.get(ident_id, 0)) + EXPAND_STEP
        return no_update, expanded, no_update
    return details_panel(node), no_update, no_update


def details_panel(node: dict) -> list:
    """The side panel of a clicked node: its facts and a link to its own page."""
    rows = views.node_details(node)
    href = views.entity_href(str(node.get("type")), str(node.get("key", "")))
    text = "open account" if node.get("type") == Label.ACCOUNT else "open neighbourhood"
    return [
        html.H4(str(node.get("key"))),
        html.Table([html.Tr([html.Th(k), html.Td(v)]) for k, v in rows]),
        dcc.Link(text, href=href),
    ]


@callback(
    Output("ring-case-message", "children"),
    Output("ring-case-history", "data"),
    Input("ring-case-save", "n_clicks"),
    State("ring-case-status", "value"),
    State("ring-case-assignee", "value"),
    State("ring-case-note", "value"),
    State("ring-id", "data"),
    prevent_initial_call=True,
)
def save_case(_clicks, status, assignee, note, ring_id):
    c = context()
    update = queries.CaseUpdate(status=status, assignee=assignee, note=note, by=current_user())
    ring = queries.set_case(c.driver, c.database, ring_id, update)
    if ring is None:
        return f"Ring {ring_id} no longer exists; nothing saved.", no_update
    history = queries.case_history(c.driver, c.database, ring_id)
    return "Saved. " + views.case_summary(ring), views.case_history_rows(ring, history)


@callback(
    Output("ring-download", "data"),
    Input("ring-export", "n_clicks"),
    State("ring-id", "data"),
    prevent_initial_call=True,
)
def export_members(_clicks, ring_id):
    c = context()
    members = queries.ring_members(c.driver, c.database, ring_id, limit=CSV_MEMBER_LIMIT)
    text = views.members_csv(views.members_rows(members))
    return dcc.send_string(text, filename=f"{ring_id}-members.csv", type="text/csv")
