"""A managed local Neo4j 5.26 Community server, obtained from Maven Central.

There is no Docker and no Neo4j tarball on the machines ringwatch runs on, so the server
is assembled from Maven artifacts:

* ``org.neo4j:neo4j`` (the community server with ``org.neo4j.server.CommunityEntryPoint``
  and the admin tool ``org.neo4j.server.startup.Neo4jAdminCommand``) and
  ``org.neo4j.app:neo4j-server``, with all runtime dependencies copied into ``lib/`` by
  ``mvn dependency:copy-dependencies``;
* ``org.neo4j.procedure:apoc-core`` (classifier ``core``) into ``plugins/``.

The jars live in a per-user cache (``~/.cache/ringwatch/neo4j-<version>``) and are
downloaded once; each server instance has its own data directory holding ``conf/``,
``data/``, ``logs/``, the pid file and the generated password (mode 0600).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from graphs.errors import Neo4jServerError

__all__ = [
    "APOC_VERSION",
    "NEO4J_VERSION",
    "ManagedServer",
]

NEO4J_VERSION = "5.26.30"
# APOC core is not published for every 5.26 patch; the same major.minor is compatible.
# From 5.26 it ships as plain jars (no ``core`` classifier on Maven Central).
APOC_VERSION = "5.26.19"
DEFAULT_PORT = 7687
DEFAULT_HEAP = "4g"
DEFAULT_PAGECACHE = "4g"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_ENTRY_POINT = "org.neo4j.server.startup.Neo4jAdminCommand"

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ringwatch</groupId>
  <artifactId>neo4j-{kind}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""
DEPENDENCY = (
    "    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
    "<version>{version}</version>{extra}</dependency>"
)

CONFIG = """# Written by ringwatch; edit ringwatch's options instead of this file.
server.default_listen_address=127.0.0.1
server.bolt.listen_address=127.0.0.1:{port}
server.bolt.advertised_address=127.0.0.1:{port}
server.http.enabled=false
server.https.enabled=false
server.directories.data={data}
server.directories.logs={logs}
server.directories.plugins={plugins}
server.directories.import={import_dir}
server.directories.run={run}
server.memory.heap.initial_size={heap}
server.memory.heap.max_size={heap}
server.memory.pagecache.size={pagecache}
dbms.security.auth_enabled=true
dbms.security.procedures.unrestricted=apoc.*
dbms.usage_report.enabled=false
db.transaction.timeout=0
"""


def _java_major() -> int:
    """Major version of the ``java`` on PATH, or raise a one-line error."""
    java = shutil.which("java")
    if java is None:
        raise Neo4jServerError("Java 17 or later is required but `java` is not on PATH")
    output = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if match is None:
        raise Neo4jServerError(f"cannot read the Java version from: {output.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


def _artifact_name(jar: Path) -> str:
    """``netty-common-4.1.1.jar`` -> ``netty-common``."""
    return re.sub(r"-\d[\w.\-]*$", "", jar.stem)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); look at its state
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


@dataclass
class ManagedServer:
    """One managed server instance: the cached jars plus a data directory."""

    cache_dir: Path
    data_dir: Path
    port: int = DEFAULT_PORT
    heap: str = DEFAULT_HEAP
    pagecache: str = DEFAULT_PAGECACHE
    version: str = NEO4J_VERSION

    @classmethod
    def from_settings(
        cls,
        data_dir: Path | None = None,
        port: int | None = None,
        heap: str | None = None,
        pagecache: str | None = None,
    ) -> ManagedServer:
        """Resolve options, then ``RINGWATCH_NEO4J_*`` variables, then defaults."""
        env = os.environ
        cache = Path(env.get("RINGWATCH_CACHE_DIR", platformdirs.user_cache_path("ringwatch")))
        data = data_dir or Path(
            env.get("RINGWATCH_NEO4J_DATA", platformdirs.user_data_path("ringwatch") / "neo4j")
        )
        return cls(
            cache_dir=cache / f"neo4j-{NEO4J_VERSION}",
            data_dir=data.expanduser().resolve(),
            port=port or int(env.get("RINGWATCH_NEO4J_PORT", DEFAULT_PORT)),
            heap=heap or env.get("RINGWATCH_NEO4J_HEAP", DEFAULT_HEAP),
            pagecache=pagecache or env.get("RINGWATCH_NEO4J_PAGECACHE", DEFAULT_PAGECACHE),
        )

    # ------------------------------------------------------------------ paths
    @property
    def lib_dir(self) -> Path:
        return self.cache_dir / "lib"

    @property
    def plugins_dir(self) -> Path:
        return self.cache_dir / "plugins"

    @property
    def conf_dir(self) -> Path:
        return self.data_dir / "conf"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "run" / "ringwatch-neo4j.pid"

    @property
    def password_file(self) -> Path:
        return self.data_dir / "password"

    @property
    def console_log(self) -> Path:
        return self.data_dir / "logs" / "console.log"

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise Neo4jServerError(
                f"no password file at {self.password_file}: run `ringwatch neo4j install`"
            ) from None

    # ---------------------------------------------------------------- install
    def is_installed(self) -> bool:
        return (
            (self.cache_dir / ".complete").exists()
            and (self.conf_dir / "neo4j.conf").exists()
            and self.password_file.exists()
        )

    def install(self, progress: Callable[[str], None] = print) -> None:
        """Fetch the jars (once per machine) and configure this instance (idempotent)."""
        if _java_major() < 17:
            raise Neo4jServerError("Neo4j 5.26 needs Java 17 or later; `java -version` is older")
        if not (self.cache_dir / ".complete").exists():
            self._download(progress)
        self.write_config()
        if not self.password_file.exists():
            self._set_initial_password()

    def _download(self, progress: Callable[[str], None]) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise Neo4jServerError("Maven (`mvn`) is required to fetch Neo4j but is not on PATH")
        progress(f"fetching Neo4j {self.version} and APOC {APOC_VERSION} from Maven Central")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        server = "\n".join(
            DEPENDENCY.format(group=g, artifact=a, version=self.version, extra="")
            for g, a in (("org.neo4j", "neo4j"), ("org.neo4j.app", "neo4j-server"))
        )
        # The released apoc-core jar is unshaded: apoc.result.* lives in apoc-common,
        # which its POM does not declare.
        apoc = "\n".join(
            DEPENDENCY.format(
                group="org.neo4j.procedure", artifact=a, version=APOC_VERSION, extra=""
            )
            for a in ("apoc-core", "apoc-common")
        )
        for kind, deps, out in (("server", server, self.lib_dir), ("apoc", apoc, self.plugins_dir)):
            pom = self.cache_dir / f"pom-{kind}.xml"
            pom.write_text(POM.format(kind=kind, dependencies=deps))
            partial = out.with_name(out.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            command = [
                mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial}",
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                last = [ln for ln in result.stdout.splitlines() if "ERROR" in ln][:1]
                raise Neo4jServerError(
                    f"downloading Neo4j from Maven Central failed: {' '.join(last)[:300]}"
                )
            shutil.rmtree(out, ignore_errors=True)
            partial.rename(out)
        self._drop_duplicate_plugin_jars()
        (self.cache_dir / ".complete").write_text(self.version)

    def _drop_duplicate_plugin_jars(self) -> None:
        """APOC's own dependencies that the server already ships would load twice."""
        in_lib = {_artifact_name(jar) for jar in self.lib_dir.glob("*.jar")}
        for jar in self.plugins_dir.glob("*.jar"):
            if _artifact_name(jar) in in_lib:
                jar.unlink()

    def write_config(self) -> None:
        for sub in ("conf", "data", "logs", "run", "import"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "neo4j.conf").write_text(
            CONFIG.format(
                port=self.port,
                data=self.data_dir / "data",
                logs=self.data_dir / "logs",
                plugins=self.plugins_dir,
                import_dir=self.data_dir / "import",
                run=self.data_dir / "run",
                heap=self.heap,
                pagecache=self.pagecache,
            )
        )

    def _set_initial_password(self) -> None:
        password = secrets.token_urlsafe(18)
        self.admin("dbms", "set-initial-password", password)
        self.password_file.touch(mode=0o600)
        self.password_file.write_text(password + "\n")

    # ------------------------------------------------------------------- admin
    def _java(self, main: str, *args: str, jvm: tuple[str, ...] = ()) -> list[str]:
        # APOC's kernel extensions (ApocConfig, ...) are found by the server's own
        # ServiceLoader, so its jars go on the class path as well as in plugins/.
        classpath = f"{self.lib_dir}/*:{self.plugins_dir}/*"
        return ["java", *jvm, "-cp", classpath, main, *args]

    def admin(self, *args: str, heap: str = "1g") -> subprocess.CompletedProcess[str]:
        """Run ``neo4j-admin ARGS`` against this instance (server must be stopped for
        offline commands such as ``database import``)."""
        env = {**os.environ, "NEO4J_HOME": str(self.data_dir), "NEO4J_CONF": str(self.conf_dir)}
        result = subprocess.run(
            self._java(ADMIN_ENTRY_POINT, *args, jvm=(f"-Xmx{heap}",)),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise Neo4jServerError(f"neo4j-admin {args[0]} {args[1]} failed: {' | '.join(tail)}")
        return result

    # --------------------------------------------------------------- lifecycle
    def pid(self) -> int | None:
        """Pid of the running server, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _pid_alive(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, timeout: float = 120.0) -> int:
        """Start in the background, wait until Bolt answers, return the pid."""
        if not self.is_installed():
            raise Neo4jServerError("Neo4j is not installed: run `ringwatch neo4j install`")
        running = self.pid()
        if running is not None:
            return running
        if _port_taken(self.port):
            raise Neo4jServerError(
                f"port {self.port} on 127.0.0.1 is already taken; choose another with --port"
            )
        self.write_config()  # the port or memory may have changed since install
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        args = [f"--home-dir={self.data_dir}", f"--config-dir={self.conf_dir}", "--console-mode"]
        with self.console_log.open("ab") as log:
            process = subprocess.Popen(
                self._java(ENTRY_POINT, *args, jvm=(f"-Xms{self.heap}", f"-Xmx{self.heap}")),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        self._wait_for_bolt(process, timeout)
        return process.pid

    def _wait_for_bolt(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError, ServiceUnavailable

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise Neo4jServerError(
                    f"Neo4j died at start (exit {process.returncode}); last log lines: "
                    + self.log_tail()
                )
            if _port_taken(self.port):
                with GraphDatabase.driver(self.uri, auth=("neo4j", self.password)) as driver:
                    try:
                        driver.verify_connectivity()
                        return
                    except ServiceUnavailable:
                        pass
                    except AuthError as error:
                        raise Neo4jServerError(
                            f"Neo4j at {self.uri} refused the password in {self.password_file}"
                        ) from error
            time.sleep(0.5)
        self.stop()
        raise Neo4jServerError(
            f"Neo4j did not answer on {self.uri} within {timeout:.0f} s; last log lines: "
            + self.log_tail()
        )

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.console_log.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(text[-lines:])

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop cleanly (SIGTERM, then SIGKILL after ``timeout``); False if not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> dict[str, str]:
        pid = self.pid()
        return {
            "state": "running" if pid else ("stopped" if self.is_installed() else "not installed"),
            "pid": str(pid or "-"),
            "uri": self.uri,
            "version": self.version,
            "data_dir": str(self.data_dir),
            "jars": str(self.cache_dir),
        }
