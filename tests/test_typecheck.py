"""mypy is clean on ``spatial`` and ``api`` (configuration in pyproject.toml ``[tool.mypy]``)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_clean_on_spatial_and_api():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "spatial", "api"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Success: no issues found" in proc.stdout, output
