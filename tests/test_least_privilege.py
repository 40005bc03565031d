"""The app and its migrations run as a role that owns the schema and nothing more.

The bootstrap superuser creates databases and PostGIS; the app's role cannot create an
extension, read or write server files, run programs, create databases or roles, and every
connection needs a password (no trust). A cluster from an older version (trust, one
superuser) is converted on start.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import layers_data
import psycopg
import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from spatial import localdb, migrate
from spatial.models import Layer
from spatial.settings import DatabaseSettings


def _refused(conn, statement: str) -> str:  # noqa: ANN001
    with pytest.raises(DBAPIError) as info:
        conn.execute(text(statement))
    conn.rollback()
    return str(info.value.orig)


def test_the_app_role_cannot_create_extensions_or_touch_server_files(db):
    with db.engine.connect() as conn:
        conn.commit()
        role = conn.execute(
            text(
                "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, "
                "pg_has_role(current_user, 'pg_read_server_files', 'member'), "
                "pg_has_role(current_user, 'pg_write_server_files', 'member'), "
                "pg_has_role(current_user, 'pg_execute_server_program', 'member'), "
                "(SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'), "
                "(SELECT tableowner FROM pg_tables WHERE tablename = 'datasets') "
                "FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        conn.rollback()
        user = role[0]
        assert role[1:8] == (False,) * 7, role
        assert role[8] == user and role[9] == user  # owns the schema and the tables
        for ext in ("pgcrypto", "postgis_topology", "file_fdw"):
            msg = _refused(conn, f"CREATE EXTENSION {ext}")
            assert "permission denied" in msg or "must be" in msg, (ext, msg)
        assert "permission denied" in _refused(conn, "SELECT pg_read_file('/etc/passwd')")
        assert "pg_read_server_files" in _refused(conn, "COPY datasets FROM '/etc/passwd'")
        msg = _refused(conn, "COPY (SELECT 1) TO PROGRAM 'id'")
        assert "pg_execute_server_program" in msg, msg
        assert "permission denied" in _refused(conn, "CREATE ROLE evil")
        # and yet it runs the migrations: its own schema, tables, functions
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    u = make_url(db.url)
    info = dict(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database)
    with psycopg.connect(**info, autocommit=True) as raw:
        for statement in (f"CREATE DATABASE tz_evil_{os.getpid()}", "ALTER SYSTEM SET fsync = off"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                raw.execute(statement)


def test_every_connection_needs_a_password(db):
    u = make_url(db.url)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database).close()
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            host=u.host, port=u.port, user=u.username, password="wrong", dbname=u.database
        ).close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(os.environ.get("DATABASE_URL") is not None, reason="local cluster only")
def test_a_trust_cluster_of_an_older_version_is_converted():
    """What every existing .pgdata/ goes through on its next `tuzheng db up`."""
    # not under pytest's tmp_path: concurrent pytest runs rotate /tmp/pytest-of-<user>
    home = Path(tempfile.mkdtemp(prefix="tz-trust-"))
    data = home / "pgdata"
    settings = DatabaseSettings(data=data, port=_free_port())
    data.mkdir(mode=0o700)
    localdb._chown_for_postgres(data)
    localdb._make_reachable(data)
    made = subprocess.run(
        localdb._as_postgres()
        + [localdb.pg_bin("initdb"), "-D", str(data), "-U", "tuzheng", "--auth=trust"],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    conf = data / "postgresql.auto.conf"
    conf.write_text(localdb.CONF.format(port=settings.port))
    localdb._chown_for_postgres(conf)
    log = home / "server.log"
    try:
        # as an older version left it: running, migrated and loaded as the trusted superuser
        localdb._chown_for_postgres(home)  # the server writes its log there
        subprocess.run(
            localdb._as_postgres()
            + [localdb.pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "start"],
            check=True,
            capture_output=True,
        )
        old = f"postgresql+psycopg://tuzheng@127.0.0.1:{settings.port}/tuzheng"
        info = f"host=127.0.0.1 port={settings.port} user=tuzheng dbname=postgres"
        with psycopg.connect(info, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tuzheng")
        with psycopg.connect(
            info.replace("dbname=postgres", "dbname=tuzheng"), autocommit=True
        ) as c:
            c.execute("CREATE EXTENSION postgis")
        migrate.upgrade(old)
        engine = create_engine(old, poolclass=pool.NullPool)
        layers_data.load_small(engine)
        engine.dispose()

        assert "already running" in localdb.start(settings)  # converts it
        roles = settings.local_roles()
        assert roles is not None and roles["app_user"] == "tuzheng_app"
        assert roles["admin_user"] == "tuzheng"
        hba = (data / "pg_hba.conf").read_text()
        assert not re.search(r"^\s*(host|local).*\btrust\b", hba, re.M), hba
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(info).close()
        # the app role owns everything the old superuser had made, and keeps working
        migrate.upgrade(settings.url())
        app = create_engine(settings.url(), poolclass=pool.NullPool)
        with app.connect() as conn:
            owners = (
                conn.execute(
                    text(
                        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename NOT IN ('spatial_ref_sys')"
                    )
                )
                .scalars()
                .all()
            )
            assert owners == ["tuzheng_app"]
            assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one() == 105
        layers_data.load_layer(app, Layer.parcels, layers_data.parcel_rows()[:5])  # DDL + COPY
        with app.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one() == 5
        app.dispose()
        # a second start finds everything in place
        assert "already running" in localdb.start(settings)
    finally:
        localdb.stop(settings)
        shutil.rmtree(home, ignore_errors=True)
