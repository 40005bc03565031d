"""Helpers for the procedure and budget tests: run the CLI as users do, auth headers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TUZHENG = Path(sys.executable).parent / "tuzheng"

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
