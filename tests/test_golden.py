"""Golden-output test: tests/sites/basic built at a fixed time must equal tests/sites/basic.expected/.

Regenerate (then review the change with ``git diff tests/sites/basic.expected``)::

    python3 -m pytest tests/test_golden.py --update-golden

The write manifest is left out, and so are static files copied unchanged from the theme:
keeping second copies of the theme's CSS/JS/D3 here would only repeat the theme (they are
checked against their sources instead, in ``test_static_files_are_the_theme_files``). The
HTML still names their fingerprinted URLs, and generated assets (Pygments CSS) stay in.
"""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path

import pytest
from conftest import NOW

from builder.build import Builder, BuildOptions
from builder.write import MANIFEST

SITE = Path(__file__).parent / "sites" / "basic"
EXPECTED = Path(__file__).parent / "sites" / "basic.expected"
THEME_STATIC = Path(__file__).resolve().parents[1] / "themes" / "default" / "static"
FINGERPRINT = re.compile(r"\.[0-9a-f]{10}(?=\.(?:css|js)$)")


def theme_source(path: str) -> Path | None:
    """The theme file an output ``static/...`` file was copied from (fingerprint removed), if any."""
    if not path.startswith("static/"):
        return None
    source = THEME_STATIC / FINGERPRINT.sub("", path.removeprefix("static/"))
    return source if source.is_file() else None


def tree(root: Path) -> dict[str, bytes]:
    return {
        path: p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST and theme_source(path := p.relative_to(root).as_posix()) is None
    }


def describe(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    """A report naming every missing, extra and differing file, with the first text diff."""
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differing = sorted(p for p in set(expected) & set(actual) if expected[p] != actual[p])
    lines = [f"missing: {p}" for p in missing] + [f"extra: {p}" for p in extra]
    lines += [f"differs: {p}" for p in differing]
    for path in differing[:3]:
        try:
            old, new = expected[path].decode().splitlines(), actual[path].decode().splitlines()
        except UnicodeDecodeError:
            continue
        lines += list(difflib.unified_diff(old, new, f"expected/{path}", f"built/{path}", lineterm="", n=1))[:40]
    lines.append("If the change is intended: python3 -m pytest tests/test_golden.py --update-golden")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    output = tmp_path_factory.mktemp("golden") / "public"
    Builder().build(BuildOptions(SITE, output, now=NOW))
    return tree(output)


def test_basic_site_matches_golden_tree(built, request):
    if request.config.getoption("--update-golden"):
        shutil.rmtree(EXPECTED, ignore_errors=True)
        for path, data in built.items():
            target = EXPECTED / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    expected = tree(EXPECTED)
    assert expected, "no golden tree yet: run python3 -m pytest tests/test_golden.py --update-golden"
    if expected != built:
        pytest.fail(describe(expected, built), pytrace=False)


def test_static_files_are_the_theme_files(tmp_path_factory):
    output = tmp_path_factory.mktemp("golden-static") / "public"
    Builder().build(BuildOptions(SITE, output, now=NOW))
    copied = {p.relative_to(output).as_posix(): p for p in (output / "static").rglob("*") if p.is_file()}
    sources = {path: theme_source(path) for path in copied}
    assert "static/vendor/d3/d3.min.js" in copied
    assert any(path.startswith("static/css/style.") for path, src in sources.items() if src)
    for path, source in sources.items():
        if source is not None:
            assert copied[path].read_bytes() == source.read_bytes(), path


def test_golden_tree_covers_the_site(built):
    for path in [
        "index.html",
        "page/2/index.html",
        "posts/first-steps/index.html",
        "posts/paired-with-bo/index.html",
        "about/index.html",
        "tags/yet/index.html",
        "tags/localgovdigital/index.html",
        "tags/yet/feed.xml",
        "archive/index.html",
        "feed.xml",
        "sitemap.xml",
        "network/index.html",
        "network/round-2/index.html",
        "404.html",
        "robots.txt",
    ]:
        assert path in built, path
    assert "posts/not-finished/index.html" not in built
    assert "posts/from-the-future/index.html" not in built


def test_golden_output_keeps_private_people_out(built):
    for path, data in built.items():
        for secret in (b"Hidden Person", b"x-private", b"Secret Org", b"anon-7", b"Not finished"):
            assert secret not in data, (path, secret)
