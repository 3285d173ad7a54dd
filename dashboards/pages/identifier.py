"""Identifier view: the neighbourhood of one device, IP, subnet, email, phone, payment
method, creator or user agent (the accounts linked to it, highest risk first)."""

from __future__ import annotations

import dash
import dash_cytoscape as cyto
from dash import dash_table, html

from dashboards import queries, views
from dashboards.app import context, safe_layout

dash.register_page(__name__, path="/identifier", name="Identifier", title="ringwatch: identifier")

NEIGHBOUR_LIMIT = 200


@safe_layout
def layout(label: str | None = None, key: str | None = None, **_):
    if label not in queries.IDENTIFIER or not key:
        return html.Div(
            [html.H2("No identifier"), html.P("Open an identifier from a ring or a search.")]
        )
    c = context()
    hood = queries.identifier_neighbourhood(c.driver, c.database, label, key, limit=NEIGHBOUR_LIMIT)
    if hood is None:
        return html.Div([html.H2("Not found"), html.P(f"There is no {label} {key!r}.")])
    shown = len(hood["neighbours"])
    return html.Div(
        [
            html.H2(f"{label} {key}"),
            html.P(
                f"{hood['degree']:,} links in the graph; the {shown} highest-risk shown.",
                className="rw-muted",
            ),
            cyto.Cytoscape(
                id="identifier-graph",
                elements=views.identifier_elements(hood),
                stylesheet=views.RING_STYLESHEET,
                layout=views.graph_layout(2 * shown),
                style={"width": "100%", "height": "460px"},
                maxZoom=1.2,
            ),
            dash_table.DataTable(
                id="identifier-table",
                columns=[
                    {"name": "node", "id": "node", "presentation": "markdown"},
                    {"name": "type", "id": "type"},
                    {"name": "risk score", "id": "risk_score", "type": "numeric"},
                    {"name": "how", "id": "how"},
                    {"name": "count", "id": "count", "type": "numeric"},
                    {"name": "first seen", "id": "first_seen"},
                    {"name": "last seen", "id": "last_seen"},
                ],
                data=views.neighbourhood_rows(hood["neighbours"]),
                page_size=25,
                sort_action="native",
                markdown_options={"link_target": "_self"},
                style_cell={"textAlign": "left", "fontSize": 13, "padding": "4px 8px"},
            ),
        ]
    )
