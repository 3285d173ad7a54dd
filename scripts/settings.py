"""How every command finds the database.

In order: ``NEO4J_URI`` (with ``NEO4J_USER``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``) for an
existing server; else the ``[neo4j]`` table of the config file (``RINGWATCH_CONFIG`` or
``~/.config/ringwatch/config.toml``); else the managed local server of
``ringwatch neo4j start``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from graphs.errors import ConfigError

__all__ = ["Neo4jSettings", "config_path", "open_driver", "resolve_neo4j"]


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str
    user: str
    password: str
    database: str = "neo4j"
    source: str = "managed"  # env, config or managed: printed by `ringwatch ... --verbose`


def config_path() -> Path:
    default = platformdirs.user_config_path("ringwatch") / "config.toml"
    return Path(os.environ.get("RINGWATCH_CONFIG", default))


def resolve_neo4j() -> Neo4jSettings:
    """Settings for the database every command should use (see module docstring)."""
    env = os.environ
    if env.get("NEO4J_URI"):
        if not env.get("NEO4J_PASSWORD"):
            raise ConfigError("NEO4J_URI is set but NEO4J_PASSWORD is not")
        return Neo4jSettings(
            uri=env["NEO4J_URI"],
            user=env.get("NEO4J_USER", "neo4j"),
            password=env["NEO4J_PASSWORD"],
            database=env.get("NEO4J_DATABASE", "neo4j"),
            source="env",
        )
    path = config_path()
    if path.exists():
        try:
            table = tomllib.loads(path.read_text()).get("neo4j", {})
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        if "uri" in table:
            missing = {"password"} - table.keys()
            if missing:
                raise ConfigError(f"{path}: [neo4j] has uri but no {', '.join(missing)}")
            return Neo4jSettings(
                uri=table["uri"],
                user=table.get("user", "neo4j"),
                password=table["password"],
                database=table.get("database", "neo4j"),
                source="config",
            )
    from scripts.neo4j_server import ManagedServer

    server = ManagedServer.from_settings()
    if server.pid() is None:
        raise ConfigError(
            "no database configured and the managed Neo4j is not running: "
            "run `ringwatch neo4j start` or set NEO4J_URI / NEO4J_PASSWORD"
        )
    return Neo4jSettings(uri=server.uri, user="neo4j", password=server.password)


@contextmanager
def open_driver(settings: Neo4jSettings | None = None) -> Iterator[tuple[object, str]]:
    """Yield ``(driver, database)`` for the resolved settings; closes the driver."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError, ServiceUnavailable

    settings = settings or resolve_neo4j()
    driver = GraphDatabase.driver(settings.uri, auth=(settings.user, settings.password))
    try:
        try:
            driver.verify_connectivity()
        except ServiceUnavailable:
            raise ConfigError(f"cannot reach Neo4j at {settings.uri}") from None
        except AuthError:
            raise ConfigError(f"Neo4j at {settings.uri} refused user {settings.user!r}") from None
        yield driver, settings.database
    finally:
        driver.close()
