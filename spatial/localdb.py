"""The project-local PostgreSQL/PostGIS cluster: initialise, start, stop, create databases.

The cluster lives under ``TUZHENG_PG_DATA`` (default ``.pgdata/``) and listens on
127.0.0.1:``TUZHENG_PG_PORT`` only, with password authentication (scram-sha-256). ``initdb``
refuses to run as root, so as root the server runs as the ``postgres`` system user.

Least privilege: the bootstrap superuser (``postgres``) creates databases and the PostGIS
extension; the app and its migrations connect as ``tuzheng``, a role that owns the schema
``public`` of its databases and nothing more (no superuser, no ``CREATEDB``, no
``CREATE EXTENSION``, no ``pg_read_server_files``, no ``COPY … PROGRAM``). Their passwords are
generated at ``initdb`` and kept in ``<data>/tuzheng-roles.json`` (readable by its owner only).
A cluster made by an older version (one superuser, trust authentication) is converted on its
next start: an app role ``tuzheng_app`` is created and given the schema and its objects, the
superuser gets a password, and trust is replaced by scram-sha-256.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from spatial.settings import ROLES_FILE, DatabaseSettings, database_settings

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
password_encryption = 'scram-sha-256'
"""

HBA = """# tuzheng: TCP on the loopback only, passwords (scram-sha-256); no trust, no Unix socket
host    all    all    127.0.0.1/32    scram-sha-256
host    all    all    ::1/128         scram-sha-256
"""
ADMIN_USER = "postgres"
APP_USER = "tuzheng"
CONVERTED_APP_USER = "tuzheng_app"
"""The app role of a cluster converted from trust, whose superuser already took ``tuzheng``."""


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
    """True if a PostgreSQL server answers on the configured host and port."""
    try:
        with psycopg.connect(admin_conninfo(settings), connect_timeout=2):
            return True
    except psycopg.OperationalError as exc:
        # it answered, and refused us: it is running
        text = str(exc).lower()
        return "authentication" in text or "password" in text or "does not exist" in text


def _write_roles(settings: DatabaseSettings, roles: dict[str, str]) -> None:
    path = settings.data / ROLES_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(roles, fh)


def _write_hba(settings: DatabaseSettings) -> None:
    hba = settings.data / "pg_hba.conf"
    hba.write_text(HBA, encoding="utf-8")
    _chown_for_postgres(hba)


