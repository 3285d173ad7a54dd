"""Search: find an account, email (raw or canonical), phone, device, IP, subnet or payment
method, and go to its neighbourhood."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboards import queries, views
from dashboards.app import context, safe_layout
from graphs.model import Label

dash.register_page(__name__, path="/search", name="Search", title="ringwatch: search", order=1)


def results(text: str, kind: str) -> list:
    """The result list for what was typed (empty text: a hint)."""
    candidates = views.search_candidates(text or "", kind or "auto")
    if not candidates:
        return [html.P("Type an account id, email, phone, device, IP, subnet or card id.")]
    c = context()
    found = queries.search_entities(c.driver, c.database, candidates)
    if not found:
        tried = ", ".join(f"{label} {key}" for label, key in candidates)
        return [html.P(f"Nothing found (looked for {tried}).", id="search-empty")]
    items = []
    for entity in found:
        accounts = entity.get("accounts") or []
        items.append(
            html.Li(
                [
                    html.B(entity["label"] + " "),
                    dcc.Link(
                        str(entity["key"]), href=views.entity_href(entity["label"], entity["key"])
                    ),
                    html.Span(f"  {entity.get('degree', 0):,} links", className="rw-muted")
                    if entity["label"] != Label.ACCOUNT
                    else "",
                    html.Ul(
                        [
                            html.Li(
                                [
                                    "account ",
                                    dcc.Link(
                                        a["account_id"],
                                        href=views.entity_href(Label.ACCOUNT, a["account_id"]),
                                        className="search-account",
                                    ),
                                    f"  risk {a['risk_score']:.3f}"
                                    if a.get("risk_score") is not None
                                    else "",
                                ]
                            )
                            for a in accounts
                        ]
                    )
                    if entity["label"] != Label.ACCOUNT
                    else "",
                ]
            )
        )
    return [html.Ul(items, id="search-found")]


@safe_layout
def layout(q: str = "", kind: str = "auto", **_):
    kind = kind if kind in views.SEARCH_KINDS else "auto"
    return html.Div(
        [
            html.H2("Search"),
            html.Div(
                className="rw-controls",
                children=[
                    dcc.Input(
                        id="search-text",
                        value=q,
                        type="search",
                        placeholder="account id, email, phone, device, IP, subnet, card",
                        style={"width": "28em"},
                    ),
                    dcc.Dropdown(
                        id="search-kind",
                        options=[{"label": v, "value": k} for k, v in views.SEARCH_KINDS.items()],
                        value=kind,
                        clearable=False,
                        style={"width": "16em"},
                    ),
                    html.Button("Search", id="search-go", n_clicks=0),
                ],
            ),
            html.Div(results(q, kind) if q else [], id="search-results"),
        ]
    )


@callback(
    Output("search-results", "children"),
    Input("search-go", "n_clicks"),
    Input("search-text", "n_submit"),
    State("search-text", "value"),
    State("search-kind", "value"),
    prevent_initial_call=True,
)
def search(_clicks, _submits, text, kind):
    return results(text, kind)
