"""Account view: identifiers, activity timeline, neighbours by identifier type, risk and
the reasons for it."""

from __future__ import annotations

from urllib.parse import quote, unquote

import dash
from dash import ALL, Input, Output, callback, ctx, dash_table, dcc, html, no_update

from dashboards import queries, views
from dashboards.app import context, safe_layout
from graphs.model import Prop

dash.register_page(
    __name__, path_template="/account/<account_id>", name="Account", title="ringwatch: account"
)

P = Prop
IDENTIFIER_COLUMNS = [
    {"name": "type", "id": "type"},
    {"name": "identifier", "id": "identifier"},
    {"name": "how", "id": "how"},
    {"name": "count", "id": "count", "type": "numeric"},
    {"name": "first seen", "id": "first_seen"},
    {"name": "last seen", "id": "last_seen"},
    {"name": "shared with", "id": "shared_with", "type": "numeric"},
    {"name": "raw email", "id": "raw"},
]
NEIGHBOUR_LIMIT = 100
TABLE_STYLE = {"textAlign": "left", "fontSize": 13, "padding": "4px 8px", "maxWidth": 380}


def _risk_block(account: dict, rings: list[dict]) -> html.Div:
    risk = account.get(P.RISK_SCORE)
    lines = views.account_reasons(account, rings)
    own = [text for ring_id, text in lines if ring_id is None]
    in_rings = [(ring_id, text) for ring_id, text in lines if ring_id]
    return html.Div(
        className="rw-panel",
        children=[
            html.H4("Risk"),
            html.Div(
                "unscored" if risk is None else f"{float(risk):.3f}",
                className="rw-risk",
                style={"backgroundColor": views.risk_color(risk)},
            ),
            html.Ul([html.Li(text) for text in own], id="account-reasons"),
            html.Ul(
                [
                    html.Li([dcc.Link(ring_id, href=f"/ring/{quote(ring_id, safe='')}"), text])
                    for ring_id, text in in_rings
                ],
                id="account-rings",
            ),
        ],
    )


def _facts(account: dict) -> html.Div:
    names = [
        (P.CREATED_AT, "created"),
        (P.COUNTRY, "country"),
        (P.STATUS, "status"),
        (P.ACCOUNT_EMAIL, "email"),
        (P.ACCOUNT_PHONE, "phone"),
        (P.LABEL, "label"),
        (P.LABEL_SOURCE, "label source"),
    ]
    return html.Div(
        [
            html.Span(
                [html.B(title + ": "), views.format_time(account.get(key))], className="rw-fact"
            )
            for key, title in names
            if account.get(key) is not None
        ],
        className="rw-facts",
    )


@safe_layout
def layout(account_id: str | None = None, **_):
    account_id = unquote(account_id or "")
    c = context()
    data = queries.account_data(c.driver, c.database, account_id)
    if data is None:
        return html.Div(
            [html.H2("No such account"), html.P(f"There is no account {account_id!r}.")]
        )
    identifiers = views.identifier_rows(data.identifiers)
    counts = views.neighbour_rows(
        queries.neighbour_counts(c.driver, c.database, account_id), queries.NEIGHBOUR_COUNT_CAP
    )
    return html.Div(
        [
            dcc.Store(id="account-id", data=account_id),
            html.Div(
                [
                    html.Div([html.H2(f"Account {account_id}"), _facts(data.account)]),
                    _risk_block(data.account, data.rings),
                ],
                className="rw-two-cols",
            ),
            html.H4("Activity"),
            dcc.Graph(
                id="account-timeline",
                figure=views.account_timeline_figure(data.account, data.identifiers),
                config={"displaylogo": False},
            ),
            html.H4(f"Identifiers ({len(data.identifiers)})"),
            dash_table.DataTable(
                id="account-identifiers",
                columns=IDENTIFIER_COLUMNS,
                data=identifiers,
                page_size=15,
                sort_action="native",
                style_table={"overflowX": "auto"},
                style_cell=TABLE_STYLE,
                style_cell_conditional=[
                    {
                        "if": {"column_id": "identifier"},
                        "maxWidth": 300,
                        "overflow": "hidden",
                        "textOverflow": "ellipsis",
                    }
                ],
                tooltip_data=[{"identifier": row["identifier"]} for row in identifiers],
            ),
            html.H4("Neighbours by identifier type"),
            html.Div(
                [
                    html.Button(
                        f"{row['type']}: {row['accounts']} accounts via {row['identifiers']}",
                        id={"type": "account-expand", "label": row["type"]},
                        n_clicks=0,
                        disabled=row["accounts"] == 0,
                        className="rw-chip",
                    )
                    for row in counts
                ]
                or html.P("No identifiers.", className="rw-muted"),
                className="rw-row",
            ),
            html.Div(id="account-neighbours"),
        ]
    )


@callback(
    Output("account-neighbours", "children"),
    Input({"type": "account-expand", "label": ALL}, "n_clicks"),
    Input("account-id", "data"),
    prevent_initial_call=True,
)
def expand_type(clicks, account_id):
    if not ctx.triggered_id or not isinstance(ctx.triggered_id, dict) or not any(clicks):
        return no_update
    label = ctx.triggered_id["label"]
    c = context()
    rows = queries.account_neighbours(
        c.driver, c.database, account_id, label, limit=NEIGHBOUR_LIMIT
    )
    return [
        html.H4(f"Accounts sharing a {label} (first {NEIGHBOUR_LIMIT}, most shared first)"),
        dash_table.DataTable(
            id="account-neighbour-table",
            columns=[
                {"name": "account", "id": "account", "presentation": "markdown"},
                {"name": "risk score", "id": "risk_score", "type": "numeric"},
                {"name": "created", "id": "created"},
                {"name": f"{label}s shared", "id": "shared", "type": "numeric"},
                {"name": "via", "id": "via"},
            ],
            data=views.account_neighbour_rows(rows),
            page_size=20,
            sort_action="native",
            markdown_options={"link_target": "_self"},
            style_cell=TABLE_STYLE,
        ),
    ]
