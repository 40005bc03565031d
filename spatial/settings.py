"""Settings for the domain layer, read from environment variables (pydantic-settings)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


ROLES_FILE = "tuzheng-roles.json"
"""File in the local cluster's data directory naming its two roles and their passwords."""


class DatabaseSettings(BaseSettings):
    """Where the PostGIS store is, and as whom to connect.

    ``DATABASE_URL`` points at an external server. When it is unset, the project-local
    cluster under ``TUZHENG_PG_DATA`` (default ``.pgdata/`` in the repository) is used.

    Two roles (least privilege): the app and its migrations connect as a role that owns the
    schema and nothing more (:meth:`url`); creating databases and the PostGIS extension is
    done as the bootstrap superuser (:meth:`admin_url`). The local cluster keeps both in
    ``<data>/tuzheng-roles.json`` (password authentication, scram-sha-256). An external
    deployment gives the app role in ``DATABASE_URL`` and, for ``tuzheng db up`` only, the
    superuser in ``TUZHENG_PG_ADMIN_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="TUZHENG_PG_", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data: Path = REPO_ROOT / ".pgdata"
    host: str = "127.0.0.1"
    port: int = 55432
    user: str = "tuzheng"
    dbname: str = "tuzheng"
    admin_database_url: str | None = Field(default=None, validation_alias="TUZHENG_PG_ADMIN_URL")

    def local_roles(self) -> dict[str, Any] | None:
        """The local cluster's roles (``admin_user``, ``app_user`` and passwords), if set up."""
        try:
            return dict(json.loads((self.data / ROLES_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    @property
    def is_local(self) -> bool:
        """True when the project-local cluster is in use (no ``DATABASE_URL``)."""
        return not self.database_url

    def for_database(self, dbname: str) -> DatabaseSettings:
        """The same server settings, pointing at database ``dbname``."""
        if self.database_url:
            return self.model_copy(update={"database_url": self.url(dbname)})
        return self.model_copy(update={"dbname": dbname})

    def url(self, dbname: str | None = None) -> str:
        """SQLAlchemy URL (psycopg 3 driver), optionally for another database name."""
        if self.database_url:
            from sqlalchemy.engine import make_url

            u = make_url(self.database_url).set(drivername="postgresql+psycopg")
            if dbname:
                u = u.set(database=dbname)
            return u.render_as_string(hide_password=False)
        roles = self.local_roles()
        if roles is None:  # a cluster not yet set up (or of an older version): no password
            db = dbname or self.dbname
            return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{db}"
        return self._local_url(roles["app_user"], roles["app_password"], dbname)

    def admin_url(self, dbname: str | None = None) -> str:
        """URL of the bootstrap superuser (creating databases and extensions), if any.

        External deployments without ``TUZHENG_PG_ADMIN_URL`` use ``DATABASE_URL``'s role,
        which then needs ``CREATEDB`` for the tests.
        """
        from sqlalchemy.engine import make_url

        if self.admin_database_url:
            u = make_url(self.admin_database_url).set(drivername="postgresql+psycopg")
            return (u.set(database=dbname) if dbname else u).render_as_string(hide_password=False)
        roles = None if self.database_url else self.local_roles()
        if roles is None:
            return self.url(dbname)
        return self._local_url(roles["admin_user"], roles["admin_password"], dbname)

    def _local_url(self, user: str, password: str, dbname: str | None) -> str:
        from sqlalchemy.engine import URL

        url = URL.create(
            "postgresql+psycopg",
            username=user,
            password=password,
            host=self.host,
            port=self.port,
            database=dbname or self.dbname,
        )
        return url.render_as_string(hide_password=False)


class IngestSettings(BaseSettings):
    """Limits for surveyor uploads."""

    model_config = SettingsConfigDict(env_prefix="TUZHENG_INGEST_", extra="ignore")

    max_upload_bytes: int = 512 * 1024 * 1024
    max_uncompressed_bytes: int = 2 * 1024 * 1024 * 1024
    max_zip_ratio: float = 200.0
    max_zip_members: int = 2000
    sliver_threshold_m2: float = 1.0
    upload_dir: Path = REPO_ROOT / ".uploads"
    worker_memory_mb: int = 4096
    """Address space (MB) an API upload's ingest process may add beyond its start-up size
    (``RLIMIT_AS``; see :mod:`spatial.ingest.isolated`). A million parcels need about 2,000."""
    lock_timeout_s: float = 30.0
    """Seconds an upload waits for another upload to the same layer to publish, then 409."""
    worker_timeout_s: float = 3600.0
    """Seconds after which an API upload's ingest process is killed and the upload refused
    (an upper bound: the limit of one upload also scales with its size, see below)."""
    worker_base_s: float = 120.0
    """Wall-clock seconds every API upload's worker gets, before ``worker_s_per_mb``."""
    worker_s_per_mb: float = 4.0
    """Further wall-clock seconds per MB of the uploaded file."""
    worker_cpu_base_s: float = 30.0
    """CPU seconds every API upload's worker may use (``RLIMIT_CPU``), before the per-MB part."""
    worker_cpu_s_per_mb: float = 2.0
    """Further CPU seconds per MB of the uploaded file (a million parcels, 506 MB, need ~20)."""
    staged_ttl_minutes: float = 30.0
    """How long a file checked by the upload page's dry run is kept for publishing."""


class SessionSettings(BaseSettings):
    """Browser sessions (``TUZHENG_SESSION_``): how long a signed-in browser stays signed in."""

    model_config = SettingsConfigDict(env_prefix="TUZHENG_SESSION_", extra="ignore")

    idle_minutes: float = 60.0
    """A session unused for this long has expired."""
    max_hours: float = 12.0
    """A session expires this long after sign-in, however busy (one working day)."""
    max_failed_logins: int = 5
    """Failed sign-ins of one user name within ``lockout_minutes`` before further tries wait."""
    lockout_minutes: float = 15.0


@lru_cache
def database_settings() -> DatabaseSettings:
    """The process-wide database settings (read once from the environment)."""
    return DatabaseSettings()
