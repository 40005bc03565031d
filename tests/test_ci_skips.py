"""Under CI=true a skip fails the run (tests/ci_skips.py); locally it still skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

SAMPLE = """
import pytest

@pytest.mark.skipif(True, reason="tool-xyz is not installed")
def test_marked():
    pass

def test_imported():
    pytest.importorskip("no_such_package_tz")

def test_plain():
    assert 1 + 1 == 2
"""


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(HERE)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "ci_skips", "-p", "no:cacheprovider", "-q",
         "-rfs", "test_sample.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("ci", ["true", "1"])
def test_skips_fail_under_ci(tmp_path: Path, ci: str) -> None:
    out = _run(tmp_path, ci)
    assert out.returncode == 1, out.stdout
    # a skipif mark acts at setup (an error), pytest.skip in the call (a failure): both fail
    assert "1 failed, 1 passed, 1 error" in out.stdout, out.stdout
    assert "tool-xyz is not installed" in out.stdout
    assert "no_such_package_tz" in out.stdout
    assert "skipped under CI=true" in out.stdout


def test_skips_still_skip_locally(tmp_path: Path) -> None:
    out = _run(tmp_path, None)
    assert out.returncode == 0, out.stdout
    assert "1 passed, 2 skipped" in out.stdout, out.stdout
