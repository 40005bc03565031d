"""Land-use class names (用地分类): the editable reference table ``land_use_classes``."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Engine

from spatial.db import read_rows


class LandUseClass(BaseModel):
    """A land-use class code with its Chinese (and English) name."""

    code: str
    name_zh: str
    name_en: str | None = None


def land_use_classes(engine: Engine) -> dict[str, LandUseClass]:
    """Every class in ``land_use_classes`` by code (upper case), ordered by code.

    Examples
    --------
    >>> land_use_classes(engine)["R2"].name_zh  # doctest: +SKIP
    '二类居住用地'
    """
    rows = read_rows(engine, "SELECT code, name_zh, name_en FROM land_use_classes ORDER BY code")
    return {r["code"]: LandUseClass(**r) for r in rows}


def class_label(code: str | None, classes: dict[str, LandUseClass]) -> str:
    """``"R2 二类居住用地"`` for a known code, the bare code otherwise ("" for None)."""
    if not code:
        return ""
    known = classes.get(code.strip().upper())
    return f"{code} {known.name_zh}" if known else code
