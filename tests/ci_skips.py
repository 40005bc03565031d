"""Under ``CI=true`` a skipped test is a failed test.

``make test`` installs every tool the suite uses (ogr2ogr, chromium, QGIS, the optional
Python packages), so in CI a test that skips because one is missing hides a regression: the
install step broke, or the tool moved. Locally a missing tool still skips, with its reason.
Loaded by ``conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import os

import pytest

CI_VALUES = {"1", "true", "yes"}


def in_ci() -> bool:
    """True when the ``CI`` environment variable says this is a CI run."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """Turn a skip (skipif mark, ``pytest.skip``, ``importorskip``) into a failure in CI."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"{item.nodeid} was skipped under CI=true ({reason}); `make test` installs what the "
        "suite needs, so a missing tool or package is a failure in CI"
    )
