"""Cypher: the saved analyst queries (``graphs/queries/*.cypher``) with parameter forms,
and a free query box. Every query runs read-only, with a timeout and a row limit; a write
is refused."""

from __future__ import annotations

import dash
import dash_cytoscape as cyto
from dash import ALL, Input, Output, State, callback, dash_table, dcc, html

from dashboards import queries, views
from dashboards.app import context, safe_layout
from graphs.errors import QueryError

dash.register_page(__name__, path="/cypher", name="Cypher", title="ringwatch: cypher", order=3)

EXAMPLE = (
    "MATCH (r:Ring)<-[:MEMBER_OF]-(a:Account)-[e:USED_DEVICE]->(d:Device)\n"
    "WHERE r.score >= $min_score\n"
    "RETURN r, a, e, d LIMIT 50"
)
EXAMPLE_PARAMS = '{"min_score": 0.5}'


@safe_layout
def layout(name: str | None = None, **_):
    library = queries.saved_queries()
    c = context()
    chosen = library.get(name) if name else None
    return html.Div(
        [
            html.H2("Cypher"),
            html.P(
                f"Read-only: writes are refused. Each query stops after {c.cypher_timeout_s:g} s "
                f"and returns at most {c.cypher_row_limit:,} rows.",
                className="rw-muted",
            ),
            dcc.Dropdown(
                id="cypher-saved",
                options=[
                    {"label": f"{q.name}: {q.description[:80]}", "value": q.name}
                    for q in library.values()
                ],
                value=chosen.name if chosen else None,
                placeholder="saved analyst queries",
                style={"width": "46em"},
            ),
            html.P(chosen.description if chosen else "", id="cypher-description"),
            html.Div(_form(chosen) if chosen else [], id="cypher-form", className="rw-controls"),
            dcc.Textarea(
                id="cypher-text",
                value=chosen.text if chosen else EXAMPLE,
                style={"width": "100%", "height": "9em", "fontFamily": "monospace"},
            ),
            dcc.Textarea(
                id="cypher-json",
                value="" if chosen else EXAMPLE_PARAMS,
                placeholder='more parameters as JSON, e.g. {"min_score": 0.5}',
                style={"width": "100%", "height": "2.5em", "fontFamily": "monospace"},
            ),
            html.Button("Run", id="cypher-run", n_clicks=0),
            html.Div(id="cypher-message", className="rw-message"),
            dash_table.DataTable(
                id="cypher-table",
                page_size=20,
                sort_action="native",
                style_table={"overflowX": "auto"},
                style_cell={"textAlign": "left", "fontSize": 12, "maxWidth": 360},
            ),
            # the graph is created with its elements: cytoscape sized while hidden would
            # lay them out in a 0 x 0 box
            html.Div(id="cypher-graph-box"),
        ]
    )


def _form(query) -> list:
    """One labelled input per parameter of a saved query (defaults filled in)."""
    return [
        html.Label(
            [
                html.Span(f"{p.name} ({p.type}{'' if p.required else ', optional'})", title=p.doc),
                dcc.Input(
                    id={"type": "cypher-param", "name": p.name},
                    type="text",
                    value=None if p.default is None else str(p.default),
                    placeholder=p.doc,
                ),
            ],
            className="rw-param",
        )
        for p in query.params
    ]


@callback(
    Output("cypher-text", "value"),
    Output("cypher-json", "value"),
    Output("cypher-description", "children"),
    Output("cypher-form", "children"),
    Input("cypher-saved", "value"),
    prevent_initial_call=True,
)
def choose_saved(name):
    query = queries.saved_queries().get(name) if name else None
    if query is None:
        return EXAMPLE, EXAMPLE_PARAMS, "", []
    return query.text, "", query.description, _form(query)


def _params(name, text, params_json, form: dict) -> dict:
    """Parameters of a run: a saved query run as written binds its form (typed, checked,
    defaults filled in); an edited or free query takes the JSON box plus the form."""
    query = queries.saved_queries().get(name) if name else None
    if query is not None and (text or "").strip() == query.text.strip():
        extra = views.query_params(params_json, {})
        return query.bind({**extra, **{k: v for k, v in form.items() if v not in (None, "")}})
    return views.query_params(params_json, form)


@callback(
    Output("cypher-message", "children"),
    Output("cypher-table", "columns"),
    Output("cypher-table", "data"),
    Output("cypher-graph-box", "children"),
    Input("cypher-run", "n_clicks"),
    State("cypher-saved", "value"),
    State("cypher-text", "value"),
    State("cypher-json", "value"),
    State({"type": "cypher-param", "name": ALL}, "value"),
    State({"type": "cypher-param", "name": ALL}, "id"),
    prevent_initial_call=True,
)
def run(_clicks, name, text, params_json, form_values, form_ids):
    try:
        form = {i["name"]: v for i, v in zip(form_ids, form_values, strict=True)}
        params = _params(name, text, params_json, form)
        c = context()
        result = queries.run_read_only(
            c.driver,
            c.database,
            text,
            params,
            timeout_s=c.cypher_timeout_s,
            row_limit=c.cypher_row_limit,
        )
    except (QueryError, ValueError) as error:
        return html.Span(str(error), className="rw-error"), [], [], []
    elements = views.cypher_elements(result.rows)
    more = f" (stopped at the {len(result.rows):,}-row limit)" if result.truncated else ""
    message = f"{len(result.rows):,} rows{more}."
    columns = [{"name": col, "id": col} for col in result.columns]
    graph = (
        cyto.Cytoscape(
            id="cypher-graph",
            elements=elements,
            stylesheet=views.RING_STYLESHEET,
            layout=views.graph_layout(len(elements)),
            style={"width": "100%", "height": "420px"},
            maxZoom=1.2,
        )
        if elements
        else []
    )
    return message, columns, views.cypher_table(result.columns, result.rows), graph
