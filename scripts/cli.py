"""The ``ringwatch`` command line: the one composition root.

Each subcommand parses its options, builds the real clients (Neo4j driver, paths,
progress bars) and calls the pure or I/O functions of the other packages. Errors that a
user can fix (:class:`graphs.errors.RingwatchError`) become one line on stderr and a
non-zero exit code. Heavy imports (pandas, torch, dash) happen inside the command that
needs them so that ``ringwatch --help`` stays fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from graphs.errors import ConfigError, RingwatchError

__all__ = ["app", "main"]

app = typer.Typer(
    name="ringwatch",
    help="Graph-based account integrity analyzer: fake-account rings and scraping clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(help="Install and run a managed local Neo4j server.", no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")

log = logging.getLogger("ringwatch")

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where the managed server keeps its data (default: XDG data dir)."
    ),
]
PortOpt = Annotated[int | None, typer.Option("--port", help="Bolt port (default 7687).")]


# ----------------------------------------------------------------------------- neo4j
@neo4j_app.command("install")
def neo4j_install(
    data_dir: DataDirOpt = None,
    port: PortOpt = None,
    heap: Annotated[str | None, typer.Option(help="JVM heap, e.g. 4g.")] = None,
    pagecache: Annotated[str | None, typer.Option(help="Page cache, e.g. 6g.")] = None,
) -> None:
    """Download Neo4j 5.26 Community and APOC from Maven Central and configure it."""
    from scripts import neo4j_server

    server = neo4j_server.ManagedServer.from_settings(
        data_dir=data_dir, port=port, heap=heap, pagecache=pagecache
    )
    server.install(progress=typer.echo)
    typer.echo(f"installed Neo4j {server.version} in {server.cache_dir}; data in {server.data_dir}")


@neo4j_app.command("start")
def neo4j_start(
    data_dir: DataDirOpt = None,
    port: PortOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Bolt.")] = 120.0,
) -> None:
    """Start the managed server in the background and wait until Bolt answers."""
    from scripts import neo4j_server

    server = neo4j_server.ManagedServer.from_settings(data_dir=data_dir, port=port)
    if not server.is_installed():
        server.install(progress=typer.echo)
    pid = server.start(timeout=timeout)
    typer.echo(f"Neo4j running: pid {pid}, {server.uri}")


@neo4j_app.command("stop")
def neo4j_stop(data_dir: DataDirOpt = None, port: PortOpt = None) -> None:
    """Stop the managed server cleanly."""
    from scripts import neo4j_server

    server = neo4j_server.ManagedServer.from_settings(data_dir=data_dir, port=port)
    typer.echo("stopped" if server.stop() else "not running")


@neo4j_app.command("status")
def neo4j_status(data_dir: DataDirOpt = None, port: PortOpt = None) -> None:
    """Print pid, URI, version and data dir of the managed server."""
    from scripts import neo4j_server

    server = neo4j_server.ManagedServer.from_settings(data_dir=data_dir, port=port)
    status = server.status()
    for key, value in status.items():
        typer.echo(f"{key:9} {value}")
    if status["state"] != "running":
        raise typer.Exit(1)


# -------------------------------------------------------------------------- generate
@app.command()
def generate(
    accounts: Annotated[int, typer.Option("--accounts", min=100, help="Number of accounts.")],
    out: Annotated[Path, typer.Option("--out", help="Dataset directory to write.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    nights: Annotated[
        int, typer.Option("--nights", min=1, help="Split into N nightly exports night-01..")
    ] = 1,
    file_format: Annotated[str, typer.Option("--format", help="csv, csv.gz or parquet.")] = "csv",
) -> None:
    """Write a synthetic world (tables + truth.csv) in the input format."""
    from ingest import synthetic

    summary = synthetic.write_world(
        out, n_accounts=accounts, seed=seed, nights=nights, file_format=file_format
    )
    typer.echo(summary)


# ---------------------------------------------------------------------------- ingest
@app.command()
def ingest(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory (docs/ingest.md).")],
    bulk: Annotated[
        bool,
        typer.Option(
            "--bulk", help="First load into an empty managed server via neo4j-admin import."
        ),
    ] = False,
    quarantine_dir: Annotated[
        Path | None,
        typer.Option("--quarantine-dir", help="Where quarantined rows go (a run subdir)."),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Rows per write transaction.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Concurrent write transactions.")
    ] = None,
    data_dir: DataDirOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Per-file details.")] = False,
) -> None:
    """Load a dataset (accounts, logins, payments, requests, labels) into Neo4j.

    Exits non-zero when a file was rejected or rows were quarantined."""
    import platformdirs

    from graphs.errors import IngestRejectedError
    from ingest import writer
    from scripts.settings import open_driver

    # retried deadlocks between concurrent batches and "property key not yet used"
    # notifications on a fresh database are expected, not news for the user
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    quarantine = quarantine_dir or platformdirs.user_state_path("ringwatch") / "quarantine"
    size = batch_size or writer.DEFAULT_BATCH_SIZE
    if bulk:
        from ingest.bulk import bulk_ingest
        from scripts.neo4j_server import ManagedServer
        from scripts.settings import resolve_neo4j

        settings = resolve_neo4j()
        if settings.source != "managed":
            raise ConfigError(
                f"--bulk works only with the managed local server (`ringwatch neo4j start`); "
                f"the database is configured from {settings.source} ({settings.uri})"
            )
        server = ManagedServer.from_settings(data_dir=data_dir)
        report = bulk_ingest(server, settings.database, dataset, quarantine_dir=quarantine)
    else:
        from ingest.job import ingest_dataset

        with open_driver() as (driver, database):
            report = ingest_dataset(
                driver, database, dataset, quarantine_dir=quarantine, batch_size=size,
                workers=workers or writer.DEFAULT_WORKERS,
            )  # fmt: skip
    typer.echo(report.summary())
    if verbose or report.rejected:
        typer.echo("\n".join(report.details()), err=True)
    if report.rejected:
        raise IngestRejectedError(
            f"{report.rows_quarantined:,} rows quarantined and "
            f"{len(report.rejected_files)} files rejected"
        )


@app.command()
def cypher(
    name: Annotated[
        str | None, typer.Argument(help="Analyst query name (graphs/queries/NAME.cypher).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="A parameter as key=value.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Row limit.")] = 1000,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds.")] = 30.0,
    list_queries: Annotated[bool, typer.Option("--list", help="List the queries.")] = False,
) -> None:
    """Run one analyst query read-only and print a table (--list shows them all)."""
    from graphs.errors import QueryError
    from graphs.queries import load_queries
    from ingest.analyst import format_table, run_named
    from scripts.settings import open_driver

    library = load_queries()
    if list_queries or name is None:
        for query in library.values():
            params = ", ".join(
                p.name + ("" if p.required else f"={p.default}") for p in query.params
            )
            typer.echo(f"{query.name}({params})\n    {query.description}")
        return
    values = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise QueryError(f"--param {item!r}: expected key=value")
        values[key.strip()] = value
    if name in library:
        library[name].bind(values)  # a user's mistake fails before connecting
    with open_driver() as (driver, database):
        result = run_named(
            driver, database, name, values, timeout_s=timeout, row_limit=limit, library=library
        )
    typer.echo(format_table(result))


# ---------------------------------------------------------------- detect / evaluate
ScorerOpt = Annotated[
    str, typer.Option("--scorer", help="auto (learned when labels allow), rule or learned.")
]
AccountScoresOpt = Annotated[
    Path | None,
    typer.Option("--account-scores", help="CSV account_id,score of a learned (GNN) score."),
]


def _detect_config(scorer: str, threshold: float | None):
    from graphs.detection import DetectConfig
    from graphs.errors import ConfigError

    if scorer not in ("auto", "rule", "learned"):
        raise ConfigError(f"--scorer must be auto, rule or learned, not {scorer!r}")
    if threshold is None:
        return DetectConfig(scorer=scorer)
    return DetectConfig(scorer=scorer, ring_threshold=threshold, scraping_threshold=threshold)


@app.command()
def detect(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for rings.jsonl, accounts.csv, summary.json.")
    ],
    include_all: Annotated[
        bool, typer.Option("--all", help="Write every scored ring, not only those above threshold.")
    ] = False,
    dataset: Annotated[
        Path | None,
        typer.Option("--dataset", help="Detect on a dataset directory without Neo4j (no write)."),
    ] = None,
    scorer: ScorerOpt = "auto",
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Operating threshold (default 0.5).")
    ] = None,
    account_scores: AccountScoresOpt = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Learned score from `ringwatch train`: newest or a name."),
    ] = None,
    model_dir: ModelDirOpt = None,
) -> None:
    """Find fake-account rings and scraping clusters; write them to Neo4j and to --out."""
    from scripts.detect_job import read_account_scores, release_memory, run_detect, write_outputs

    config = _detect_config(scorer, threshold)
    learned = read_account_scores(account_scores) if account_scores else None
    if dataset is not None:
        from ingest.prepare import snapshot_from_dataset

        snapshot = snapshot_from_dataset(dataset)
        if model is not None:
            learned = _model_scores(snapshot, model, model_dir)
            release_memory()  # the model's graph and features
        result = run_detect(snapshot, config=config, learned=learned, include_all=include_all)
    else:
        from scripts.detect_job import detect_graph
        from scripts.settings import open_driver

        score = None
        if model is not None:  # the model scores the snapshot that detection reads

            def score(snapshot):
                return _model_scores(snapshot, model, model_dir)

        with open_driver() as (driver, database):
            result = detect_graph(
                driver, database, config=config, learned=learned, include_all=include_all,
                score=score,
            )  # fmt: skip
    write_outputs(out, result)
    counts = result.summary["counts"]
    typer.echo(
        f"{counts['rings_written']} rings ({counts['new_rings']} new, "
        f"{counts['continuing_rings']} continuing), {counts['flagged_accounts']} accounts "
        f"flagged of {counts['accounts']:,}; wrote {out}"
    )


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="truth.csv of the dataset.")],
    detections: Annotated[Path, typer.Option("--detections", help="Directory that detect wrote.")],
    dataset: Annotated[
        Path | None,
        typer.Option("--dataset", help="Dataset of the universe (default: the truth's directory)."),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Metrics JSON (default DETECTIONS/evaluation.json)."),
    ] = None,
) -> None:
    """Score detections against a truth file as output-format.md defines."""
    import json

    from scripts.detect_job import evaluate_dir, evaluation_tables

    report = evaluate_dir(truth, detections, dataset)
    typer.echo(evaluation_tables(report))
    target = json_out or detections / "evaluation.json"
    target.write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(f"wrote {target}")


@app.command()
def nightly(
    export: Annotated[Path, typer.Argument(help="The night's export (a dataset directory).")],
    out: Annotated[
        Path, typer.Option("--out", help="Runs directory: results go to OUT/<export name>/.")
    ] = Path("ringwatch-runs"),
    log_file: Annotated[
        Path | None, typer.Option("--log-file", help="Log file (OUT/ringwatch-nightly.log).")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Also evaluate against this truth file.")
    ] = None,
    scorer: ScorerOpt = "auto",
    account_scores: AccountScoresOpt = None,
) -> None:
    """Ingest the night's export, detect, report; one summary line on success."""
    from scripts.detect_job import read_account_scores
    from scripts.nightly import run_nightly
    from scripts.settings import open_driver

    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file or out / "ringwatch-nightly.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # cron-friendly: the run's log goes to the file only; stdout gets one summary line
    # and a failure one line on stderr (main); the server's advisory notifications (a
    # relationship type that does not exist yet on a first night) are not news
    for name in ("ringwatch", "neo4j.notifications"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if name == "ringwatch" else logging.ERROR)
        logger.propagate = False
    learned = read_account_scores(account_scores) if account_scores else None
    with open_driver() as (driver, database):
        result = run_nightly(
            driver, database, export, out, config=_detect_config(scorer, None),
            learned=learned, truth=truth,
        )  # fmt: skip
    typer.echo(result.line())
    if result.ingest_rejected:
        typer.echo(
            f"ringwatch: warning: ingest rejected rows or files; see {out / export.name}",
            err=True,
        )
        raise typer.Exit(1)


