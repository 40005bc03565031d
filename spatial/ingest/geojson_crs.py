"""Refuse a GeoJSON whose ``crs`` member would make GDAL fetch a URL, before GDAL opens it.

GDAL reads the old (2008) GeoJSON ``crs`` member, at the top and on any geometry. For
``{"type": "link", "properties": {"href": "http://…"}}`` and ``"type": "URL…"`` it downloads
the href and uses what comes back (so an upload could make the server request internal URLs,
and the fetched text came back in error messages). :func:`check_crs_members` scans the raw
bytes for every ``crs`` key, the way GDAL's parser (json-c) would see it: matched without
regard to case, written with ``\\u`` escapes, in single or double quotes, with comments before
the colon. Each ``crs`` object must be strict JSON and its ``type`` must not be a link or a URL;
anything else is refused with a request to give the CRS with ``--crs`` instead.

The scan reads the file once in 1 MiB blocks; blocks without ``crs`` or a ``\\u00`` escape
cost one ``lower()`` and two ``find``s.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from spatial.errors import InvalidInput

_BLOCK = 1 << 20
_OVERLAP = 64
"""Bytes re-read from the end of the previous block (longer than any spelling of the key)."""
_MAX_MEMBER = 64 * 1024
"""Longest ``crs`` object looked at; a longer one is refused."""
_KEY = re.compile(rb"""["'](?:c|\\u00[46]3)(?:r|\\u00[57]2)(?:s|\\u00[57]3)["']""", re.IGNORECASE)
_SPACE = re.compile(rb"(?:\s+|/\*.*?\*/|//[^\n]*)*", re.DOTALL)
_FETCHING = ("link", "url")
"""``type`` prefixes for which GDAL downloads the CRS (compared without case)."""


def _refuse(display: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput(
        f"{display}：{zh}；不接受以链接或网址给出的坐标系，请删除 crs 成员并用 --crs 指定坐标系",
        f"{display}: {en}; a CRS given as a link or URL is not accepted: remove the crs member "
        "and give the CRS with --crs",
    )


def _object_end(buf: bytes, start: int) -> int | None:
    """Index after the ``}`` closing the object that opens at ``buf[start]``, or None."""
    depth = 0
    i = start
    quote = 0
    while i < len(buf):
        c = buf[i]
        if quote:
            if c == 0x5C:  # backslash: skip the escaped character
                i += 2
                continue
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):
            quote = c
        elif c == 0x2F and buf[i : i + 2] == b"/*":
            end = buf.find(b"*/", i + 2)
            if end < 0:
                return None
            i = end + 2
            continue
        elif c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _types(obj: Any) -> list[Any]:
    """Every value under a key spelled ``type`` in any case (GDAL compares names so)."""
    out: list[Any] = []
    if isinstance(obj, list):  # object_pairs_hook gives lists of (key, value)
        for key, value in obj:
            if isinstance(key, str) and key.lower() == "type":
                out.append(value)
    return out


def _check_member(head: bytes, display: str) -> None:
    """Check the text following one ``crs`` key (``head`` starts right after the key)."""
    pos = _SPACE.match(head).end()  # type: ignore[union-attr]
    if head[pos : pos + 1] != b":":
        return  # the word was a value, not a key
    pos = _SPACE.match(head, pos + 1).end()  # type: ignore[union-attr]
    if head[pos : pos + 1] != b"{":
        return  # null, a string, a number: GDAL ignores a crs that is not an object
    end = _object_end(head, pos)
    if end is None:
        raise _refuse(display, "crs 成员过长或不完整", "the crs member is too long or incomplete")
    text = head[pos:end]
    try:
        member = json.loads(text.decode("utf-8"), object_pairs_hook=list)
    except (UnicodeDecodeError, ValueError):
        raise _refuse(
            display, "crs 成员不是标准 JSON", "the crs member is not standard JSON"
        ) from None
    for value in _types(member):
        if not isinstance(value, str) or value.strip().lower().startswith(_FETCHING):
            raise _refuse(
                display,
                f"crs 成员的类型为 {str(value)[:40]}（GDAL 会下载其链接）",
                f"the crs member has type {str(value)[:40]!r} (GDAL would download its link)",
            )


def check_crs_members(path: Path, display: str) -> None:
    """Refuse (InvalidInput) a GeoJSON file with a ``crs`` member of type link or URL.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.geojson"
    >>> _ = p.write_text('{"type": "FeatureCollection", "crs": {"type": "link", '
    ...                  '"properties": {"href": "http://127.0.0.1/x"}}, "features": []}')
    >>> try:
    ...     check_crs_members(p, "a.geojson")
    ... except InvalidInput as exc:
    ...     print(exc.message_en[:53])
    a.geojson: the crs member has type 'link' (GDAL would
    """
    with open(path, "rb") as fh:
        offset = 0
        tail = b""
        while True:
            block = fh.read(_BLOCK)
            if not block:
                return
            buf = tail + block
            base = offset - len(tail)
            lowered = buf.lower()
            if b"crs" in lowered or b"\\u00" in lowered:
                for m in _KEY.finditer(buf):
                    if m.end() <= len(tail):
                        continue  # found in the previous block already
                    fh_pos = fh.tell()
                    fh.seek(base + m.end())
                    head = fh.read(_MAX_MEMBER)
                    fh.seek(fh_pos)
                    _check_member(head, display)
            offset += len(block)
            tail = buf[-_OVERLAP:]
