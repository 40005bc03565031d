"""The per-project analyses' docstrings: the shared sections filled in, no placeholder left."""

from __future__ import annotations

import inspect

import pytest

from spatial.analysis.composition import retained_land_composition
from spatial.analysis.coverage import plan_coverage
from spatial.analysis.ledger import area_ledger
from spatial.analysis.projects import project_doc
from spatial.analysis.reserve import reserve_occupation
from spatial.analysis.review import review_project

ANALYSES = [
    retained_land_composition,
    plan_coverage,
    area_ledger,
    reserve_occupation,
    review_project,
]

RAISES = "Raises\n------\nNotFound\n    If ``project_code`` names no current project."


@pytest.mark.parametrize("fn", ANALYSES, ids=lambda f: f.__name__)
def test_each_analysis_documents_not_found_and_keeps_numpy_sections_in_order(fn):
    doc = inspect.getdoc(fn)
    assert doc is not None
    assert "{" not in doc
    assert doc.count(RAISES) == 1
    sections = [
        s for s in ("Parameters\n---", "Returns\n---", "Raises\n---", "Examples\n---") if s in doc
    ]
    assert [doc.index(s) for s in sections] == sorted(doc.index(s) for s in sections)
    assert "Raises\n---" in sections and "Examples\n---" in sections


@pytest.mark.parametrize(
    "fn", [plan_coverage, reserve_occupation, review_project], ids=lambda f: f.__name__
)
def test_the_shared_parameters_are_written_in(fn):
    doc = inspect.getdoc(fn)
    assert (
        "Parameters\n----------\nengine\n    SQLAlchemy engine of the tuzheng store.\n"
        "project_code\n    Code of a current project.\n"
    ) in doc


def test_project_doc_fills_placeholders_at_section_indentation():
    def f() -> None:
        """Summary.

        Parameters
        ----------
        {engine}

        {raises_not_found}
        """

    assert project_doc(f) is f
    assert inspect.getdoc(f) == (
        "Summary.\n\nParameters\n----------\n"
        "engine\n    SQLAlchemy engine of the tuzheng store.\n\n" + RAISES
    )


def test_project_doc_leaves_a_function_without_docstring_alone():
    def g() -> None:
        pass

    assert project_doc(g).__doc__ is None


def test_project_doc_refuses_an_unknown_placeholder():
    def h() -> None:
        """Summary.

        {raises_notfound}
        """

    with pytest.raises(KeyError, match="raises_notfound"):
        project_doc(h)