# ------------------------------------------------------------------------ gnn
ModelDirOpt = Annotated[
    Path | None,
    typer.Option("--model-dir", help="Model files (default: the user data dir's models/)."),
]
SnapshotDatasetOpt = Annotated[
    Path | None,
    typer.Option("--dataset", help="Read a dataset directory instead of Neo4j."),
]


def _model_dir(path: Path | None) -> Path:
    import platformdirs

    return path or platformdirs.user_data_path("ringwatch") / "models"


def _gnn_snapshot(dataset: Path | None, with_decisions: bool = False):
    """The snapshot (from a dataset or Neo4j) and, from Neo4j, ring-decision labels."""
    if dataset is not None:
        from ingest.prepare import snapshot_from_dataset

        return snapshot_from_dataset(dataset), None
    from gnn.hetero import ring_decision_labels
    from ingest.rings_io import read_rings
    from ingest.snapshot_io import read_snapshot
    from scripts.settings import open_driver

    with open_driver() as (driver, database):
        snapshot = read_snapshot(driver, database)
        decisions = ring_decision_labels(read_rings(driver, database)) if with_decisions else None
    return snapshot, decisions


def _model_scores(snapshot, model: str, model_dir: Path | None):
    from gnn.jobs import score_job

    name = None if model == "newest" else model
    scores, version = score_job(snapshot, _model_dir(model_dir), name)
    log.info("learned account scores from %s", version)
    return scores


