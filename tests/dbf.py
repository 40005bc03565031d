"""A minimal dBASE III writer and reader for tests: exact bytes, no GDAL in between."""

from __future__ import annotations

import struct
from pathlib import Path


def write_dbf(path: Path, fields: list[tuple[bytes, int]], records: list[list[bytes]],
              ldid: int = 0) -> Path:  # fmt: skip
    """Write character fields ``(name, width)`` and raw ``records`` (bytes, space-padded)."""
    hlen = 32 + 32 * len(fields) + 1
    rlen = 1 + sum(w for _, w in fields)
    head = struct.pack("<BBBBIHH", 0x03, 126, 1, 1, len(records), hlen, rlen)
    head += b"\x00" * 17 + bytes([ldid]) + b"\x00\x00"
    desc = b"".join(
        name.ljust(11, b"\x00") + b"C" + b"\x00" * 4 + bytes([w, 0]) + b"\x00" * 14
        for name, w in fields
    )
    body = b"".join(
        b" " + b"".join(v.ljust(w, b" ")[:w] for v, (_, w) in zip(rec, fields, strict=True))
        for rec in records
    )
    path.write_bytes(head + desc + b"\x0d" + body + b"\x1a")
    return path


def read_dbf(path: Path) -> tuple[list[bytes], list[list[bytes]]]:
    """Field names and the raw bytes of every value (trailing spaces removed)."""
    data = path.read_bytes()
    nrec, hlen, rlen = struct.unpack("<IHH", data[4:12])
    fields = []
    for off in range(32, hlen - 1, 32):
        if data[off] == 0x0D:
            break
        fields.append((data[off : off + 11].split(b"\x00", 1)[0], data[off + 16]))
    rows = []
    for i in range(nrec):
        rec = data[hlen + i * rlen : hlen + (i + 1) * rlen]
        pos, row = 1, []
        for _, w in fields:
            row.append(rec[pos : pos + w].rstrip(b" "))
            pos += w
        rows.append(row)
    return [f for f, _ in fields], rows
