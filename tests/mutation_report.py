"""Summarise ``mutmut results --all true`` per module; fail on survivors nobody explained.

Usage: ``python tests/mutation_report.py RESULTS SURVIVORS`` (what ``make mutation`` runs).
``SURVIVORS`` lists the mutants that are explained rather than killed, one per line as
``<mutant name>  # <why it survives>``; blank lines and lines starting with ``#`` are
comments. Exit status 1 when a mutant survived (or had no test) and is not listed, and
also when a listed mutant no longer survives (the list must stay true).
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

NOT_KILLED = {"survived", "no tests", "timeout", "suspicious"}


def parse_results(text: str) -> dict[str, str]:
    """Mutant name → status from the lines ``<name>: <status>``."""
    out = {}
    for line in text.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            out[name] = status.strip()
    return out


def parse_explained(text: str) -> dict[str, str]:
    """Mutant name → explanation, from the survivors file."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, why = line.partition("#")
        out[name.strip()] = why.strip()
    return out


def module_of(name: str) -> str:
    """``spatial.rules.x_round_area__mutmut_5`` → ``spatial.rules``."""
    return name.split(".x_")[0].split(".xǁ")[0]


def main(results_path: str, survivors_path: str) -> int:
    """Print the per-module table and return the exit status."""
    results = parse_results(Path(results_path).read_text(encoding="utf-8"))
    explained = parse_explained(Path(survivors_path).read_text(encoding="utf-8"))
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in results.items():
        per[module_of(name)][status] += 1
    print(f"{'module':40} {'mutants':>8} {'killed':>7} {'survived':>9} {'explained':>10}")
    for mod in sorted(per):
        c = per[mod]
        left = [n for n, s in results.items() if module_of(n) == mod and s in NOT_KILLED]
        print(
            f"{mod:40} {sum(c.values()):8} {c['killed']:7} {len(left):9} "
            f"{sum(1 for n in left if n in explained):10}"
        )
    unexplained = sorted(n for n, s in results.items() if s in NOT_KILLED and n not in explained)
    stale = sorted(n for n in explained if results.get(n) not in NOT_KILLED)
    for n in unexplained:
        print(f"UNEXPLAINED {results[n]}: {n}  (mutmut show {n})")
    for n in stale:
        print(f"STALE (now {results.get(n, 'gone')}): {n}  (remove it from {survivors_path})")
    return 1 if unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
