"""Reading the site folder: the only place (besides write/serve) that touches the disk.

Everything is read into memory as (relative path, text) pairs so that the
stages after this one are pure and a rebuild can compare contents by hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import SiteError


@dataclass(frozen=True)
class Sources:
    """The texts of a site folder, with POSIX paths relative to the site root."""

    root: Path
    config: str | None
    posts: tuple[tuple[str, str], ...]
    pages: tuple[tuple[str, str], ...]
    tags: str | None
    people: tuple[str, str] | None
    rounds: tuple[tuple[str, str], ...]
    static: tuple[tuple[str, Path], ...]  # (output path, file) of the site's own static/ folder


def _read(path: Path, root: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SiteError(
            path.relative_to(root).as_posix(), None, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8"
        ) from None


def _texts(root: Path, folder: str, pattern: str) -> tuple[tuple[str, str], ...]:
    base = root / folder
    if not base.is_dir():
        return ()
    files = sorted(p for p in base.glob(pattern) if p.is_file() and not _hidden(p.relative_to(base)))
    return tuple((p.relative_to(root).as_posix(), _read(p, root)) for p in files)


def _hidden(relative: Path) -> bool:
    return any(part.startswith((".", "_")) or part.endswith("~") for part in relative.parts)


def _optional(root: Path, name: str) -> str | None:
    path = root / name
    return _read(path, root) if path.is_file() else None


def read_sources(root: Path) -> Sources:
    """Read site.yaml, content/ and data/ (missing parts are simply empty)."""
    if not root.is_dir():
        raise SiteError(str(root), None, "site folder not found", "pass --source DIR pointing at a site folder")
    people_text = _optional(root, "data/people.yaml")
    static_dir = root / "static"
    static: tuple[tuple[str, Path], ...] = ()
    if static_dir.is_dir():
        static = tuple(
            (p.relative_to(root).as_posix(), p)
            for p in sorted(static_dir.rglob("*"))
            if p.is_file() and not _hidden(p.relative_to(static_dir))
        )
    return Sources(
        root=root,
        config=_optional(root, "site.yaml"),
        posts=_texts(root, "content/posts", "**/*.md"),
        pages=_texts(root, "content/pages", "*.md"),
        tags=_optional(root, "data/tags.yaml"),
        people=("data/people.yaml", people_text) if people_text is not None else None,
        rounds=_texts(root, "data/rounds", "*.yaml") + _texts(root, "data/rounds", "*.yml"),
        static=static,
    )
