"""Notebook 05 (procedure, deadlines, budgets) runs top to bottom and its checks can fail."""

from __future__ import annotations

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from tests.test_notebooks import NOTEBOOK_DIR, _assert_ran, execute, kernel_path, run_notebook

__all__ = ["kernel_path"]  # the fixture, re-used

NB = NOTEBOOK_DIR / "05_procedure_budget.ipynb"


@pytest.fixture
def demo_copy(db):
    from data.demo import generate, load_into_db

    load_into_db(generate(), db.engine)
    return db


def test_procedure_notebook_runs_on_the_demo(demo_copy, tmp_path, kernel_path, monkeypatch):
    nb = run_notebook(NB, demo_copy.url, tmp_path, kernel_path, monkeypatch)
    _assert_ran(nb)


def test_a_wrong_deadline_shown_fails_the_notebook(demo_copy, tmp_path, kernel_path, monkeypatch):
    """A table showing a due date one day late is caught by the closing checks."""
    nb = nbformat.read(NB, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "deadlines = pd.DataFrame(" in c.source)
    nb.cells.insert(
        at + 1,
        nbformat.v4.new_code_cell(
            'deadlines["到期日"] = deadlines["到期日"] + pd.Timedelta(days=1)'
        ),
    )
    with pytest.raises(CellExecutionError) as err:
        execute(nb, demo_copy.url, tmp_path, kernel_path, monkeypatch)
    assert "AssertionError" in str(err.value)
