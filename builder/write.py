"""The only writer of the output folder.

A build is written to a fresh sibling folder and swapped in with renames, so a
failed build never leaves a half-written site. Files whose bytes did not change
are hard-linked from the previous output (same inode, same mtime): "unchanged
files are not rewritten", and a no-change rebuild skips the swap entirely.

When a previous output is intact and only a few files changed (an edit, a serve
rebuild), those files are replaced in place instead, each with its own atomic
rename, and the manifest last: re-linking and deleting 14,000 files to change
three cost seconds. Content errors still leave the output untouched (they are
raised before anything is written); an interrupted update is repaired by the
next build, because the old manifest no longer matches the changed files.

Paths are handled as strings with ``os`` functions: on the file systems this runs
on, a build is ~1,500 (or ~14,000) small files, and pathlib's per-call overhead and
its extra ``mkdir``/``stat`` calls cost as much as the writes themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import compress
from operator import ne, not_
from pathlib import Path

MANIFEST = ".netjournal-manifest.json"
IN_PLACE_MIN = 64  # up to this many changed files (or a quarter of the site) are updated in place
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
_TEMP_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class WriteResult:
    """What changed on disk."""

    written: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def read_manifest(output: Path) -> dict[str, str]:
    """{path: digest} of the previous build, or {} when there is none (or it was tampered with)."""
    try:
        with open(os.path.join(output, MANIFEST), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def manifest_bytes(files: Mapping[str, str]) -> bytes:
    """The manifest as ``json.dumps(files, sort_keys=True, indent=0)`` writes it, by the C encoder
    (``indent`` selects the pure-Python one: ~15 ms per rebuild at 14,000 files)."""
    if not files:
        return b"{}"
    body = json.dumps(files, sort_keys=True, separators=(",\n", ": "))
    return ("{\n" + body[1:-1] + "\n}").encode("utf-8")


# Paths already found safe: a serve rebuild writes the same 14,000 paths again (a pure function).
_SAFE: set[str] = set()


def safe_relative(path: str) -> bool:
    """A relative POSIX path that stays inside the output folder (string checks: no pathlib per file)."""
    if not path or path.startswith("/"):
        return False
    parts = [part for part in path.split("/") if part and part != "."]
    return bool(parts) and ".." not in parts


def present_files(folder: str, paths: Iterable[str]) -> set[str]:
    """Those of ``paths`` that are regular files under ``folder``: one stat each.

    Cheaper than walking the folder here, because a site has about one folder per page
    (``posts/<slug>/index.html``): a walk opens and lists 14,000 folders, this stats the
    files it is asked about.
    """
    isfile = os.path.isfile
    return {path for path in paths if isfile(f"{folder}/{path}")}


def write_file(target: str, data: bytes) -> None:
    """Write ``data`` to ``target`` with one open/write/close (the folder must exist)."""
    fd = os.open(target, _NEW_FILE, 0o666)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def make_parent(root: str, path: str, made: set[str]) -> None:
    """Create the folders of ``root/path`` that ``made`` does not list yet (one mkdir per new folder)."""
    folder = path.rpartition("/")[0]
    if not folder or folder in made:
        return
    make_parent(root, folder, made)
    with contextlib.suppress(FileExistsError):
        os.mkdir(f"{root}/{folder}")
    made.add(folder)


def write_output(files: Mapping[str, bytes], output: Path) -> WriteResult:
    """Atomically replace ``output`` with exactly ``files``; reuse unchanged files.

    ``files`` may be a ``builder.outfiles.OutputFiles``, which knows the digests, which
    files it already wrote into a staging folder (``spilled``, ``take_staging``) and which
    of the previous output's files exist (``present``); a plain mapping works too.
    """
    unchecked = set(files) - _SAFE if len(_SAFE) < 1_000_000 else set(files)
    for path in unchecked:
        if not safe_relative(path):
            raise ValueError(f"refusing to write outside the output folder: {path}")
    _SAFE.update(unchecked)
    out = os.fspath(output)
    is_dir = os.path.isdir(out)
    # OutputFiles read the manifest when the build began and decided what is unchanged by it
    known_old: Mapping[str, str] | None = getattr(files, "old", None)
    old = (dict(known_old) if known_old is not None else read_manifest(output)) if is_dir else {}
    known = getattr(files, "digests", None)
    new = known() if known is not None else {path: digest(data) for path, data in files.items()}
    spilled: Mapping[str, str] = getattr(files, "spilled", dict)()
    take: Callable[[], Path | None] = getattr(files, "take_staging", lambda: None)
    differs = list(map(ne, map(old.get, new.keys()), new.values()))  # (C-level: 14,000 files per rebuild)
    changed = tuple(sorted(compress(new.keys(), differs)))
    removed = tuple(sorted(old.keys() - new.keys()))
    if is_dir and old:
        unchanged = list(compress(new.keys(), map(not_, differs)))
        intact = _intact(out, unchanged, getattr(files, "present", None))
        if intact and not changed and not removed:
            _drop(take())
            return WriteResult((), (), len(new))
        if intact and len(changed) + len(removed) <= max(IN_PLACE_MIN, len(new) // 4):
            _update_in_place(files, out, changed, removed, new, spilled)
            _drop(take())
            _written(files, output)
            return WriteResult(changed, removed, len(new) - len(changed))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    staging = take() or Path(tempfile.mkdtemp(prefix=f".{output.name}.new-", dir=output.parent))
    try:
        _fill(files, os.fspath(staging), out, old, new, spilled)
        write_file(f"{staging}/{MANIFEST}", manifest_bytes(new))
        _swap(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _written(files, output)
    return WriteResult(changed, removed, len(new) - len(changed))


def _fill(
    files: Mapping[str, bytes],
    staging: str,
    out: str,
    old: Mapping[str, str],
    new: Mapping[str, str],
    spilled: Collection[str],
) -> None:
    """Put every file not already spilled into ``staging``: a hard link when unchanged, else its bytes."""
    made: set[str] = set()
    for path in sorted(new):
        if path in spilled:  # already written there while rendering
            continue
        make_parent(staging, path, made)
        target = f"{staging}/{path}"
        if old.get(path) == new[path]:
            try:
                os.link(f"{out}/{path}", target)
                continue
            except OSError:  # gone, or another file system: write the bytes
                pass
        write_file(target, files[path])


def _update_in_place(
    files: Mapping[str, bytes],
    out: str,
    changed: tuple[str, ...],
    removed: tuple[str, ...],
    new: Mapping[str, str],
    spilled: Mapping[str, str] | None = None,
) -> None:
    """Replace just the changed files (each atomically), delete the removed ones, then the manifest."""
    made: set[str] = set()
    for path in changed:
        source = (spilled or {}).get(path)
        make_parent(out, path, made)
        if source is not None:  # same file system: a rename is atomic
            os.replace(source, f"{out}/{path}")
        else:
            _replace_file(f"{out}/{path}", files[path])
    for path in removed:
        target = f"{out}/{path}"
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            os.unlink(target)
        _remove_empty_parents(out, path)
    _replace_file(f"{out}/{MANIFEST}", manifest_bytes(new))


def _remove_empty_parents(out: str, path: str) -> None:
    folder = path.rpartition("/")[0]
    while folder:
        try:
            os.rmdir(f"{out}/{folder}")  # fails unless empty: exactly the check we want
        except OSError:
            return
        folder = folder.rpartition("/")[0]


def _replace_file(target: str, data: bytes) -> None:
    """Write a sibling temporary file and rename it over ``target`` (readers see old or new, never half)."""
    folder, _, name = target.rpartition("/")
    fd, tmp = _temp_file(folder, name)
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _temp_file(folder: str, name: str) -> tuple[int, str]:
    """An exclusive new file next to the target, with the usual permissions (not mkstemp's 0600)."""
    base = f"{folder}/.{name}.{os.getpid()}"
    for attempt in range(100):
        tmp = f"{base}.{attempt}.tmp"
        try:
            return os.open(tmp, _TEMP_FILE, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {folder}/{name}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _drop(staging: Path | None) -> None:
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)


def _written(files: Mapping[str, bytes], output: Path) -> None:
    done = getattr(files, "written_to", None)
    if done is not None:
        done(output)


def _intact(out: str, paths: Collection[str], present: Callable[[], set[str]] | None) -> bool:
    """Cheap check that the previous output still has these files (someone may have deleted some)."""
    if present is not None:  # OutputFiles has looked once already this build
        return present().issuperset(paths)
    isfile = os.path.isfile
    return all(isfile(f"{out}/{path}") for path in paths)


def _swap(staging: Path, output: Path) -> None:
    if not output.exists():
        staging.rename(output)
        return
    graveyard = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
    old_home = graveyard / "old"
    output.rename(old_home)
    try:
        staging.rename(output)
    except OSError:
        old_home.rename(output)
        raise
    shutil.rmtree(graveyard, ignore_errors=True)
