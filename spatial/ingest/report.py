"""The ingest report: one structure for the CLI (``--json``) and the API (``POST /uploads``).

Every upload ends with an :class:`IngestReport`, whether it went in, was a dry run, was a
re-upload of an already active file, or was refused. Row problems carry the 1-based row number
of the source file (ArcGIS shows FID = row - 1), the field, a stable code and messages in
Chinese and English.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_ROWS_PER_CODE = 50
"""Per problem code, at most this many rows are listed; the rest are counted."""

Severity = Literal["error", "warning", "info"]
Status = Literal["published", "dry_run", "unchanged", "refused"]


class Problem(BaseModel):
    """One thing found in the upload: an error refuses the upload, a warning is reported only."""

    code: str
    severity: Severity = "error"
    row: int | None = Field(default=None, description="1-based row of the source file")
    field: str | None = None
    value: str | None = None
    message_zh: str
    message_en: str
    area_before_m2: float | None = None
    area_after_m2: float | None = None
    area_m2: float | None = None


class Counts(BaseModel):
    """Feature counts: read from the file, written to the store, repaired, refused."""

    read: int = 0
    written: int = 0
    repaired: int = 0
    refused: int = 0


class IngestReport(BaseModel):
    """Everything done to (or found in) one upload."""

    status: Status = "refused"
    source_file: str
    sha256: str | None = None
    size_bytes: int | None = None
    format: str | None = None
    layer: str
    source_layer: str | None = None
    mode: str = "replace"
    encoding: str | None = None
    encoding_method: str | None = None
    source_crs: str | None = None
    crs_method: str | None = None
    column_mapping: dict[str, str] = Field(default_factory=dict)
    counts: Counts = Field(default_factory=Counts)
    total_area_m2: float | None = None
    dataset_id: int | None = None
    superseded_dataset_ids: list[int] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    omitted_problems: dict[str, int] = Field(
        default_factory=dict, description="per code, rows not listed beyond the first 50"
    )
    user: str | None = None
    duration_s: float | None = None
    timings_s: dict[str, float] = Field(
        default_factory=dict, description="seconds per phase (read, checks, copy, publish …)"
    )
    preview: list[dict[str, Any]] = Field(
        default_factory=list, description="the first 20 rows as they will be stored"
    )
    problem_map: dict[str, Any] | None = Field(
        default=None, description="GeoJSON (CRS84) of the rows with problems, for a map"
    )

    _per_code: Counter[str] = Counter()

    def model_post_init(self, __context: Any) -> None:
        """Start the per-code row counter."""
        self._per_code = Counter(p.code for p in self.problems)

    def lap(self, phase: str, since: float) -> float:
        """Record the seconds since ``since`` (``time.perf_counter()``) under ``phase``."""
        import time

        now = time.perf_counter()
        self.timings_s[phase] = round(self.timings_s.get(phase, 0.0) + now - since, 3)
        return now

    def add(self, problem: Problem) -> None:
        """Add a problem, listing at most ``MAX_ROWS_PER_CODE`` rows per code."""
        self._per_code[problem.code] += 1
        if problem.row is not None and self._per_code[problem.code] > MAX_ROWS_PER_CODE:
            self.omitted_problems[problem.code] = self.omitted_problems.get(problem.code, 0) + 1
            return
        self.problems.append(problem)

    def problem(self, code: str, message_zh: str, message_en: str, **kw: Any) -> None:
        """Shorthand for :meth:`add` with an error (or ``severity=``) problem."""
        self.add(Problem(code=code, message_zh=message_zh, message_en=message_en, **kw))

    @property
    def errors(self) -> list[Problem]:
        """The listed problems that refuse the upload."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def has_errors(self) -> bool:
        """True when anything refuses the upload."""
        return bool(self.errors)

    def summary_zh(self) -> str:
        """One line in Chinese for the CLI."""
        c = self.counts
        area = f"{self.total_area_m2:,.1f}" if self.total_area_m2 is not None else "-"
        return (
            f"{self.status}: 读取 {c.read}，写入 {c.written}，修复 {c.repaired}，拒绝 {c.refused}；"
            f"面积 {area} m²；数据集 {self.dataset_id}"
        )
