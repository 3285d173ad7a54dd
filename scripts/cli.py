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

from graphs.errors import RingwatchError

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
