"""Whole builds on disk: determinism, atomic output, untouched unchanged files, options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import NOW, build, make_post, make_site

from builder.build import Builder, BuildOptions
from builder.errors import SiteError, SiteErrors
from builder.write import MANIFEST

SITE = Path(__file__).resolve().parent.parent / "sites" / "basic"


def snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """path -> (bytes, mtime_ns, inode) for every file under root."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(root).as_posix()] = (p.read_bytes(), st.st_mtime_ns, st.st_ino)
    return out


def test_two_builds_into_different_folders_are_byte_identical(tmp_path):
    build(SITE, tmp_path / "one")
    build(SITE, tmp_path / "two")
    one = {k: v[0] for k, v in snapshot(tmp_path / "one").items()}
    two = {k: v[0] for k, v in snapshot(tmp_path / "two").items()}
    assert len(one) > 20
    assert one == two


def test_failed_build_leaves_previous_output_untouched(tmp_path):
    source = make_site(
        tmp_path,
        {"content/posts/a.md": make_post(title="Alpha"), "content/posts/b.md": make_post(title="Beta")},
    )
    output = tmp_path / "public"
    build(source, output)
    before = snapshot(output)
    (source / "content/posts/b.md").write_text("---\ntitle: [unclosed\ndate: 2020-01-01\n---\n", encoding="utf-8")
    (source / "content/posts/c.md").write_text(make_post(title="Gamma"), encoding="utf-8")
    with pytest.raises((SiteError, SiteErrors)):
        build(source, output)
    assert snapshot(output) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public", "site"]  # no staging folder left behind


def test_unchanged_files_are_not_rewritten(tmp_path):
    source = make_site(
        tmp_path,
        {"content/posts/a.md": make_post(title="Alpha"), "content/posts/b.md": make_post(title="Beta")},
    )
    output = tmp_path / "public"
    first = build(source, output)
    assert first.written  # everything is new the first time
    before = snapshot(output)
    again = build(source, output)
    assert again.written == () and again.removed == ()
    assert snapshot(output) == before  # same bytes, mtimes and inodes
    (source / "content/posts/b.md").write_text(make_post(title="Beta", body="Changed text."), encoding="utf-8")
    third = build(source, output)
    after = snapshot(output)
    assert "posts/b/index.html" in third.written
    assert after["posts/b/index.html"][0] != before["posts/b/index.html"][0]
    assert after["posts/a/index.html"][2] == before["posts/a/index.html"][2]  # same inode: not rewritten
    assert after["posts/a/index.html"][1] == before["posts/a/index.html"][1]


def test_removed_post_disappears_from_output(tmp_path):
    source = make_site(
        tmp_path,
        {"content/posts/a.md": make_post(title="Alpha"), "content/posts/b.md": make_post(title="Beta")},
    )
    output = tmp_path / "public"
    build(source, output)
    (source / "content/posts/b.md").unlink()
    result = build(source, output)
    assert "posts/b/index.html" in result.removed
    assert not (output / "posts/b").exists()


def test_build_refuses_to_replace_a_foreign_folder(tmp_path):
    source = make_site(tmp_path, {"content/posts/a.md": make_post()})
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("do not delete", encoding="utf-8")
    with pytest.raises(SiteError) as info:
        build(source, foreign)
    assert "not written by netjournal" in info.value.message
    assert (foreign / "thesis.txt").read_text(encoding="utf-8") == "do not delete"
    with pytest.raises(SiteError):
        build(source, source)


def test_base_url_option_overrides_site_yaml(tmp_path):
    source = make_site(tmp_path, {"content/posts/a.md": make_post()})
    result = build(source, tmp_path / "out", base_url="https://other.example/sub")
    page = (tmp_path / "out" / "posts/a/index.html").read_text(encoding="utf-8")
    assert 'href="https://other.example/sub/posts/a/"' in page
    assert result.pages >= 1
    with pytest.raises((SiteError, SiteErrors)) as info:
        build(source, tmp_path / "bad", base_url="not a url")
    assert "base_url must be an absolute http(s) URL" in str(info.value)
    assert str(info.value).startswith("--base-url: ")  # names the flag, not site.yaml
    assert not (tmp_path / "bad").exists()


def test_build_result_counts_and_manifest(tmp_path):
    output = tmp_path / "public"
    result = build(SITE, output)
    html = [p for p in snapshot(output) if p.endswith(".html")]
    assert result.pages == len(html)
    assert (output / MANIFEST).is_file()
    assert result.seconds > 0


def test_warm_rebuild_with_one_builder_matches_cold(tmp_path):
    builder = Builder()
    builder.build(BuildOptions(SITE, tmp_path / "warm", now=NOW))
    builder.build(BuildOptions(SITE, tmp_path / "warm", now=NOW))
    build(SITE, tmp_path / "cold")
    warm = {k: v[0] for k, v in snapshot(tmp_path / "warm").items()}
    cold = {k: v[0] for k, v in snapshot(tmp_path / "cold").items()}
    assert warm == cold


def test_output_has_no_stray_files(tmp_path):
    output = tmp_path / "public"
    build(SITE, output)
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert not any(name.endswith((".tmp", "~")) for name in os.listdir(output))
