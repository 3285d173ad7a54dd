"""The investigator dashboard: ``create_app(driver, database)`` builds the Dash app.

Pages live in ``dashboards/pages/`` (one module each, registered with
``dash.register_page``); they reach the database through :func:`context`, which reads
what ``create_app`` stored on the Flask app, so nothing touches Neo4j at import time and
the composition root (``ringwatch dashboard``) decides which driver is real.

One app per process: Dash keeps its page registry and callbacks in module globals.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dash
import flask
from dash import dcc, html

__all__ = [
    "DashboardContext",
    "context",
    "create_app",
    "current_user",
    "is_loopback",
    "read_users_file",
    "safe_layout",
]

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CONTEXT_KEY = "RINGWATCH_DASHBOARD"


@dataclass(frozen=True)
class DashboardContext:
    """What the pages need: the database and who is working."""

    driver: object
    database: str
    user: str  # the investigator when there is no login (the OS user by default)
    login: bool = False
    cypher_timeout_s: float = 10.0
    cypher_row_limit: int = 1000


def context() -> DashboardContext:
    """The context of the app serving the current request."""
    return flask.current_app.config[CONTEXT_KEY]


def current_user() -> str:
    """The logged-in user when login is on, else the dashboard's configured user."""
    ctx = context()
    if ctx.login and flask.has_request_context():
        auth = flask.request.authorization
        if auth is not None and auth.username:
            return auth.username
    return ctx.user


def safe_layout(layout: Callable[..., Any]) -> Callable[..., Any]:
    """A page layout that shows one clear line instead of a blank page when the database
    is unreachable or a query fails (the traceback goes to the server log)."""
    from neo4j.exceptions import DriverError, Neo4jError

    from graphs.errors import RingwatchError

    @functools.wraps(layout)
    def guarded(**params: Any) -> Any:
        try:
            return layout(**params)
        except (DriverError, Neo4jError, RingwatchError) as error:
            log.exception("page %s failed", layout.__module__)
            message = getattr(error, "message", None) or str(error) or type(error).__name__
            return html.Div(
                [html.H2("This page could not be loaded"), html.P(message, className="rw-error")]
            )

    return guarded


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_users_file(path: Path) -> dict[str, str]:
    """``user:password`` lines (blank lines and ``#`` comments skipped).

    Raises :class:`graphs.errors.ConfigError` naming the file and line when a line has
    no colon or an empty user or password.
    """
    from graphs.errors import ConfigError

    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the users file: {error.strerror}") from None
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, colon, password = line.partition(":")
        if not colon or not user.strip() or not password:
            raise ConfigError(f"{path}:{number}: expected user:password")
        users[user.strip()] = password
    if not users:
        raise ConfigError(f"{path}: no users in the users file")
    return users


def _nav(user: str, login: bool) -> html.Header:
    links = [
        ("Ring queue", "/"),
        ("Search", "/search"),
        ("My cases", "/cases"),
        ("Cypher", "/cypher"),
    ]
    return html.Header(
        className="rw-header",
        children=[
            html.Span("ringwatch", className="rw-brand"),
            html.Nav([dcc.Link(name, href=href, className="rw-nav") for name, href in links]),
            html.Span(
                f"{'signed in as' if login else 'working as'} {user}",
                id="app-user",
                className="rw-user",
            ),
        ],
    )


def _shell() -> html.Div:
    ctx = context()
    return html.Div([_nav(current_user(), ctx.login), html.Main(dash.page_container)])


def create_app(
    driver,
    database: str,
    *,
    user: str = "investigator",
    users: Mapping[str, str] | None = None,
    cypher_timeout_s: float = 10.0,
    cypher_row_limit: int = 1000,
) -> dash.Dash:
    """The Dash app over ``driver`` / ``database``; basic-auth login when ``users`` is given.

    ``user`` names the investigator for case decisions when there is no login.
    """
    app = dash.Dash(
        "dashboards",
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        suppress_callback_exceptions=True,
        title="ringwatch",
        update_title=None,
    )
    app.server.config[CONTEXT_KEY] = DashboardContext(
        driver=driver,
        database=database,
        user=user,
        login=bool(users),
        cypher_timeout_s=cypher_timeout_s,
        cypher_row_limit=cypher_row_limit,
    )
    if users:
        import dash_auth

        known = dict(users)

        def check(username: str, password: str) -> bool:
            expected = known.get(username)
            return expected is not None and hmac.compare_digest(expected, password)

        dash_auth.BasicAuth(app, auth_func=check, secret_key=secrets.token_hex(32))
    # Neo4j warns about property keys no node has yet (e.g. `assignee` before any case):
    # expected on a young graph, and noise in the server log.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    app.layout = _shell
    return app
