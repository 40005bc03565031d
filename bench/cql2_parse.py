"""CQL2 parse + compile cost: the ``cql2`` package (Rust) with our compiler vs our old parser.

The old hand-written parser is loaded from git (``--baseline``, default the last commit that
had it), so both run in one process on the same filters. Reports µs per filter (best of
``--repeat`` runs of ``--number`` calls) and the ratio new/old.

    .venv/bin/python bench/cql2_parse.py
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

from spatial.layers import cql2 as new
from spatial.layers.registry import build_registry

ROOT = Path(__file__).resolve().parent.parent
FILTERS = {
    "equals": "category = 'collective'",
    "and/or of 4": "(category = 'collective' OR project_code = 'GM-ZB-001') AND area_m2 > 3000 "
    "AND owner LIKE '玉塘%'",
    "IN of 50": "code IN (" + ", ".join(f"'GM-{i:04d}'" for i in range(50)) + ")",
    "OR of 200": " OR ".join(f"code = 'GM-{i:04d}'" for i in range(200)),
    "between + not": "NOT (area_m2 BETWEEN 1000 AND 5000) AND owner IS NOT NULL",
}


def load_baseline(rev: str):  # noqa: ANN201
    """The module ``spatial/layers/cql2.py`` as it was at ``rev``."""
    src = subprocess.run(
        ["git", "show", f"{rev}:spatial/layers/cql2.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_cql2.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_cql2", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_cql2"] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


def best_us(fn, number: int, repeat: int) -> float:  # noqa: ANN001
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", default="c2fc2fb", help="git revision of the old parser")
    parser.add_argument("--number", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    old = load_baseline(args.baseline)
    col = build_registry().get("parcels")
    print(f"{'filter':<16}{'old µs':>10}{'cql2 parse µs':>15}{'new total µs':>14}{'new/old':>9}")
    for name, text in FILTERS.items():
        old_us = best_us(lambda t=text: old.compile_filter(t, col), args.number, args.repeat)
        parse_us = best_us(lambda t=text: new.parse(t), args.number, args.repeat)
        new_us = best_us(lambda t=text: new.compile_filter(t, col), args.number, args.repeat)
        print(f"{name:<16}{old_us:>10.1f}{parse_us:>15.1f}{new_us:>14.1f}{new_us / old_us:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
