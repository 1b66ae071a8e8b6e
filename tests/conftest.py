"""Shared fixtures: tiny sites written into tmp_path, built with a fixed "now".

``make_site(tmp_path, files={...})`` writes a site folder (a minimal site.yaml is
added unless given); ``make_post(**meta)`` returns the text of a post with front
matter. Builds always pass ``now`` so results never depend on the clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from builder.build import Builder, BuildOptions, BuildResult

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
# the example site has posts up to late 2026; this "now" publishes all but the draft
EXAMPLE_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent

MINIMAL_CONFIG = """\
title: Test journal
description: A site for tests.
base_url: https://example.org/
author: Tester
timezone: UTC
paginate: 10
search: false
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/sites/basic.expected/ from the current build instead of comparing",
    )


def make_post(title: str | None = "A post", date: Any = "2020-01-01", body: str = "Some text.", **meta: Any) -> str:
    """The text of a post: YAML front matter (values JSON-encoded, which is valid YAML) + body.

    Pass ``title=None``/``date=None`` to leave the key out.
    """
    lines = []
    if title is not None:
        lines.append(f"title: {json.dumps(title)}")
    if date is not None:
        lines.append(f"date: {date}")
    for key, value in meta.items():
        lines.append(f"{key}: {json.dumps(value, default=str)}")
    return "---\n" + "\n".join(lines) + "\n---\n" + body + "\n"


def numbered_posts(
    n: int,
    body: Callable[[int], str] = lambda i: f"Body of post {i}.",
    date: Callable[[int], str] = lambda i: f"2020-01-{1 + i % 28:02d}",
    tags: tuple[str, ...] = ("alpha", "beta", "gamma"),
) -> dict[str, str]:
    """``content/posts/post-NNN.md`` -> text for posts 0..n-1 ("Post number i"), tagged in turn
    with the first 1, 2, ... of ``tags``: a small site whose listings and related posts overlap."""
    return {
        f"content/posts/post-{i:03d}.md": make_post(
            f"Post number {i}", date(i), body(i), tags=list(tags[: 1 + i % len(tags)])
        )
        for i in range(n)
    }


JOURNAL_CONFIG = MINIMAL_CONFIG.replace("paginate: 10", "paginate: 3") + "feed_size: 4\nrelated_posts: 2\n"
JOURNAL_TAGS = ("alpha", "beta", "gamma", "delta")


def journal_post(i: int, title: str | None = None, body: str | None = None, **meta: Any) -> str:
    """Post ``i`` of ``journal_site``: two tags each, spread over months of two years."""
    tags = meta.pop("tags", [JOURNAL_TAGS[i % 4], JOURNAL_TAGS[(i + 1) % 4]])
    date = meta.pop("date", f"{2019 + i % 2}-{1 + i % 5:02d}-{1 + i % 27:02d}")
    return make_post(title or f"Post number {i}", date, body or f"Body of post {i}.", tags=tags, **meta)


def journal_site(tmp_path: Path, n: int = 24, network: bool = False) -> Path:
    """A small site whose listings (3 a page), feeds (4), related lists (2) and archive months
    overlap, so that an edit touches several pages of each kind (fast-pass tests)."""
    import shutil

    files = {f"content/posts/post-{i:03d}.md": journal_post(i) for i in range(n)}
    if network:
        files["content/posts/post-000.md"] = journal_post(0, round=1)
    root = make_site(tmp_path, files, JOURNAL_CONFIG)
    if network:
        shutil.copytree(ROOT / "tests" / "fixtures" / "rounds" / "basic" / "data", root / "data")
    return root


def output_files(out: Path) -> dict[str, bytes]:
    """Every file of a built site: {relative path: bytes} (to compare two builds byte for byte)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def make_site(tmp_path: Path, files: Mapping[str, str] | None = None, config: str = MINIMAL_CONFIG) -> Path:
    """Write a site folder under tmp_path/site and return it."""
    root = tmp_path / "site"
    root.mkdir(parents=True, exist_ok=True)
    all_files = {"site.yaml": config, **(files or {})}
    for relative, text in all_files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def render(source: Path, **options: Any) -> dict[str, bytes]:
    """All output files of a site in memory (no disk writes), built at NOW."""
    options.setdefault("now", NOW)
    _, files = Builder().render(BuildOptions(source, source / "public", **options))
    return files


def build(source: Path, output: Path | None = None, **options: Any) -> BuildResult:
    """Build a site to disk at NOW; returns the BuildResult."""
    options.setdefault("now", NOW)
    return Builder().build(BuildOptions(source, output or source.parent / "public", **options))


@pytest.fixture
def site_factory(tmp_path: Path) -> Callable[..., Path]:
    """``site_factory({path: text})`` -> a site folder in this test's tmp_path."""

    def factory(files: Mapping[str, str] | None = None, config: str = MINIMAL_CONFIG) -> Path:
        return make_site(tmp_path, files, config)

    return factory


@pytest.fixture
def fixed_now() -> datetime:
    return NOW


@pytest.fixture
def build_at_now() -> Callable[..., BuildResult]:
    """Build with the fixed NOW (options as keyword arguments of BuildOptions)."""
    return build


@pytest.fixture(scope="session")
def example_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The repository's example site built once per session (in memory, files by path)."""
    out = tmp_path_factory.mktemp("example") / "public"
    result = Builder().build(BuildOptions(ROOT, out, now=EXAMPLE_NOW))
    assert result.files is not None
    return result.files


def text(files: Mapping[str, bytes], path: str) -> str:
    return files[path].decode("utf-8")
