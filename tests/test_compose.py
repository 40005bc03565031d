"""docker-compose.yml and the Dockerfile agree with the settings (Docker itself is not here)."""

from __future__ import annotations

import re

import pytest
import yaml
from sqlalchemy.engine import make_url

from api.settings import ApiSettings
from spatial.settings import REPO_ROOT, DatabaseSettings


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_services(compose):
    assert set(compose["services"]) == {"db", "app"}
    db = compose["services"]["db"]
    assert re.fullmatch(r"postgis/postgis:15-3\.\d+", db["image"])
    env = _env(db)
    assert env["POSTGRES_USER"] == "tuzheng"
    assert env["POSTGRES_DB"] == "tuzheng"
    assert env["POSTGRES_PASSWORD"]
    # A named volume holds the data directory.
    volume, target = db["volumes"][0].split(":", 1)
    assert target == "/var/lib/postgresql/data"
    assert volume in compose["volumes"]
    test = " ".join(db["healthcheck"]["test"])
    assert "pg_isready" in test and "-U tuzheng" in test


def test_app_waits_for_healthy_db_and_builds_here(compose):
    app = compose["services"]["app"]
    assert app["build"] == "."
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert (REPO_ROOT / "Dockerfile").is_file()


def test_app_port_matches_api_settings(compose, monkeypatch):
    app = compose["services"]["app"]
    for key, value in _env(app).items():
        monkeypatch.setenv(key, value)
    settings = ApiSettings()
    assert settings.port == ApiSettings.model_fields["port"].default == 8000
    assert settings.host == "0.0.0.0"
    assert app["ports"] == [f"{settings.port}:{settings.port}"]


def test_database_url_parsed_like_the_app_does(compose, monkeypatch):
    env = _env(compose["services"]["app"])
    db_env = _env(compose["services"]["db"])
    monkeypatch.setenv("DATABASE_URL", env["DATABASE_URL"])
    monkeypatch.setenv("TUZHENG_PG_ADMIN_URL", env["TUZHENG_PG_ADMIN_URL"])
    settings = DatabaseSettings()  # the same code path as spatial.settings.database_settings()
    assert not settings.is_local
    url = make_url(settings.url())
    assert url.drivername == "postgresql+psycopg"
    # the app connects as a role of its own, not as the image's superuser (least privilege);
    # the superuser's URL is there for the bootstrap in docker/start.sh only
    assert url.username == "tuzheng_app" != db_env["POSTGRES_USER"]
    admin = make_url(settings.admin_url())
    assert admin.username == db_env["POSTGRES_USER"] == "tuzheng"
    assert admin.password == db_env["POSTGRES_PASSWORD"]
    assert url.database == admin.database == db_env["POSTGRES_DB"] == "tuzheng"
    assert url.host == "db"  # the compose service name
    assert url.port == 5432


def test_dockerfile_migrates_then_serves_the_factory():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert "EXPOSE 8000" in dockerfile
    assert "pip install" in dockerfile
    assert "node_modules" in dockerfile  # Leaflet served by the app, no CDN
    start = (REPO_ROOT / "docker" / "start.sh").read_text(encoding="utf-8")
    bootstrap = start.index("tuzheng db up")
    unset = start.index("unset TUZHENG_PG_ADMIN_URL")
    migrate = start.index("tuzheng db migrate")
    serve = start.index("exec uvicorn api.app:app_factory --factory")
    assert bootstrap < unset < migrate < serve
    assert '--host "${TUZHENG_API_HOST:-0.0.0.0}"' in start
    assert '--port "${TUZHENG_API_PORT:-8000}"' in start
    assert "docker/start.sh" in dockerfile
    # Every package pyproject.toml installs is copied into the image before pip runs.
    import tomllib

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.M), package
    assert dockerfile.index("COPY data ./data") < dockerfile.index("pip install")
    # The CLI commands the script calls exist.
    from typer.testing import CliRunner

    from spatial.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["db", "migrate", "--help"]).exit_code == 0
    assert runner.invoke(app, ["bootstrap", "--help"]).exit_code == 0