@app.command()
def train(
    dataset: SnapshotDatasetOpt = None,
    model_dir: ModelDirOpt = None,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="Extra labels CSV account_id,label (fraud/legit)."),
    ] = None,
    model: Annotated[str, typer.Option("--model", help="sage, graphconv or gat.")] = "sage",
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 200,
    unlabelled: Annotated[
        str, typer.Option("--unlabelled", help="legit (default) or ignore.")
    ] = "legit",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads.")] = None,
) -> None:
    """Train the GNN and its tree baseline on the platform's labels; write a model file."""
    import pandas as pd
    import torch

    from gnn.jobs import train_job

    if threads:
        torch.set_num_threads(threads)
    snapshot, decisions = _gnn_snapshot(dataset, with_decisions=True)
    extra = decisions
    if labels is not None:
        from graphs.errors import DatasetError

        try:
            table = pd.read_csv(labels, dtype=str)
            given = pd.Series(table["label"].to_numpy(), index=table["account_id"])
        except (OSError, ValueError, KeyError) as error:
            raise DatasetError(f"{labels}: need columns account_id,label ({error})") from None
        extra = given if extra is None else pd.concat([extra, given])
    path, meta = train_job(
        snapshot,
        _model_dir(model_dir),
        extra_labels=extra,
        unlabelled=unlabelled,
        gnn_params={"model": model, "epochs": epochs},
        seed=seed,
    )
    val = {k: v["val"]["auprc"] for k, v in meta["metrics"].items()}
    typer.echo(
        f"wrote {path}: winner {meta['winner']} (validation AUPRC gnn {val['gnn']:.3f}, "
        f"tree {val['tree']:.3f}); labels: {meta['labels']['fraud']:,} fraud, "
        f"{meta['labels']['legit']:,} legit"
    )


