"""The output files of a build, as a mapping that does not have to hold them all in memory.

A 10,000-post site renders ~350 MB of HTML; keeping it in a dict until the write
stage made the build peak at ~700 MB. ``OutputFiles`` is a ``MutableMapping[str, bytes]``
(so render stages and hooks use it like the dict they had) that

- keeps only a digest for a file whose bytes equal the previous output's (the
  write stage leaves such files alone anyway; reading it gives the old file);
- writes a new file straight into the staging folder, where the write stage finds it
  already in place: every file on a cold build (there is no previous output to
  compare with, so each file is written exactly once, while it is rendered), and on
  other builds once ``memory_limit`` bytes are held (a rebuild that changes a few
  files keeps them in memory and replaces them in place);
- reads either kind back lazily when someone asks for the bytes.

Paths are strings and files are written with ``os`` calls: this runs once per output
file, and pathlib's overhead there was a measurable share of a cold build.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, KeysView, Mapping, MutableMapping, Sequence
from operator import attrgetter, eq
from pathlib import Path

from .write import MANIFEST, digest, make_parent, present_files, safe_relative, write_file

MEMORY_LIMIT = 48 * 1024 * 1024
_KNOWN_DIGEST = attrgetter("known_digest")  # of pagecache.KnownBytes and Reuse


AHEAD_FROM = 2000  # files in the previous output from which check_ahead forks (below, a fork costs more)


class OutputFiles(MutableMapping[str, bytes]):
    """{output path: bytes}, with unchanged files left on disk and new ones spilled to staging."""

    def __init__(
        self,
        output: Path,
        old_manifest: Mapping[str, str] | None = None,
        memory_limit: int | None = None,
        spill_all: bool | None = None,
        trust_own_writes: bool = False,
    ) -> None:
        self.output = output
        self.trust_own_writes = trust_own_writes
        self._out = os.fspath(output)
        self.old = dict(old_manifest or {})
        self.memory_limit = MEMORY_LIMIT if memory_limit is None else memory_limit
        # No previous output: every file will be written, so write it now, once, into staging.
        self.spill_all = not self.old if spill_all is None else spill_all
        self.staging: Path | None = None
        self._staging_dir = ""
        self._made: set[str] = set()  # folders created in staging
        self._memory: dict[str, bytes] = {}
        self._digests: dict[str, str] = {}
        self._spilled: dict[str, str] = {}  # path -> the staging file holding its bytes
        self._present: set[str] | None = None
        self._ahead: tuple[int, int] | None = None  # (pid, pipe) of the stat pass started by check_ahead
        self._held = 0
        # Files neither in memory nor spilled are read from the output folder (unchanged ones).

    # --- mapping ------------------------------------------------------------------------------
    def __setitem__(self, path: str, data: bytes) -> None:
        if path in self._digests:
            self._forget(path)
        d = getattr(data, "known_digest", None) or digest(data)
        if self.old.get(path) == d and path in self.present():
            self._digests[path] = d  # unchanged: the old file stays, unread
            return
        read = getattr(data, "read", None)  # pagecache.Reuse: the same bytes at another old path
        if read is not None:
            data = read()
        if (self.spill_all or self._held + len(data) > self.memory_limit) and safe_relative(path):
            root = self._staging()
            make_parent(root, path, self._made)
            target = f"{root}/{path}"
            write_file(target, data)
            self._spilled[path] = target
        else:
            self._memory[path] = data
            self._held += len(data)
        self._digests[path] = d

    def __getitem__(self, path: str) -> bytes:
        data = self._memory.get(path)
        if data is not None:
            return data
        if path not in self._digests:
            raise KeyError(path)
        where = self._spilled.get(path) or f"{self._out}/{path}"
        with open(where, "rb") as handle:
            return handle.read()

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

    def names(self) -> KeysView[str]:
        """The paths set so far (a set-like view: cheap ``isdisjoint`` for a batch of pages)."""
        return self._digests.keys()

    def keep_unchanged(self, paths: Sequence[str], data: Sequence[bytes]) -> None:
        """Set many pages at once (a fast pass's reused pages): when every one equals the previous
        output's file at its path, they stay unread, as ``__setitem__`` would leave them, checked
        with C-level maps; otherwise ``__setitem__`` decides for each."""
        old, digests = self.old.get, self._digests
        present = self.present()
        try:
            known: list[str] | None = list(map(_KNOWN_DIGEST, data))
        except AttributeError:  # plain bytes among them: one by one below
            known = None
        if (  # the usual case, checked with C-level maps: every page as the old output has it
            known is not None
            and digests.keys().isdisjoint(paths)
            and present.issuperset(paths)
            and all(map(eq, map(old, paths), known))
        ):
            digests.update(zip(paths, known, strict=True))
            return
        for path, item in zip(paths, data, strict=True):
            self[path] = item  # (the same check, one page at a time)

    # --- for the write stage ------------------------------------------------------------------
    def digests(self) -> dict[str, str]:
        return dict(self._digests)

    def spilled(self) -> dict[str, str]:
        """{path: staging file} for the files already written into the staging folder."""
        return dict(self._spilled)

    def present(self) -> set[str]:
        """The previous output's files (by its manifest) that still exist: one stat each, once per build.

        With ``trust_own_writes`` (serve), the files this process wrote last time into an output
        folder that is still the same folder with the manifest it wrote: 14,000 stats were
        ~50 ms of every rebuild at 10,000 posts. A folder deleted or replaced by hand is noticed
        (and everything written again); a single page deleted by hand inside it is not.
        """
        if self._present is None and self._ahead is not None:
            self._present = self._collect_ahead()  # None if the child failed: stat here instead
        if self._present is None:
            if not self.old or not os.path.isdir(self._out):
                self._present = set()
            else:
                own = _own_writes(self._out) if self.trust_own_writes else None
                self._present = set(own) if own is not None and own.keys() == self.old.keys() else None
                if self._present is None:
                    self._present = present_files(self._out, self.old)
        return self._present

    def check_ahead(self) -> None:
        """Start ``present``'s stat pass in a forked child, so it runs on another core while this
        process loads the caches and assembles the site (~0.1 s at 10,000 posts, one stat per
        file; a thread would not help: it needs the GIL between stats). Only for a previous
        output that ``present`` would stat, from a process without threads (``build``)."""
        from .forked import can_fork, start

        if (
            self._present is not None
            or self._ahead is not None
            or self.trust_own_writes
            or len(self.old) < AHEAD_FROM
            or not can_fork()
            or not os.path.isdir(self._out)
        ):
            return
        out, isfile = self._out, os.path.isfile
        # the child: the manifest's files that are missing
        self._ahead = start(lambda: [path for path in self.old if not isfile(f"{out}/{path}")])

    def _collect_ahead(self) -> set[str] | None:
        """The child's answer as ``present`` gives it (None when it failed)."""
        from .forked import collect

        assert self._ahead is not None
        pid, read_end = self._ahead
        self._ahead = None
        missing = collect(pid, read_end)
        return set(self.old).difference(missing) if isinstance(missing, list) else None

    def take_staging(self) -> Path | None:
        """Hand the staging folder over to the writer (which renames or removes it)."""
        staging, self.staging = self.staging, None
        return staging

    def written_to(self, output: Path) -> None:
        """After writing: every file not held in memory is read from ``output`` from now on."""
        self.output = output
        self._out = os.fspath(output)
        if self.trust_own_writes:
            _remember_writes(self._out, dict(self._digests))
        self._spilled = {}
        self._made = set()
        self._staging_dir = ""

    def discard(self) -> None:
        """Remove the staging folder of a build that failed before writing (and reap a stat pass
        started by ``check_ahead`` that nobody asked for)."""
        if self._ahead is not None:
            self._collect_ahead()
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
            self._spilled = {}
            self._made = set()
            self._staging_dir = ""

    # --- for pages rendered in other processes (builder/parrender.py) --------------------------
    def prepare_for_workers(self) -> None:
        """Before forking: make the staging folder and the stat pass, so every process shares them."""
        self._staging()
        self.present()

    def export(self, path: str) -> tuple[str, str | None, bytes | None]:
        """(digest, staging file or None, bytes held in memory or None) of a file set here."""
        return self._digests[path], self._spilled.get(path), self._memory.get(path)

    def adopt(self, path: str, known: str, spilled: str | None, data: bytes | None) -> None:
        """Take a file another process set (its ``export``): no bytes are copied when it spilled."""
        if path in self._digests:
            self._forget(path)
        if spilled is not None:
            self._spilled[path] = spilled
        elif data is not None:
            self._memory[path] = data
            self._held += len(data)
        self._digests[path] = known

    def reorder(self, paths: list[str]) -> None:
        """Iterate ``paths`` first, in that order (pages adopted from other processes came in late)."""
        digests = self._digests
        ordered = {path: digests[path] for path in paths if path in digests}
        ordered.update((path, d) for path, d in digests.items() if path not in ordered)
        self._digests = ordered

    # --- helpers ---------------------------------------------------------------------------------
    def _forget(self, path: str) -> None:
        data = self._memory.pop(path, None)
        if data is not None:
            self._held -= len(data)
        self._digests.pop(path, None)
        spilled = self._spilled.pop(path, None)
        if spilled is not None:  # or the staging folder would carry a file the manifest does not list
            os.unlink(spilled)

    def _staging(self) -> str:
        if self.staging is None:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.new-", dir=self.output.parent))
            self._staging_dir = os.fspath(self.staging)
            self._made = set()
        return self._staging_dir


# serve: {output folder: (its identity, its manifest's identity, the files written)} after a write.
_WRITTEN: dict[str, tuple[tuple[int, ...], tuple[int, ...], dict[str, str]]] = {}


def _stamp(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _remember_writes(out: str, files: dict[str, str]) -> None:
    folder, manifest = _stamp(out), _stamp(f"{out}/{MANIFEST}")
    if folder is None or manifest is None:
        _WRITTEN.pop(out, None)
        return
    _WRITTEN[out] = (folder[:2], manifest, files)


def _own_writes(out: str) -> dict[str, str] | None:
    """The files (path -> digest: the manifest) written into ``out`` by this process, if the
    folder and its manifest are still the ones it left."""
    found = _WRITTEN.get(out)
    if found is None:
        return None
    folder, manifest = _stamp(out), _stamp(f"{out}/{MANIFEST}")
    if folder is None or folder[:2] != found[0] or manifest != found[1]:
        return None
    return found[2]


def own_manifest(output: Path) -> dict[str, str] | None:
    """serve: the manifest this process wrote into ``output`` (read from memory: ~15 ms of JSON
    per rebuild at 14,000 files), or None when the folder or manifest changed since."""
    found = _own_writes(os.fspath(output))
    return dict(found) if found is not None else None


def existing_files(folder: Path) -> set[str]:
    """Relative POSIX paths of every file under ``folder`` (one directory walk, no stat per file).

    To check a previous output against its manifest, ``builder.write.present_files`` is
    cheaper (a site has about one folder per page).
    """
    found: set[str] = set()
    base = len(str(folder)) + 1
    for root, _dirs, names in os.walk(folder):
        prefix = root[base:].replace(os.sep, "/")
        found.update(f"{prefix}/{n}" if prefix else n for n in names)
    return found
