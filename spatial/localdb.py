"""The project-local PostgreSQL/PostGIS cluster: initialise, start, stop, create databases.

The cluster lives under ``TUZHENG_PG_DATA`` (default ``.pgdata/``), listens on
127.0.0.1:``TUZHENG_PG_PORT`` and trusts local connections only. ``initdb`` refuses to run as
root, so as root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

from spatial.settings import DatabaseSettings, database_settings

PG_BIN_CANDIDATES = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin")]

CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 200
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
fsync = on
logging_collector = off
log_min_messages = warning
timezone = 'Asia/Shanghai'
"""


class LocalDatabaseError(RuntimeError):
    """The local cluster could not be prepared; the message says what to install or do."""


def pg_bin(name: str) -> str:
    """Path of a PostgreSQL server binary (``initdb``, ``pg_ctl``…)."""
    for d in PG_BIN_CANDIDATES:
        if (d / name).exists():
            return str(d / name)
    found = shutil.which(name)
    if found:
        return found
    raise LocalDatabaseError(
        f"{name} not found. Install PostgreSQL with PostGIS: "
        "`apt-get install postgresql-15-postgis-3` (Debian), or run the database with "
        "`docker compose up db` and set DATABASE_URL."
    )


def _as_postgres() -> list[str]:
    """Command prefix that runs a command as the cluster owner."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise LocalDatabaseError(
            "running as root needs the 'postgres' system user (created by the Debian "
            "postgresql package)"
        ) from exc
    return ["runuser", "-u", "postgres", "--"]


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload, no-any-return]


def _chown_for_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _make_reachable(path: Path) -> None:
    """Let the postgres user traverse every parent of ``path`` (root only)."""
    if os.geteuid() == 0:
        for parent in path.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)


def check_postgis_installed() -> None:
    """Raise with install instructions unless the PostGIS extension files are present."""
    sharedir = _run([pg_bin("pg_config"), "--sharedir"]).stdout.strip()
    if not Path(sharedir, "extension", "postgis.control").exists():
        raise LocalDatabaseError(
            "PostGIS is not installed for this PostgreSQL. Install it with "
            "`apt-get install postgresql-15-postgis-3`, or use `docker compose up db` and set "
            "DATABASE_URL=postgresql://tuzheng:tuzheng@127.0.0.1:5432/tuzheng"
        )


def is_running(settings: DatabaseSettings) -> bool:
    """True if something answers on the configured host and port."""
    try:
        with psycopg.connect(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            dbname="postgres",
            connect_timeout=2,
        ):
            return True
    except psycopg.OperationalError:
        return False


def init_cluster(settings: DatabaseSettings) -> bool:
    """Create the cluster directory with ``initdb`` if missing. Returns True if created."""
    data = settings.data
    if (data / "PG_VERSION").exists():
        return False
    check_postgis_installed()
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chown_for_postgres(data)
    _make_reachable(data)
    _run(
        _as_postgres()
        + [
            pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            settings.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ]
    )
    conf = data / "postgresql.auto.conf"
    text = conf.read_text() if conf.exists() else ""
    conf.write_text(text + CONF.format(port=settings.port))
    if os.geteuid() == 0:
        _chown_for_postgres(conf)
    return True


def start(settings: DatabaseSettings | None = None) -> str:
    """Initialise (if needed) and start the local cluster; return a status line."""
    settings = settings or database_settings()
    if not settings.is_local:
        return "DATABASE_URL is set: using the external server, no local cluster started"
    created = init_cluster(settings)
    if is_running(settings):
        return f"local PostGIS already running on {settings.host}:{settings.port}"
    log = settings.data / "server.log"
    if os.geteuid() == 0 and not log.exists():
        log.touch()
        _chown_for_postgres(log)
    _run(
        _as_postgres()
        + [
            pg_bin("pg_ctl"),
            "-D",
            str(settings.data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {settings.port}",
            "start",
        ]
    )
    for _ in range(60):
        if is_running(settings):
            break
        time.sleep(0.5)
    else:
        raise LocalDatabaseError(f"PostgreSQL did not start; see {log}")
    ensure_database(settings.dbname, settings)
    verb = "initialised and started" if created else "started"
    return f"local PostGIS {verb} on {settings.host}:{settings.port} ({settings.data})"


def stop(settings: DatabaseSettings | None = None) -> None:
    """Stop the local cluster if it is running."""
    settings = settings or database_settings()
    if (settings.data / "postmaster.pid").exists():
        _run(_as_postgres() + [pg_bin("pg_ctl"), "-D", str(settings.data), "-m", "fast", "stop"])


def admin_conninfo(settings: DatabaseSettings, dbname: str = "postgres") -> str:
    """libpq connection string for maintenance work (creating databases)."""
    from sqlalchemy.engine import make_url

    u = make_url(settings.url(dbname))
    parts: dict[str, str | int | None] = {
        "host": u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": dbname,
    }
    return psycopg.conninfo.make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


def ensure_database(
    dbname: str, settings: DatabaseSettings | None = None, template: str | None = None
) -> bool:
    """Create database ``dbname`` with PostGIS if it does not exist. Returns True if created."""
    settings = settings or database_settings()
    with psycopg.connect(admin_conninfo(settings), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if exists:
            return False
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
        if template:
            stmt = stmt + sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(stmt)
    if not template:
        with psycopg.connect(admin_conninfo(settings, dbname), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return True


def drop_database(dbname: str, settings: DatabaseSettings | None = None) -> None:
    """Drop database ``dbname`` (terminating its connections)."""
    settings = settings or database_settings()
    with psycopg.connect(admin_conninfo(settings), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
