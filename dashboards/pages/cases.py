"""My cases: rings assigned to me or last decided by me."""

from __future__ import annotations

import dash
from dash import dash_table, html

from dashboards import queries, views
from dashboards.app import context, current_user, safe_layout

dash.register_page(__name__, path="/cases", name="My cases", title="ringwatch: my cases", order=2)


@safe_layout
def layout(**_):
    me = current_user()
    c = context()
    cases = queries.my_cases(c.driver, c.database, me)
    return html.Div(
        [
            html.H2(f"Cases of {me}"),
            html.P(
                f"{len(cases)} rings assigned to {me} or last decided by {me}.",
                className="rw-muted",
            ),
            dash_table.DataTable(
                id="cases-table",
                columns=[
                    {"name": "ring", "id": "ring_id", "presentation": "markdown"},
                    {"name": "status", "id": "status"},
                    {"name": "kind", "id": "kind"},
                    {"name": "score", "id": "score", "type": "numeric"},
                    {"name": "size", "id": "size", "type": "numeric"},
                    {"name": "assignee", "id": "assignee"},
                    {"name": "decided", "id": "decided"},
                    {"name": "note", "id": "note"},
                ],
                data=views.case_rows(cases),
                page_size=25,
                sort_action="native",
                filter_action="native",
                markdown_options={"link_target": "_self"},
                style_cell={"textAlign": "left", "fontSize": 13, "padding": "4px 8px"},
            ),
        ]
    )
