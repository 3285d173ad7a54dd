"""Ring queue: every ring, filtered, sorted and paged in Neo4j (open rings, highest
score first, by default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dash
from dash import Input, Output, State, callback, ctx, dash_table, dcc, html

from dashboards import queries, views
from dashboards.app import context, safe_layout
from graphs.model import RING_KINDS, RING_STATUSES

dash.register_page(__name__, path="/", name="Ring queue", title="ringwatch: ring queue", order=0)

PAGE_SIZE = 25
COLUMNS = [
    {"name": "ring", "id": "ring_id", "presentation": "markdown"},
    {"name": "score", "id": "score", "type": "numeric"},
    {"name": "kind", "id": "kind"},
    {"name": "size", "id": "size", "type": "numeric"},
    {"name": "status", "id": "status"},
    {"name": "assignee", "id": "assignee"},
    {"name": "first seen", "id": "first_seen"},
    {"name": "last seen", "id": "last_seen"},
    {"name": "new", "id": "new"},
]


def ring_filter(statuses, kinds, score, start, end, search, only_new) -> queries.RingFilter:
    """The filter the controls describe (the date range covers whole days, UTC)."""
    lo, hi = score or (0.0, 1.0)
    since = datetime.fromisoformat(start[:10]).replace(tzinfo=UTC) if start else None
    until = (
        datetime.fromisoformat(end[:10]).replace(tzinfo=UTC) + timedelta(days=1) if end else None
    )
    return queries.RingFilter(
        statuses=tuple(statuses or RING_STATUSES),
        kinds=tuple(kinds or RING_KINDS),
        min_score=float(lo),
        max_score=float(hi),
        since=since,
        until=until,
        search=search or "",
        only_new=bool(only_new),
    )


def _page(ring_filter: queries.RingFilter, sort_by, page: int, page_size: int):
    sort, descending = views.queue_sort(sort_by)
    if sort not in queries.QUEUE_SORT_KEYS:
        sort, descending = "score", True
    c = context()
    return queries.ring_page(
        c.driver,
        c.database,
        ring_filter,
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )


def _count_text(result: queries.RingPage) -> str:
    new = f"; new since {views.format_time(result.cutoff)}" if result.cutoff else ""
    return f"{result.total:,} rings match{new}"


@safe_layout
def layout(status: str | None = None, kind: str | None = None, q: str = "", **_):
    statuses = [status] if status in RING_STATUSES else ["open"]
    kinds = [kind] if kind in RING_KINDS else list(RING_KINDS)
    sort_by = [{"column_id": "score", "direction": "desc"}]
    result = _page(ring_filter(statuses, kinds, None, None, None, q, False), sort_by, 0, PAGE_SIZE)
    pages = max(1, -(-result.total // PAGE_SIZE))
    controls = html.Div(
        className="rw-controls",
        children=[
            dcc.Dropdown(
                id="queue-status",
                options=list(RING_STATUSES),
                value=statuses,
                multi=True,
                placeholder="status",
            ),
            dcc.Dropdown(
                id="queue-kind",
                options=list(RING_KINDS),
                value=kinds,
                multi=True,
                placeholder="kind",
            ),
            html.Div(
                [
                    html.Label("score"),
                    dcc.RangeSlider(
                        id="queue-score",
                        min=0,
                        max=1,
                        step=0.05,
                        value=[0, 1],
                        marks={0: "0", 0.5: "0.5", 1: "1"},
                    ),
                ],
                className="rw-slider",
            ),
            dcc.DatePickerRange(
                id="queue-dates",
                start_date_placeholder_text="seen from",
                end_date_placeholder_text="to",
            ),
            dcc.Input(
                id="queue-search",
                type="search",
                value=q,
                debounce=True,
                placeholder="ring id, member account id or reason words",
            ),
            dcc.Checklist(
                id="queue-new", options=[{"label": " only new", "value": "new"}], value=[]
            ),
        ],
    )
    return html.Div(
        [
            html.H2("Ring queue"),
            controls,
            html.P(_count_text(result), id="queue-count", className="rw-muted"),
            dash_table.DataTable(
                id="queue-table",
                columns=COLUMNS,
                data=views.queue_rows(result.rows),
                page_action="custom",
                page_current=0,
                page_size=PAGE_SIZE,
                page_count=pages,
                sort_action="custom",
                sort_mode="single",
                sort_by=sort_by,
                markdown_options={"link_target": "_self"},
                style_cell={"textAlign": "left", "fontSize": 13, "padding": "4px 8px"},
                style_data_conditional=[
                    {"if": {"filter_query": "{new} = new"}, "fontWeight": "bold"},
                ],
            ),
        ]
    )


@callback(
    Output("queue-table", "data"),
    Output("queue-table", "page_count"),
    Output("queue-table", "page_current"),
    Output("queue-count", "children"),
    Input("queue-status", "value"),
    Input("queue-kind", "value"),
    Input("queue-score", "value"),
    Input("queue-dates", "start_date"),
    Input("queue-dates", "end_date"),
    Input("queue-search", "value"),
    Input("queue-new", "value"),
    Input("queue-table", "page_current"),
    Input("queue-table", "sort_by"),
    State("queue-table", "page_size"),
    prevent_initial_call=True,
)
def update_queue(statuses, kinds, score, start, end, search, new, page, sort_by, page_size):
    # a new filter or sort starts again at the first page
    if "queue-table.page_current" not in ctx.triggered_prop_ids:
        page = 0
    flt = ring_filter(statuses, kinds, score, start, end, search, "new" in (new or []))
    result = _page(flt, sort_by, page or 0, page_size or PAGE_SIZE)
    pages = max(1, -(-result.total // (page_size or PAGE_SIZE)))
    return views.queue_rows(result.rows), pages, result.page, _count_text(result)
