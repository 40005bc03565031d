"""No import circles in spatial/ and api/ (the layer registry and its collections had one).

Imports are read from the source with ``ast``. At module level no circle is allowed anywhere;
in the layer, schema, dataset and ingest packages not even through an import deferred into a
function (the old ``analysis`` <-> ``registry`` circle hid that way).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRICT = ("spatial.layers", "spatial.schema", "spatial.datasets", "spatial.ingest")


def _modules() -> dict[str, Path]:
    out = {}
    for path in [*ROOT.glob("spatial/**/*.py"), *ROOT.glob("api/**/*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = path
    return out


def _graph(everywhere: bool) -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = ast.walk(tree) if everywhere else iter(tree.body)
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    target = full if full in mods else node.module
                    if target in mods:
                        graph[name].add(target)
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in mods}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_level_import_circle():
    assert _cycles(_graph(everywhere=False)) == []


def test_no_deferred_import_circle_in_the_layer_and_ingest_packages():
    circles = _cycles(_graph(everywhere=True))
    assert [c for c in circles if any(m.startswith(STRICT) for m in c)] == []


def test_the_check_sees_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
