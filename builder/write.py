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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MANIFEST = ".netjournal-manifest.json"
IN_PLACE_MIN = 64  # up to this many changed files (or a quarter of the site) are updated in place


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
        data = json.loads((output / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _safe_relative(path: str) -> bool:
    parts = Path(path).parts
    return bool(parts) and not Path(path).is_absolute() and ".." not in parts


def write_output(files: Mapping[str, bytes], output: Path) -> WriteResult:
    """Atomically replace ``output`` with exactly ``files``; reuse unchanged files."""
    for path in files:
        if not _safe_relative(path):
            raise ValueError(f"refusing to write outside the output folder: {path}")
    old = read_manifest(output) if output.is_dir() else {}
    known = getattr(files, "digests", None)  # builder.outfiles.OutputFiles knows them already
    new = known() if known is not None else {path: digest(data) for path, data in files.items()}
    staged = getattr(files, "staged", lambda _path: None)
    spilled = {p: s for p in new if (s := staged(p)) is not None}
    take = getattr(files, "take_staging", lambda: None)
    changed = tuple(sorted(p for p, d in new.items() if old.get(p) != d))
    removed = tuple(sorted(set(old) - set(new)))
    if output.is_dir() and old and not changed and not removed and _intact(output, new):
        _drop(take())
        return WriteResult((), (), len(new))
    if (
        output.is_dir()
        and old
        and len(changed) + len(removed) <= max(IN_PLACE_MIN, len(new) // 4)
        and _intact(output, {p: d for p, d in new.items() if p not in changed})
    ):
        _update_in_place(files, output, changed, removed, new, spilled)
        _drop(take())
        _written(files, output)
        return WriteResult(changed, removed, len(new) - len(changed))
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = take() or Path(tempfile.mkdtemp(prefix=f".{output.name}.new-", dir=output.parent))
    try:
        for path in sorted(new):
            target = staging / path
            if path in spilled:  # already written there while rendering
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            previous = output / path
            if old.get(path) == new[path] and previous.is_file():
                try:
                    os.link(previous, target)
                    continue
                except OSError:
                    pass
            target.write_bytes(files[path])
        (staging / MANIFEST).write_text(json.dumps(new, sort_keys=True, indent=0), encoding="utf-8")
        _swap(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _written(files, output)
    return WriteResult(changed, removed, len(new) - len(changed))


def _update_in_place(
    files: Mapping[str, bytes],
    output: Path,
    changed: tuple[str, ...],
    removed: tuple[str, ...],
    new: Mapping[str, str],
    spilled: Mapping[str, Path] | None = None,
) -> None:
    """Replace just the changed files (each atomically), delete the removed ones, then the manifest."""
    for path in changed:
        source = (spilled or {}).get(path)
        if source is not None:  # same file system: a rename is atomic
            (output / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, output / path)
        else:
            _replace_file(output / path, files[path])
    for path in removed:
        target = output / path
        if target.is_file() or target.is_symlink():
            target.unlink()
        parent = target.parent
        while parent != output and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    _replace_file(output / MANIFEST, json.dumps(new, sort_keys=True, indent=0).encode("utf-8"))


def _replace_file(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _drop(staging: Path | None) -> None:
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)


def _written(files: Mapping[str, bytes], output: Path) -> None:
    done = getattr(files, "written_to", None)
    if done is not None:
        done(output)


def _intact(output: Path, new: Mapping[str, str]) -> bool:
    """Cheap check that the previous output still has every file (someone may have deleted some)."""
    return all((output / path).is_file() for path in new)


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
