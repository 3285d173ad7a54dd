"""The detection report: one self-contained HTML page with plotly charts, plus JSON.

:func:`report_figures` builds the figures from a :class:`scripts.detect_job.DetectResult`
(and an evaluation, when a truth file was given) as pure functions of the tables;
:func:`write_report` writes ``report.html`` and ``report.json``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

__all__ = ["report_figures", "write_report"]


def report_figures(rings: pd.DataFrame, accounts: pd.DataFrame, evaluation: dict | None = None):
    """Plotly figures: rings by kind and score, new vs continuing, risk distribution,
    and the precision-recall curve of an evaluation."""
    import plotly.express as px
    import plotly.graph_objects as go

    figures = []
    frame = rings.assign(status=rings["continuing"].map({True: "continuing", False: "new"}))
    frame["size"] = [
        max(len(a), len(i)) for a, i in zip(frame["accounts"], frame["ips"], strict=True)
    ]
    figures.append(
        px.histogram(
            frame,
            x="score",
            color="kind",
            nbins=20,
            range_x=[0, 1],
            barmode="stack",
            title="Written rings by kind and score",
        )
    )
    counts = frame.groupby(["kind", "status"]).size().rename("rings").reset_index()
    figures.append(
        px.bar(
            counts,
            x="kind",
            y="rings",
            color="status",
            barmode="group",
            title="New versus continuing rings",
        )
    )
    risk = accounts.loc[accounts["risk_score"] > 0, "risk_score"]
    histogram = px.histogram(
        risk,
        x="risk_score",
        nbins=50,
        log_y=True,
        title=f"Account risk scores above zero ({len(risk):,} of {len(accounts):,} accounts)",
    )
    figures.append(histogram)
    if evaluation and evaluation.get("pr_curve", {}).get("recall"):
        curve = evaluation["pr_curve"]
        base = evaluation["overall"].get("base_rate")
        pr = go.Figure(
            go.Scatter(x=curve["recall"], y=curve["precision"], mode="lines", name="risk_score")
        )
        if base is not None:
            pr.add_hline(y=base, line_dash="dot", annotation_text=f"base rate {base:.3f}")
        auprc = evaluation["overall"].get("auprc")
        title = "Precision-recall of account risk" + (f" (AUPRC {auprc:.3f})" if auprc else "")
        pr.update_layout(
            title=title,
            xaxis_title="recall",
            yaxis_title="precision",
            xaxis_range=[0, 1],
            yaxis_range=[0, 1.02],
        )
        figures.append(pr)
    return figures


def _table(rings: pd.DataFrame, limit: int = 50) -> str:
    rows = []
    for ring in rings.head(limit).itertuples(index=False):
        members = len(ring.accounts) or len(ring.ips)
        reasons = "<br>".join(html.escape(r) for r in ring.reasons[:4])
        rows.append(
            f"<tr><td>{html.escape(ring.ring_id)}</td><td>{ring.kind}</td>"
            f"<td>{ring.score:.2f}</td><td>{members}</td>"
            f"<td>{'continuing' if ring.continuing else 'new'}</td><td>{reasons}</td></tr>"
        )
    head = (
        "<tr><th>ring</th><th>kind</th><th>score</th><th>members</th><th></th><th>reasons</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def write_report(
    out: Path,
    rings: pd.DataFrame,
    accounts: pd.DataFrame,
    summary: dict,
    evaluation: dict | None = None,
) -> tuple[Path, Path]:
    """Write ``report.html`` (charts, top rings, summary) and ``report.json``."""
    import plotly.io as pio

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = report_figures(rings, accounts, evaluation)
    charts = [
        pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0))
        for i, fig in enumerate(figures)
    ]
    counts = summary.get("counts", {})
    facts = "".join(
        f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in counts.items()
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8">
<title>ringwatch report {html.escape(summary.get("as_of", ""))}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}}</style></head>
<body><h1>ringwatch detection report</h1>
<p>Data as of {html.escape(summary.get("as_of", "?"))}; ring scorer
{html.escape(str(summary.get("ring_scorer", "?")))}.</p><ul>{facts}</ul>
{"".join(charts)}
<h2>Top rings</h2>{_table(rings)}
</body></html>
"""
    html_path, json_path = out / "report.html", out / "report.json"
    html_path.write_text(page)
    payload = {"summary": summary, "evaluation": evaluation}
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return html_path, json_path
