"""Benchmark the overlap check of parcel uploads: GEOS coverage validator vs numpy edge matching.

Usage::

    .venv/bin/python bench/overlaps.py                        # /tmp/bw/n100000, n1000000
    .venv/bin/python bench/overlaps.py --sizes 100000 --workdir /tmp/bw

For each size, demo parcels (``bench/ingest.py``'s GBK shapefile in EPSG:4547, reused from
``WORKDIR/nN/宗地.shp`` or generated there) are read with ``pyogrio.read_arrow`` and
``shapely.from_wkb``. Then, each in a fresh child process (so peak memory is its own):

* ``old``: the previous ``overlap_problems``, which flagged candidates with
  ``shapely.coverage_invalid_edges`` (a private copy below, kept only here);
* ``new``: ``spatial.ingest.geometry.overlap_problems`` (numpy edge matching, then the same
  exact GEOS check on flagged polygons);
* ``flag``: ``flag_overlap_candidates`` alone, i.e. the new pre-filter.

Scenarios (``--scenarios``): ``clean``, the demo parcels as generated (a valid coverage, no
overlaps); ``shifted``, 0.1 % of random parcels appended again, moved 1 m east (each copy
overlaps its original and neighbours; both methods must find the same pairs); ``gaps``, every
parcel shrunk by 0.25 m (no edge is shared any more, as in surveys with roads left out: the new
pre-filter then flags every polygon and the exact check does all the work, its worst case).

Printed per run: wall time, polygons flagged, overlapping pairs found (and a digest of the
pairs, which must agree between old and new), and the peak resident memory above what the
process held before the call (VmHWM after resetting it through ``/proc/self/clear_refs``).
This is not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def old_overlap_pairs(geoms: Any, ok: Any) -> tuple[int, list[tuple[int, int, float]]]:
    """The previous method (a copy kept only here): GEOS coverage validator flags, then the
    exact check; returns the number flagged and (row, other row, m²) of each pair."""
    import numpy as np
    import shapely

    idx = np.flatnonzero(ok)
    g = geoms[idx]
    flagged = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(g)))
    a = b = np.zeros(0, dtype=np.int64)
    inter = np.zeros(0)
    if len(flagged):
        tree = shapely.STRtree(g)
        qa, qb = tree.query(g[flagged], predicate="intersects")
        a, b = flagged[qa], qb
        keep = a != b
        a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        if len(a):
            pairs = np.unique(np.stack([a, b], axis=1), axis=0)
            a, b = pairs[:, 0], pairs[:, 1]
            inner = shapely.relate_pattern(g[a], g[b], "T********")
            a, b = a[inner], b[inner]
        if len(a):
            inter = shapely.area(shapely.intersection(g[a], g[b]))
    rows = [
        (int(i) + 1, int(j) + 1, round(float(x), 2))
        for i, j, x in zip(idx[a], idx[b], inter, strict=True)
    ]
    return len(flagged), rows


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(method: str, shp: str, scenario: str) -> None:
    """Run one method on one file in one scenario; print a JSON line."""
    import gc

    import numpy as np
    import pyogrio
    import shapely

    from spatial.ingest import geometry

    table = pyogrio.read_arrow(shp, columns=[])[1]
    geoms = shapely.from_wkb(table.column(0))
    del table
    if scenario == "shifted":  # append copies of 0.1 % of parcels moved 1 m east: overlaps
        rng = np.random.default_rng(0)
        pick = rng.choice(len(geoms), size=len(geoms) // 1000, replace=False)
        geoms = np.concatenate([geoms, shapely.transform(geoms[pick], lambda c: c + [1.0, 0.0])])
    elif scenario == "gaps":  # no shared edges: every polygon is flagged by the new method
        geoms = shapely.buffer(geoms, -0.25, join_style="mitre")
        geoms = geoms[~shapely.is_empty(geoms)]
    gc.collect()
    ok = np.ones(len(geoms), dtype=bool)
    area = shapely.area(geoms)
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM)
    except OSError:
        pass
    before = _rss_kb("VmRSS")
    t = time.perf_counter()
    if method == "old":
        n_flagged, rows = old_overlap_pairs(geoms, ok)
    elif method == "new":
        problems = geometry.overlap_problems(geoms, ok, area, 0.0)
        rows = [
            (p.row, int(p.value), round(float(p.area_m2), 2))
            for p in problems
            if p.code == "overlap"
        ]
        n_flagged = -1
    else:
        n_flagged, rows = len(geometry.flag_overlap_candidates(geoms)), []
    wall = time.perf_counter() - t
    peak = _rss_kb("VmHWM") - before
    if method == "new":  # flag count, outside the timed call
        n_flagged = len(geometry.flag_overlap_candidates(geoms))
    digest = hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()[:12]
    out = {"wall_s": wall, "flagged": n_flagged, "pairs": len(rows), "digest": digest}
    out["peak_extra_mb"] = peak / 1024
    out["n"] = len(geoms)
    print(json.dumps(out))


def main() -> None:
    """Time old vs new on each size and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bw"))
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per method")
    ap.add_argument("--boundary", default="440300")
    ap.add_argument(
        "--scenarios", nargs="+", default=["clean", "shifted", "gaps"], help="see the docstring"
    )
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    from bench.ingest import write_parcels

    for n in args.sizes:
        shp = write_parcels(n, args.workdir / f"n{n}", args.boundary)
        for scenario in args.scenarios:
            print(f"\n{n:,} parcels, {scenario} ({shp})")
            res = {}
            for method in ("old", "new", "flag"):
                runs = []
                for _ in range(args.repeat):
                    p = subprocess.run(
                        [sys.executable, __file__, "--child", method, str(shp), scenario],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
                r = min(runs, key=lambda x: x["wall_s"])
                res[method] = r
                print(
                    f"  {method:4s} {r['wall_s']:7.2f} s  flagged {r['flagged']:>8,}  "
                    f"pairs {r['pairs']:>6,} [{r['digest']}]  peak +{r['peak_extra_mb']:.0f} MB"
                )
            same = res["old"]["digest"] == res["new"]["digest"]
            print(
                f"  new/old wall {res['new']['wall_s'] / res['old']['wall_s']:.2f}×; "
                f"pre-filter alone {res['flag']['wall_s']:.2f} s; same pairs: {same}"
            )


if __name__ == "__main__":
    main()
