"""The notebooks are part of the product: each runs top to bottom against a test database.

Every notebook ends with cells that assert its numbers against the module functions, so a
notebook that shows wrong numbers fails here, not only one that raises. The kernel is the
Python running the tests (a kernelspec written to a temporary JUPYTER_PATH), and it reads the
database from ``DATABASE_URL`` like a data-staff session would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "tuzheng-test"

EXPECTED = [
    "01_quickstart.ipynb",
    "02_retained_land_review.ipynb",
    "03_upload_qa.ipynb",
    "04_district_statistics.ipynb",
    "05_procedure_budget.ipynb",
    "06_siting.ipynb",
]


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec that runs this interpreter (the venv's), whatever the user has installed."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "tuzheng test",
                "language": "python",
            }
        )
    )
    return root


def execute(
    nb: nbformat.NotebookNode,
    database_url: str,
    workdir: Path,
    kernel_path: Path,
    mp: pytest.MonkeyPatch,
) -> nbformat.NotebookNode:
    """Execute ``nb`` in ``workdir`` with DATABASE_URL set; CellExecutionError on a failure."""
    mp.setenv("DATABASE_URL", database_url)
    mp.setenv("JUPYTER_PATH", str(kernel_path))
    mp.setenv("TUZHENG_OUTPUT_DIR", str(workdir / "output"))
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return nb


def run_notebook(
    path: Path, database_url: str, workdir: Path, kernel_path: Path, mp: pytest.MonkeyPatch
) -> nbformat.NotebookNode:
    """Execute the notebook at ``path``; fail the test with the cell and traceback on error."""
    nb = nbformat.read(path, as_version=4)
    try:
        return execute(nb, database_url, workdir, kernel_path, mp)
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)


def test_the_four_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_are_stripped(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
        assert "execution" not in cell.metadata, f"{path.name} cell {i} has timing metadata"
    assert "widgets" not in nb.metadata
    # headings in Chinese with English alongside
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in first.source.splitlines()[0])
    assert any(ch.isascii() and ch.isalpha() for ch in first.source.splitlines()[0])


def test_nbstripout_would_change_nothing():
    """The same check as the ``nbstripout`` git filter (``nbstripout --install``)."""
    exe = Path(sys.executable).parent / "nbstripout"
    out = subprocess.run(
        [str(exe), "--verify", *map(str, NOTEBOOKS)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _assert_ran(nb: nbformat.NotebookNode) -> None:
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code)
    for c in code:
        for out in c.outputs:
            assert out.output_type != "error"
    # the checks at the end printed their verdict
    text = "".join(o.get("text", "") for o in code[-1].outputs if o.output_type == "stream")
    assert "OK" in text, text


@pytest.mark.parametrize(
    "name",
    [
        "01_quickstart.ipynb",
        "02_retained_land_review.ipynb",
        "04_district_statistics.ipynb",
        "06_siting.ipynb",
    ],
)
def test_notebook_runs_on_demo(name, demo_db, tmp_path, kernel_path, monkeypatch):
    nb = run_notebook(NOTEBOOK_DIR / name, demo_db.url, tmp_path, kernel_path, monkeypatch)
    _assert_ran(nb)
    # on the demo, the demo-case checks ran (they are not skipped by a silent condition)
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                  for o in c.outputs if o.output_type == "stream")  # fmt: skip
    for needle in DEMO_CHECKS.get(name, ()):
        assert needle in out, (name, needle)


DEMO_CHECKS = {
    "02_retained_land_review.ipynb": ["示例数据 demo district: True"],
    "04_district_statistics.ipynb": [
        "示例数据 demo district: True",
        "demo cases checked: ['reserve_none', 'reserve_under', 'reserve_exact', 'reserve_over']",
    ],
}


def test_upload_qa_notebook_runs_and_ingests(db, tmp_path, kernel_path, monkeypatch):
    """03 writes to the store, so it gets its own database with the demo district loaded. It
    loads a scratch dataset and removes it, so it runs twice in a row and leaves the store as
    it found it."""
    from sqlalchemy import text

    from data.demo import generate, load_into_db

    load_into_db(generate(), db.engine)

    def state() -> tuple[list[tuple[int, str]], int]:
        with db.engine.connect() as conn:
            ds = [
                tuple(r) for r in conn.execute(text("SELECT id, status FROM datasets ORDER BY id"))
            ]
            n = conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one()
        return ds, n

    before = state()
    for run in (1, 2):
        (tmp_path / str(run)).mkdir()
        nb = run_notebook(
            NOTEBOOK_DIR / "03_upload_qa.ipynb",
            db.url,
            tmp_path / str(run),
            kernel_path,
            monkeypatch,
        )
        _assert_ran(nb)
        assert state() == before, run
    with db.engine.connect() as conn:
        removed = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'dataset.remove'")
        ).scalar_one()
    assert removed == 2


# Each notebook, with one displayed figure changed by 1 m² right after it is shown: the closing
# checks must fail. (anchor: text of the cell showing the figure; the change made after it)
WRONG_NUMBER = {
    "01_quickstart.ipynb": ("table = ledger.to_frame()", 'table.loc[0, "planar_m2"] += 1.0'),
    "02_retained_land_review.ipynb": (
        "occupation = review.reserve",
        "occupation.total_occupied_m2 += 1.0",
    ),
    "03_upload_qa.ipynb": (
        'stored = stored[stored.code.str.startswith("SV-2026-")]',
        'stored.loc[stored.index[0], "area_m2"] += 1.0',
    ),
    "04_district_statistics.ipynb": (
        "by_category = pd.DataFrame(",
        'by_category.loc[by_category.index[0], "collective"] += 1.0',
    ),
    "05_procedure_budget.ipynb": (  # a deadline shown one day late
        'examples["end"] = [',
        'examples.loc[0, "end"] = "2025-10-15"',
    ),
    "06_siting.ipynb": (  # the candidate's reserve occupation shown 1 m² high
        'check = check_siting(engine, "GM-ZB-004", candidate, "R2")',
        'check = check.model_copy(update={"occupied_reserve_m2": check.occupied_reserve_m2 + 1})',
    ),
}
WRITES = {"03_upload_qa.ipynb", "05_procedure_budget.ipynb"}
"""Notebooks that write to the store: each gets a database of its own, with the demo."""


def _with_wrong_number(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    anchor, change = WRONG_NUMBER[name]
    at = next(i for i, c in enumerate(nb.cells) if anchor in c.source)
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(change))
    return nb


def _fails_in_closing_checks(nb, url: str, tmp_path, kernel_path, monkeypatch) -> None:  # noqa: ANN001
    with pytest.raises(CellExecutionError) as err:
        execute(nb, url, tmp_path, kernel_path, monkeypatch)
    assert "AssertionError" in str(err.value)
    ran = [c for c in nb.cells if c.cell_type == "code" and c.execution_count is not None]
    assert ran[-1] is [c for c in nb.cells if c.cell_type == "code"][-1], "failed before the checks"


@pytest.mark.parametrize("name", sorted(set(WRONG_NUMBER) - WRITES))
def test_a_notebook_showing_a_wrong_number_fails(name, demo_db, tmp_path, kernel_path, monkeypatch):
    """The closing checks catch a displayed figure that differs from the truth by 1 m²."""
    _fails_in_closing_checks(
        _with_wrong_number(name), demo_db.url, tmp_path, kernel_path, monkeypatch
    )


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_writing_notebook_showing_a_wrong_number_fails(
    name, db, tmp_path, kernel_path, monkeypatch
):
    from data.demo import generate, load_into_db

    load_into_db(generate(), db.engine)
    nb = _with_wrong_number(name)
    _fails_in_closing_checks(nb, db.url, tmp_path, kernel_path, monkeypatch)


def test_every_notebook_has_a_wrong_number_test():
    assert sorted(WRONG_NUMBER) == EXPECTED
