"""schemathesis against a real server: ``--checks all``, anonymously and with an admin token.

No response may be a server error (5xx), and every status and content type must be documented
in the OpenAPI document. The other checks of ``--checks all`` run too; what they find is
printed (the test output shows it) but does not fail the test, since several concern
validation rules of routes the document cannot express.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import layers_data
import pytest

from spatial.users import add_user

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MUST_PASS = {
    "ST103": "Undocumented status code",
    "ST105": "Undocumented Content-Type",
    "ST205": "Allow header mismatch",
}
SERVER_ERROR = ("Server error", "ST500", "500 Internal Server Error")


def _failures(junit: Path, tag: str) -> list[str]:
    """Check failures (``failure``) or schemathesis' own runtime errors (``error``)."""
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for node in case.findall(tag):
            out.append(f"{case.get('name')}: {node.get('message') or ''}\n{node.text or ''}")
    return out


@pytest.mark.e2e
@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed")
@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_schemathesis_finds_no_server_error_and_no_undocumented_status(db, tmp_path, who):
    layers_data.load_small(db.engine)
    token = add_user("st-admin", "admin", db.engine)
    junit = tmp_path / "junit.xml"
    with layers_data.running_server(
        db.url, TUZHENG_INGEST_UPLOAD_DIR=str(tmp_path / "uploads")
    ) as base:
        args = [
            str(SCHEMATHESIS),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--generation-deterministic",
            "--workers",
            "2",
            "--request-timeout",
            "60",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(junit),
        ]
        if who == "admin":
            args += ["--header", f"Authorization: Bearer {token}"]
        run = subprocess.run(args, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    print(run.stdout[-20000:])
    assert junit.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    failures = _failures(junit, "failure")
    for error in _failures(junit, "error"):  # e.g. its own "AST constructor recursion" bug
        print("schemathesis runtime error (not a finding about the API):", error[:300])
    # the report is read right: it holds failures exactly when the summary lists some
    assert bool(failures) == ("❌ ST" in run.stdout), (len(failures), run.stdout[-2000:])
    server_errors = [f for f in failures if any(s in f for s in SERVER_ERROR)]
    undocumented = [f for f in failures if any(code in f for code in MUST_PASS)]
    assert server_errors == [], "\n\n".join(server_errors)
    assert undocumented == [], "\n\n".join(undocumented)
    # what schemathesis tested: every operation of the document
    assert "Tested:" in run.stdout