def init_cluster(settings: DatabaseSettings) -> bool:
    """Create the cluster directory with ``initdb`` if missing. Returns True if created."""
    data = settings.data
    if (data / "PG_VERSION").exists():
        return False
    check_postgis_installed()
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chown_for_postgres(data)
    _make_reachable(data)
    roles = {
        "admin_user": ADMIN_USER,
        "admin_password": secrets.token_urlsafe(24),
        "app_user": APP_USER,
        "app_password": secrets.token_urlsafe(24),
    }
    with tempfile.TemporaryDirectory() as tmp:
        pwfile = Path(tmp) / "pw"
        pwfile.write_text(roles["admin_password"] + "\n", encoding="utf-8")
        _chown_for_postgres(Path(tmp))
        _chown_for_postgres(pwfile)
        _run(
            _as_postgres()
            + [
                pg_bin("initdb"),
                "-D",
                str(data),
                "-U",
                ADMIN_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
    _write_hba(settings)
    _write_roles(settings, roles)
    conf = data / "postgresql.auto.conf"
    text = conf.read_text() if conf.exists() else ""
    conf.write_text(text + CONF.format(port=settings.port))
    if os.geteuid() == 0:
        _chown_for_postgres(conf)
    return True


def bootstrap_external(settings: DatabaseSettings) -> str:
    """With ``TUZHENG_PG_ADMIN_URL``: as that superuser, create ``DATABASE_URL``'s role (with
    its password, no privileges), its database and PostGIS, and give it the schema."""
    from sqlalchemy.engine import make_url

    if not settings.admin_database_url:
        return "no TUZHENG_PG_ADMIN_URL: DATABASE_URL's role and database are used as they are"
    u = make_url(settings.url())
    if not u.username or not u.database:
        raise LocalDatabaseError("DATABASE_URL must name the app's role and database")
    with psycopg.connect(admin_conninfo(settings), autocommit=True) as conn:
        admin = conn.execute("SELECT current_user").fetchone()
        if admin is not None and admin[0] == u.username:
            raise LocalDatabaseError(
                "DATABASE_URL and TUZHENG_PG_ADMIN_URL name the same role; give the app a role "
                "of its own (see README, Deployment)"
            )
        _create_app_role(conn, u.username, u.password or secrets.token_urlsafe(24))
    ensure_database(u.database, settings)
    with psycopg.connect(admin_conninfo(settings, u.database), autocommit=True) as conn:
        hand_schema_to(conn, u.username)
    return f"role {u.username} owns the schema of {u.database}; PostGIS is installed"


def start(settings: DatabaseSettings | None = None) -> str:
    """Initialise (if needed) and start the local cluster; return a status line."""
    settings = settings or database_settings()
    if not settings.is_local:
        if settings.admin_database_url:
            return bootstrap_external(settings)
        return "DATABASE_URL is set: using the external server, no local cluster started"
    created = init_cluster(settings)
    if is_running(settings):
        ensure_roles(settings)
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
    ensure_roles(settings)
    ensure_database(settings.dbname, settings)
    verb = "initialised and started" if created else "started"
    return f"local PostGIS {verb} on {settings.host}:{settings.port} ({settings.data})"


def stop(settings: DatabaseSettings | None = None) -> None:
    """Stop the local cluster if it is running."""
    settings = settings or database_settings()
    if (settings.data / "postmaster.pid").exists():
        _run(_as_postgres() + [pg_bin("pg_ctl"), "-D", str(settings.data), "-m", "fast", "stop"])


def admin_conninfo(settings: DatabaseSettings, dbname: str = "postgres") -> str:
    """libpq connection string of the bootstrap superuser (creating databases, extensions)."""
    from sqlalchemy.engine import make_url

    u = make_url(settings.admin_url(dbname))
    parts: dict[str, str | int | None] = {
        "host": u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": dbname,
    }
    return psycopg.conninfo.make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


def app_user(settings: DatabaseSettings) -> str | None:
    """The role the app connects as (from ``DATABASE_URL`` or the local cluster's roles)."""
    from sqlalchemy.engine import make_url

    return make_url(settings.url()).username


def ensure_roles(settings: DatabaseSettings) -> None:
    """Make the local cluster least-privilege: the app role exists with its password, and a
    cluster left by an older version (trust, one superuser) is converted (module docstring)."""
    if not settings.is_local:
        return
    import fcntl

    # two processes starting the same cluster at once (make test beside a notebook) must not
    # both convert it, each with passwords of its own
    with open(settings.data.parent / f".{settings.data.name}.roles.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        roles = settings.local_roles()
        if roles is None:
            _convert_trust_cluster(settings)
            return
        with psycopg.connect(admin_conninfo(settings), autocommit=True) as conn:
            _create_app_role(conn, roles["app_user"], roles["app_password"])


def _create_app_role(conn: psycopg.Connection, user: str, password: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user]).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL(
            verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS PASSWORD {}"
        ).format(sql.Identifier(user), sql.Literal(password))
    )


def _convert_trust_cluster(settings: DatabaseSettings) -> None:
    """Passwords and an app role for a cluster that trusted every local connection."""
    superuser = settings.user
    roles = {
        "admin_user": superuser,
        "admin_password": secrets.token_urlsafe(24),
        "app_user": CONVERTED_APP_USER,
        "app_password": secrets.token_urlsafe(24),
    }
    info = psycopg.conninfo.make_conninfo(
        "", host=settings.host, port=settings.port, user=superuser, dbname="postgres"
    )
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(superuser), sql.Literal(roles["admin_password"])
            )
        )
        _create_app_role(conn, roles["app_user"], roles["app_password"])
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"
            )
        ]
    for name in names:
        with psycopg.connect(
            psycopg.conninfo.make_conninfo(info, dbname=name), autocommit=True
        ) as conn:
            hand_schema_to(conn, roles["app_user"])
    _write_roles(settings, roles)
    _write_hba(settings)
    with psycopg.connect(info, autocommit=True, password=roles["admin_password"]) as conn:
        conn.execute("SELECT pg_reload_conf()")


HAND_OVER = """
DO $$
DECLARE r record;
BEGIN
    EXECUTE format('ALTER SCHEMA public OWNER TO %I', {app});
    FOR r IN
        SELECT o.kind, o.obj FROM (
            SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                   c.oid::regclass::text, 'pg_class'::regclass, c.oid,
                   CASE c.relkind WHEN 'S' THEN 'eai' ELSE 'e' END, 1
            FROM pg_class c
            WHERE c.relnamespace = 'public'::regnamespace
              AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            UNION ALL
            SELECT 'ROUTINE', p.oid::regprocedure::text, 'pg_proc'::regclass, p.oid, 'e', 2
            FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
            UNION ALL
            SELECT 'TYPE', t.oid::regtype::text, 'pg_type'::regclass, t.oid, 'e', 3
            FROM pg_type t
            WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')
        ) o(kind, obj, classid, objid, skip, step)
        -- leave what an extension owns, and sequences owned by a column or an identity
        WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.classid
                          AND d.objid = o.objid AND strpos(o.skip, d.deptype::text) > 0)
        ORDER BY o.step, o.kind DESC, o.obj
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.obj, {app});
    END LOOP;
END
$$;
"""


def hand_schema_to(conn: psycopg.Connection, user: str) -> None:
    """Give ``user`` the schema ``public`` and every object in it that no extension owns
    (run as a superuser in the database concerned)."""
    conn.execute(sql.SQL(HAND_OVER).format(app=sql.Literal(user)))


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
        owner = app_user(settings)
        with psycopg.connect(admin_conninfo(settings, dbname), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            admin = conn.execute("SELECT current_user").fetchone()
            if owner and admin and owner != admin[0]:
                conn.execute(
                    sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner))
                )
    return True


def drop_database(dbname: str, settings: DatabaseSettings | None = None) -> None:
    """Drop database ``dbname`` (terminating its connections)."""
    settings = settings or database_settings()
    with psycopg.connect(admin_conninfo(settings), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
