"""The build cache: content cache, no-change skip, page cache, parallel parsing, progress."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import NOW, make_post, make_site, output_files

from builder.build import Builder, BuildOptions
from builder.cache import CACHE_DIR, ContentCache, read_stamp
from builder.parallel import parse_all
from builder.progress import Progress


def _posts(n: int, tags: tuple[str, ...] = ("alpha", "beta")) -> dict[str, str]:
    return {
        f"content/posts/post-{i:03d}.md": make_post(
            f"Post number {i}",
            f"2020-01-{1 + i % 28:02d}",
            f"Body of post {i}.\n\n## Section\n\nMore *text* {i}.",
            tags=list(tags[: 1 + i % len(tags)]),
        )
        for i in range(n)
    }


def _mtimes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_content_cache_round_trip_and_settings(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    cache.load("settings-a")
    cache.put("k1", {"value": 1})
    assert cache.save() is True
    again = ContentCache(tmp_path)
    again.load("settings-a")
    assert again.get("k1") == {"value": 1}
    other = ContentCache(tmp_path)
    other.load("settings-b")  # different settings: a different file, nothing found
    assert other.get("k1") is None


def test_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    cache.load("s")
    cache.put("a1", "v")
    cache.put("b2", "w")
    cache.save()
    path = cache.path("s", "a")
    assert path is not None and path.is_file()
    path.write_bytes(b"\x80\x05 this is not a pickle")
    fresh = ContentCache(tmp_path)
    fresh.load("s")
    assert fresh.get("a1") is None
    assert fresh.get("b2") == "w"  # the other shard is still good


def test_saving_after_one_change_rewrites_only_its_shard(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    cache.load("s")
    for i in range(64):
        cache.put(f"{i % 16:x}{i:03d}", i)
    assert cache.save() is True
    shards = sorted(tmp_path.glob("content-*.pickle"))
    assert len(shards) == 16
    before = {p.name: p.stat().st_mtime_ns for p in shards}
    again = ContentCache(tmp_path)
    again.load("s")
    assert len(again.entries) == 64
    again.keep_only({k for k in again.entries if k != "3003"})  # a deleted post
    again.put("3999", "new")  # and an edited one, in the same shard
    assert again.save() is True
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("content-*.pickle")}
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == [ContentCache(tmp_path).path("s", "3").name]  # type: ignore[union-attr]
    third = ContentCache(tmp_path)
    third.load("s")
    assert third.get("3003") is None and third.get("3999") == "new" and len(third.entries) == 64
    assert again.save() is False  # nothing changed since


def test_second_build_with_nothing_changed_is_skipped_and_rewrites_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path, _posts(5))
    options = BuildOptions(site, tmp_path / "out", now=NOW)
    first = Builder().build(options)
    assert not first.skipped and first.written
    before = _mtimes(tmp_path / "out")
    second = Builder().build(options)  # a new process would use a new Builder, too
    assert second.skipped and second.written == () and second.pages == first.pages
    assert _mtimes(tmp_path / "out") == before
    assert (site / CACHE_DIR / ".gitignore").is_file()


def test_a_deleted_output_file_is_not_skipped(tmp_path: Path) -> None:
    site = make_site(tmp_path, _posts(3))
    options = BuildOptions(site, tmp_path / "out", now=NOW)
    Builder().build(options)
    victim = next((tmp_path / "out" / "posts").rglob("index.html"))
    victim.unlink()
    result = Builder().build(options)
    assert not result.skipped
    assert victim.is_file()


def test_one_edit_updates_post_and_listings_and_leaves_other_files_alone(tmp_path: Path) -> None:
    site = make_site(tmp_path, _posts(30))
    out = tmp_path / "out"
    options = BuildOptions(site, out, now=NOW)
    Builder().build(options)
    before = _mtimes(out)
    target = site / "content/posts/post-007.md"
    target.write_text(target.read_text().replace("Post number 7", "Renamed seventh post"), encoding="utf-8")
    builder = Builder()
    result = builder.build(options)
    assert not result.skipped
    assert "posts/post-number-7/index.html" not in result.written  # the slug comes from the file name
    assert "posts/post-007/index.html" in result.written
    assert "archive/index.html" in result.written
    assert any(p.startswith("tags/alpha/") for p in result.written)
    listings = [p for p in out.rglob("index.html") if b'href="/posts/post-007/"' in p.read_bytes()]
    assert len(listings) >= 4  # archive, a home page, a tag page, a neighbour's or related post's page
    assert all(b"Renamed seventh post" in p.read_bytes() for p in listings)
    unchanged = [p for p in before if p not in result.written and p != ".netjournal-manifest.json"]
    assert unchanged and all(_mtimes(out)[p] == before[p] for p in unchanged)
    memo = builder._memo
    assert memo is not None and memo.hits > 0 and memo.misses < memo.hits  # most pages came from the cache


def test_cached_build_equals_uncached_build(tmp_path: Path) -> None:
    site = make_site(tmp_path, _posts(12))
    Builder().build(BuildOptions(site, tmp_path / "warmup", now=NOW))  # fills the content cache
    target = site / "content/posts/post-003.md"
    target.write_text(target.read_text() + "\nA new paragraph.\n", encoding="utf-8")
    Builder().build(BuildOptions(site, tmp_path / "warmup", now=NOW))
    cached = Builder().build(BuildOptions(site, tmp_path / "a", now=NOW))
    fresh = Builder().build(BuildOptions(site, tmp_path / "b", now=NOW, cache=False))
    assert cached.files == fresh.files
    assert output_files(tmp_path / "warmup") == output_files(tmp_path / "b")


def test_future_post_goes_live_when_its_time_comes(tmp_path: Path) -> None:
    later = NOW + timedelta(days=2)
    files = _posts(2)
    files["content/posts/soon.md"] = make_post("Coming soon", later.date().isoformat())
    site = make_site(tmp_path, files)
    out = tmp_path / "out"
    Builder().build(BuildOptions(site, out, now=NOW))
    assert not (out / "posts/soon/index.html").exists()
    stamp = read_stamp(site / CACHE_DIR, out)
    assert stamp is not None and stamp["valid_until"] is not None
    result = Builder().build(BuildOptions(site, out, now=NOW + timedelta(days=3)))
    assert not result.skipped
    assert (out / "posts/soon/index.html").is_file()


def test_parallel_parsing_matches_serial_parsing() -> None:
    items = [(path, text) for path, text in sorted(_posts(60).items())]
    items.append(("content/posts/broken.md", "no front matter here\n"))
    serial = parse_all("post", items, "UTC", "/", jobs=1)
    parallel = parse_all("post", items, "UTC", "/", jobs=2)
    assert [o[0] for o in serial] == ["ok"] * 60 + ["errors"]
    assert serial == parallel


def test_progress_bar_shows_on_a_terminal_only(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    site = make_site(tmp_path, _posts(60))
    screen = Terminal()
    with Progress(stream=screen, delay=0.0) as progress:
        Builder().build(BuildOptions(site, tmp_path / "out", now=NOW, cache=False), progress=progress)
    shown = screen.getvalue()
    assert "posts" in shown and "pages" in shown and "[" in shown
    piped = io.StringIO()
    with Progress(stream=piped, delay=0.0) as progress:
        Builder().build(BuildOptions(site, tmp_path / "out2", now=NOW, cache=False), progress=progress)
    assert piped.getvalue() == ""


def test_spilled_output_equals_in_memory_output_and_failed_builds_leave_nothing(tmp_path, monkeypatch) -> None:
    from builder import outfiles

    site = make_site(tmp_path, _posts(20))
    in_memory = Builder().build(BuildOptions(site, tmp_path / "a", now=NOW, cache=False))
    monkeypatch.setattr(outfiles, "MEMORY_LIMIT", 2000)  # a few pages, then straight to the staging folder
    spilled = Builder().build(BuildOptions(site, tmp_path / "b", now=NOW, cache=False))
    assert output_files(tmp_path / "a") == output_files(tmp_path / "b")
    assert isinstance(spilled.files, outfiles.OutputFiles) and spilled.files.staging is None
    assert dict(spilled.files.items()) == dict(in_memory.files.items())  # read back lazily from the output
    target = site / "content/posts/post-004.md"
    target.write_text(target.read_text().replace("Post number 4", "Post four, renamed"), encoding="utf-8")
    edited = Builder().build(BuildOptions(site, tmp_path / "b", now=NOW, cache=False))
    assert "posts/post-004/index.html" in edited.written
    assert b"Post four, renamed" in (tmp_path / "b/posts/post-004/index.html").read_bytes()
    target.write_text("no front matter\n", encoding="utf-8")
    try:
        Builder().build(BuildOptions(site, tmp_path / "b", now=NOW, cache=False))
    except Exception as exc:  # a content error, raised before anything is written
        assert "front matter" in str(exc)
    else:
        raise AssertionError("the broken post was accepted")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".b.new-")) == []
    assert b"Post four, renamed" in (tmp_path / "b/posts/post-004/index.html").read_bytes()


def test_touched_but_unchanged_source_is_read_once_then_skipped_by_times(tmp_path: Path) -> None:
    import os

    site = make_site(tmp_path, _posts(4))
    options = BuildOptions(site, tmp_path / "out", now=NOW)
    Builder().build(options)
    post = site / "content/posts/post-001.md"
    os.utime(post, ns=(post.stat().st_atime_ns, post.stat().st_mtime_ns + 5_000_000_000))
    stamp_before = read_stamp(site / CACHE_DIR, tmp_path / "out")
    assert Builder().build(options).skipped  # texts read and hashed: the same, so skipped
    stamp_after = read_stamp(site / CACHE_DIR, tmp_path / "out")
    assert stamp_before is not None and stamp_after is not None
    assert stamp_after["quick"] != stamp_before["quick"]  # the new times are remembered
    post.write_text(post.read_text() + "\nChanged.\n", encoding="utf-8")
    assert not Builder().build(options).skipped


def test_a_build_freezes_long_lived_objects_only_while_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    site = make_site(tmp_path, _posts(5))
    frozen: list[int] = []
    real = gc.freeze

    def counting() -> None:
        real()
        frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(gc, "freeze", counting)
    builder = Builder()
    builder.build(BuildOptions(site, tmp_path / "out", now=NOW, serve=True))
    assert frozen and frozen[0] > 0  # the posts and caches were moved out of the collector's way
    assert gc.get_freeze_count() == 0  # and back: serve's next rebuilds can collect them
    first = len(frozen)
    (site / "content/posts/post-001.md").write_text(make_post("Changed", "2020-02-02"), encoding="utf-8")
    builder.build(BuildOptions(site, tmp_path / "out", now=NOW, serve=True))
    assert len(frozen) > first and gc.get_freeze_count() == 0


def test_package_versions_from_folder_names_match_importlib_metadata() -> None:
    from importlib import metadata

    from builder.cache import CONTENT_PACKAGES, _installed_versions, _package_version

    names = (*CONTENT_PACKAGES, "Jinja2", "MarkupSafe", "networkx", "cmarkgfm")
    assert all(name.lower().replace("-", "_") in str(_installed_versions()).replace("-", "_") for name in names)
    for name in names:
        assert _package_version(name) == metadata.version(name), name
    assert _package_version("no-such-package-installed-here") == "-"