@app.command()
def score(
    out: Annotated[Path, typer.Option("--out", help="CSV account_id,score to write.")],
    dataset: SnapshotDatasetOpt = None,
    model_dir: ModelDirOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model name (default: the newest).")
    ] = None,
) -> None:
    """Score every account with a trained model (input for detect --account-scores)."""
    from gnn.jobs import score_job

    snapshot, _ = _gnn_snapshot(dataset)
    scores, version = score_job(snapshot, _model_dir(model_dir), model)
    scores.rename("score").rename_axis("account_id").reset_index().to_csv(out, index=False)
    typer.echo(f"scored {len(scores):,} accounts with {version}; wrote {out}")


# ------------------------------------------------------------------------ dashboard
@app.command()
def dashboard(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTP port.")] = 8050,
    users_file: Annotated[
        Path | None,
        typer.Option(
            "--users-file",
            envvar="RINGWATCH_DASHBOARD_USERS",
            help="user:password lines; turns on login (required to bind beyond loopback).",
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Investigator name for case decisions without login."),
    ] = None,
) -> None:
    """Serve the investigator dashboard (Dash) over the graph in Neo4j."""
    import getpass

    from werkzeug.serving import make_server

    from dashboards.app import create_app, is_loopback, read_users_file
    from graphs.errors import ConfigError
    from scripts.settings import open_driver

    users = read_users_file(users_file) if users_file else None
    if not is_loopback(host) and not users:
        raise ConfigError(
            f"refusing to serve on {host} without login: pass --users-file (or put the "
            "dashboard behind a reverse proxy that logs users in, and keep 127.0.0.1)"
        )
    with open_driver() as (driver, database):
        dash_app = create_app(driver, database, user=user or getpass.getuser(), users=users)
        try:
            server = make_server(host, port, dash_app.server, threaded=True)
        except OSError as error:
            raise ConfigError(f"cannot serve on {host}:{port}: {error.strerror}") from None
        shown = f"[{host}]" if ":" in host else host
        login = " (login required)" if users else ""
        typer.echo(f"ringwatch dashboard: http://{shown}:{server.port}/{login}  (Ctrl-C stops)")
        try:
            server.serve_forever()
        finally:
            server.server_close()


def main() -> None:
    """Entry point of the ``ringwatch`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except RingwatchError as error:
        typer.echo(f"ringwatch: error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        typer.echo("ringwatch: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
