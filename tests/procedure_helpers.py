"""Helpers for the procedure and budget tests: run the CLI as users do, auth headers, a
signed-in session (TestClient, httpx or headless Chromium)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.deps import SESSION_COOKIE
from tests.cdp import Browser, chromium_path

TUZHENG = Path(sys.executable).parent / "tuzheng"
PW = "土整-correct-horse-7"
"""The password the page tests give their users."""

# A fixture notice for 2027, entered by the tests: NOT the State Council's real 2027 notice
# (not known when these tests were written). 1 Jan 2027 is a Friday; the fixture gives
# 1–3 Jan off and makes Sunday 7 Feb a make-up working day for a Spring Festival break of
# 8–13 Feb (Mon–Sat), so its weekdays are easy to check by hand.
NOTICE_2027 = {
    "year": 2027,
    "reference": "测试用通知 test fixture (not the real 2027 notice)",
    "holidays": [
        {"start": "2027-01-01", "end": "2027-01-03", "name": "元旦"},
        {"start": "2027-02-08", "end": "2027-02-13", "name": "春节"},
    ],
    "workdays": [{"day": "2027-02-07", "name": "春节"}],
}


def run_cli(db_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``tuzheng ARGS`` against the database at ``db_url``; stdout/stderr as text."""
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run(
        [str(TUZHENG), *args], env=env, capture_output=True, text=True, check=check, timeout=120
    )


def bearer(token: str) -> dict[str, str]:
    """Authorization header for an API token."""
    return {"Authorization": f"Bearer {token}"}


def login(client, name: str) -> None:  # noqa: ANN001
    """Sign ``name`` in through the login form (a TestClient or an httpx.Client)."""
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={"name": name, "password": PW, "login_csrf": token, "next": "/workbench"},
        follow_redirects=False,
    )
    assert r.status_code in (302, 303), r.text


@contextmanager
def signed_in_browser(base: str, name: str) -> Iterator[Browser]:
    """Headless Chromium (``tests/cdp.py``) carrying ``name``'s session for the server at
    ``base``; the test fails when chromium is not installed."""
    if chromium_path() is None:
        pytest.fail("chromium is not installed (make test-system-deps installs it)")
    with httpx.Client(base_url=base) as c:
        login(c, name)
        cookie = c.cookies.get(SESSION_COOKIE)
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(Path(profile))
        try:
            browser.send("Network.enable")
            browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base)
            yield browser
        finally:
            browser.close()
