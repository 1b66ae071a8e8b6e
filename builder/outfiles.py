"""The output files of a build, as a mapping that does not have to hold them all in memory.

A 10,000-post site renders ~350 MB of HTML; keeping it in a dict until the write
stage made the build peak at ~700 MB. ``OutputFiles`` is a ``MutableMapping[str, bytes]``
(so render stages and hooks use it like the dict they had) that

- keeps only a digest for a file whose bytes equal the previous output's (the
  write stage leaves such files alone anyway; reading it gives the old file);
- writes a new file straight into the staging folder once ``memory_limit`` bytes are
  held, where the write stage finds it already in place;
- reads either kind back lazily when someone asks for the bytes.

Small sites never reach the limit and behave exactly like a dict.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

from .write import digest

MEMORY_LIMIT = 48 * 1024 * 1024


class OutputFiles(MutableMapping[str, bytes]):
    """{output path: bytes}, with unchanged files left on disk and new ones spilled to staging."""

    def __init__(
        self, output: Path, old_manifest: Mapping[str, str] | None = None, memory_limit: int | None = None
    ) -> None:
        self.output = output
        self.old = dict(old_manifest or {})
        self.memory_limit = MEMORY_LIMIT if memory_limit is None else memory_limit
        self.staging: Path | None = None
        self._memory: dict[str, bytes] = {}
        self._digests: dict[str, str] = {}
        self._where: dict[str, Path] = {}  # path -> file holding its bytes (old output or staging)
        self._old_files: set[str] | None = None
        self._held = 0

    # --- mapping ------------------------------------------------------------------------------
    def __setitem__(self, path: str, data: bytes) -> None:
        self._forget(path)
        d = getattr(data, "known_digest", None) or digest(data)
        if self.old.get(path) == d and path in self._existing():
            self._digests[path] = d
            self._where[path] = self.output / path  # unchanged: the old file stays, unread
            return
        read = getattr(data, "read", None)  # pagecache.Reuse: the same bytes at another old path
        if read is not None:
            data = read()
        self._digests[path] = d
        if self._held + len(data) > self.memory_limit and _safe(path):
            target = self._staging() / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self._where[path] = target
        else:
            self._memory[path] = data
            self._held += len(data)

    def __getitem__(self, path: str) -> bytes:
        if path in self._memory:
            return self._memory[path]
        return self._where[path].read_bytes()

    def __delitem__(self, path: str) -> None:
        if path not in self._digests:
            raise KeyError(path)
        self._forget(path)

    def __iter__(self) -> Iterator[str]:
        return iter(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def __contains__(self, path: object) -> bool:
        return path in self._digests

    # --- for the write stage ------------------------------------------------------------------
    def digests(self) -> dict[str, str]:
        return dict(self._digests)

    def staged(self, path: str) -> Path | None:
        """The staging file holding ``path``'s bytes, if it was spilled there."""
        where = self._where.get(path)
        return where if where is not None and self.staging is not None and where.is_relative_to(self.staging) else None

    def take_staging(self) -> Path | None:
        """Hand the staging folder over to the writer (which renames or removes it)."""
        staging, self.staging = self.staging, None
        return staging

    def written_to(self, output: Path) -> None:
        """After writing: every file not held in memory is read from ``output`` from now on."""
        self.output = output
        for path in self._where:
            self._where[path] = output / path

    def discard(self) -> None:
        """Remove the staging folder of a build that failed before writing."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    # --- helpers ---------------------------------------------------------------------------------
    def _existing(self) -> set[str]:
        if self._old_files is None:  # one walk instead of a stat per file
            self._old_files = existing_files(self.output) if self.old and self.output.is_dir() else set()
        return self._old_files

    def _forget(self, path: str) -> None:
        data = self._memory.pop(path, None)
        if data is not None:
            self._held -= len(data)
        self._digests.pop(path, None)
        self._where.pop(path, None)

    def _staging(self) -> Path:
        if self.staging is None:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.new-", dir=self.output.parent))
        return self.staging


def existing_files(folder: Path) -> set[str]:
    """Relative POSIX paths of every file under ``folder`` (one directory walk, no stat per file)."""
    found: set[str] = set()
    base = len(str(folder)) + 1
    for root, _dirs, names in os.walk(folder):
        prefix = root[base:].replace(os.sep, "/")
        found.update(f"{prefix}/{n}" if prefix else n for n in names)
    return found


def _safe(path: str) -> bool:
    parts = Path(path).parts
    return bool(parts) and not os.path.isabs(path) and ".." not in parts
