"""Files kept between an upload's dry run and its publication, by SHA-256, for a limited time.

The upload page checks a file with a dry run first; when the report is clean, the file stays on
the server so that "publish" ingests the very bytes that were checked, without a second
transfer. Each kept upload is a directory ``<root>/<owner digest>/<sha256>/`` holding the
file (or a shapefile's parts), the mapping file if any, and ``staged.json`` with the options
of the dry run. Only the user who uploaded it can publish or discard it. Kept files are deleted
after publication, when discarded, or :data:`IngestSettings.staged_ttl_minutes` after the dry
run (:meth:`StagedUploads.sweep`, run on every keep and lookup). They are never served.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spatial.errors import NotFound

_SHA = re.compile(r"^[0-9a-f]{64}$")
META = "staged.json"


@dataclass(frozen=True)
class StagedUpload:
    """A kept upload: where its file is, whose it is, the dry run's options, its expiry."""

    sha256: str
    owner: str
    directory: Path
    file: Path
    options: dict[str, Any]
    expires_at: datetime


class StagedUploads:
    """The store of kept uploads under ``root`` (a private directory; nothing is served)."""

    def __init__(self, root: Path, ttl_s: float) -> None:
        self.root = root
        self.ttl_s = ttl_s

    def _dir(self, sha256: str, owner: str) -> Path:
        if not _SHA.match(sha256 or ""):
            raise NotFound("暂存文件不存在", f"no kept upload {sha256[:70]!r}")
        digest = hashlib.sha256(owner.encode("utf-8")).hexdigest()[:32]
        return self.root / digest / sha256

    def keep(
        self, work: Path, file: Path, sha256: str, owner: str, options: dict[str, Any]
    ) -> StagedUpload:
        """Move the upload directory ``work`` (holding ``file``) into the store."""
        self.sweep()
        target = self._dir(sha256, owner)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        expires = time.time() + self.ttl_s
        meta = {"file": file.name, "options": options, "expires": expires, "owner": owner}
        (work / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        shutil.move(str(work), str(target))
        return self._load(target, sha256, owner)

    def _load(self, directory: Path, sha256: str, owner: str) -> StagedUpload:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
        return StagedUpload(
            sha256=sha256,
            owner=owner,
            directory=directory,
            file=directory / meta["file"],
            options=meta["options"],
            expires_at=datetime.fromtimestamp(meta["expires"], UTC),
        )

    def get(self, sha256: str, owner: str) -> StagedUpload:
        """The kept upload of ``owner`` with this SHA-256; NotFound if absent or expired."""
        self.sweep()
        directory = self._dir(sha256, owner)
        if not (directory / META).is_file():
            raise NotFound(
                "暂存文件不存在或已过期，请重新上传并试运行",
                "the kept file does not exist or has expired; upload and dry-run it again",
            )
        return self._load(directory, sha256, owner)

    def discard(self, sha256: str, owner: str) -> None:
        """Delete a kept upload (nothing if it is gone already)."""
        shutil.rmtree(self._dir(sha256, owner), ignore_errors=True)

    def sweep(self) -> int:
        """Delete every kept upload past its expiry; return how many."""
        removed = 0
        now = time.time()
        for meta in self.root.glob(f"*/*/{META}"):
            try:
                expired = json.loads(meta.read_text(encoding="utf-8"))["expires"] < now
            except (OSError, ValueError, KeyError):
                expired = True
            if expired:
                shutil.rmtree(meta.parent, ignore_errors=True)
                removed += 1
        return removed
