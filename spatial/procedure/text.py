"""Text fields that reach PostgreSQL: NUL bytes are refused at the boundary (never a 500)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def no_nul(value: str) -> str:
    """``value`` unchanged; ValueError (zh / en) if it holds a NUL character."""
    if "\x00" in value:
        raise ValueError("文本不能包含 NUL 字符 / text cannot contain NUL characters")
    return value


CleanText = Annotated[str, AfterValidator(no_nul)]
"""A ``str`` without NUL characters (PostgreSQL text cannot hold them)."""

NO_NUL_PATTERN = r"^[^\x00]+$"
"""For path parameters (FastAPI ``Path(pattern=...)``)."""
