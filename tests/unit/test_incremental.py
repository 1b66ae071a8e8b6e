"""One-edit rebuilds in a new process: what is reused from the cache folder, and that it is right.

Each test compares against a build that trusts nothing (``cache=False``), so a stale reuse
shows up as a difference in output bytes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import NOW, ROOT, make_post, make_site, numbered_posts, output_files

from builder import network as network_module
from builder import sources as sources_module
from builder import taxonomy
from builder.build import RACY_NS, Builder, BuildOptions
from builder.cache import tree_stats
from builder.sources import posts_in_listing, read_sources, scan_posts

ROUNDS = ROOT / "tests" / "fixtures" / "rounds" / "basic" / "data"


def _age_sources(root: Path, seconds: int = 60) -> None:
    """Make every post look saved a minute ago: no longer "racy", so its stat can be trusted."""
    past = (os.stat(root).st_mtime_ns // 1_000_000_000 - seconds) * 1_000_000_000
    for path in (root / "content" / "posts").rglob("*.md"):
        os.utime(path, ns=(past, past))


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = sources_module._read

    def counting(path: Path, root: Path) -> str:
        reads.append(path.relative_to(root).as_posix())
        return real(path, root)

    monkeypatch.setattr(sources_module, "_read", counting)
    return reads


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> dict[str, int]:
    """Count calls of ``module.name`` (still calling it); reset with ``counter["n"] = 0``."""
    counter = {"n": 0}
    real = getattr(module, name)

    def counting(*args: object, **kwargs: object) -> object:
        counter["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return counter


def _fresh(root: Path, out: Path) -> dict[str, bytes]:
    Builder().build(BuildOptions(root, out, now=NOW, cache=False))
    return output_files(out)


def test_scan_posts_finds_what_read_sources_reads_in_the_same_order(tmp_path: Path) -> None:
    files = numbered_posts(3)
    files["content/posts/2020/a-b.md"] = make_post("Nested", "2020-03-01")
    files["content/posts/2020-x/a.md"] = make_post("Other folder", "2020-03-02")
    files["content/posts/_draft-ideas.md"] = "not a post"
    files["content/posts/.hidden/x.md"] = "not a post"
    files["content/posts/old~/y.md"] = "not a post"  # an editor's backup folder
    files["content/posts/2020/_wip/z.md"] = "not a post"
    files["content/posts/2020/ok_name.md"] = make_post("Underscore inside", "2020-03-03")
    root = make_site(tmp_path, files)
    scanned = [path for path, _, _ in scan_posts(root)]
    assert scanned == [path for path, _ in read_sources(root).posts]
    assert "content/posts/2020/a-b.md" in scanned and "content/posts/_draft-ideas.md" not in scanned
    assert "content/posts/2020/ok_name.md" in scanned and len(scanned) == 6
    _, _, listing = tree_stats([root / "content"])  # the build's one walk serves both
    assert posts_in_listing(listing[str(root / "content")]) == scan_posts(root)


def test_unchanged_posts_are_not_read_and_the_edited_one_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_site(tmp_path, numbered_posts(12))
    out = tmp_path / "out"
    options = BuildOptions(root, out, now=NOW)
    _age_sources(root)
    Builder().build(options)  # records sizes, times and digests
    target = root / "content/posts/post-004.md"
    target.write_text(target.read_text().replace("Post number 4", "Fourth, renamed"), encoding="utf-8")
    reads = _count_reads(monkeypatch)
    result = Builder().build(options)
    assert [r for r in reads if r.startswith("content/posts/")] == ["content/posts/post-004.md"]
    assert "posts/post-004/index.html" in result.written
    assert output_files(out) == _fresh(root, tmp_path / "fresh")


def test_a_file_saved_close_to_the_last_build_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same size, same time, different text: only possible within the timestamp resolution, so
    files that recent are never trusted by their stat alone."""
    root = make_site(tmp_path, numbered_posts(4))
    out = tmp_path / "out"
    options = BuildOptions(root, out, now=NOW)
    Builder().build(options)
    target = root / "content/posts/post-001.md"
    stat = target.stat()
    text = target.read_text()
    target.write_text(text.replace("Body of post 1.", "Body of post X."), encoding="utf-8")  # same length
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    assert target.stat().st_size == stat.st_size
    reads = _count_reads(monkeypatch)
    Builder().build(options)
    assert "content/posts/post-001.md" in reads
    assert b"Body of post X." in (out / "posts/post-001/index.html").read_bytes()


def test_racy_window_covers_coarse_file_times() -> None:
    assert RACY_NS >= 2_000_000_000  # FAT keeps 2-second times


def test_no_cache_reads_every_post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_site(tmp_path, numbered_posts(5))
    _age_sources(root)
    Builder().build(BuildOptions(root, tmp_path / "out", now=NOW))
    reads = _count_reads(monkeypatch)
    Builder().build(BuildOptions(root, tmp_path / "other", now=NOW, cache=False))
    assert len([r for r in reads if r.startswith("content/posts/")]) == 5


def test_index_without_content_cache_entry_reads_the_text(tmp_path: Path) -> None:
    root = make_site(tmp_path, numbered_posts(5))
    out = tmp_path / "out"
    _age_sources(root)
    Builder().build(BuildOptions(root, out, now=NOW))
    for stale in (root / ".netjournal-cache").glob("content-*.pickle"):
        stale.unlink()  # the post index survives, the parsed posts do not
    (root / "content/posts/post-002.md").write_text(make_post("Changed", "2020-01-03"), encoding="utf-8")
    Builder().build(BuildOptions(root, out, now=NOW))
    assert output_files(out) == _fresh(root, tmp_path / "fresh")


def test_related_posts_are_reused_for_text_edits_and_recomputed_for_tag_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_site(tmp_path, numbered_posts(15))
    out = tmp_path / "out"
    options = BuildOptions(root, out, now=NOW)
    Builder().build(options)
    calls = _count_calls(monkeypatch, taxonomy, "related_posts")
    grouped = _count_calls(monkeypatch, taxonomy, "build_tags")
    target = root / "content/posts/post-005.md"
    target.write_text(target.read_text() + "\nAnother paragraph.\n", encoding="utf-8")
    Builder().build(options)
    assert calls["n"] == 0  # tags and dates unchanged: the last build's related lists
    assert grouped["n"] == 0  # ... and the last build's tag grouping
    assert output_files(out) == _fresh(root, tmp_path / "fresh1")
    calls["n"] = 0  # (the fresh build computes them too)
    target.write_text(make_post("Post number 5", "2020-01-06", "Retagged.", tags=["gamma", "delta"]), encoding="utf-8")
    grouped["n"] = 0
    Builder().build(options)
    assert calls["n"] == 1
    assert grouped["n"] == 1
    assert output_files(out) == _fresh(root, tmp_path / "fresh2")


def test_network_is_reused_from_the_cache_folder_until_its_inputs_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "content/posts/first.md": make_post("First", "2020-01-01", "Hello."),
        "content/posts/second.md": make_post("Second", "2020-02-01", "About round one.", round=1),
    }
    root = make_site(tmp_path, files)
    shutil.copytree(ROUNDS, root / "data")
    out = tmp_path / "out"
    options = BuildOptions(root, out, now=NOW)
    Builder().build(options)
    calls = _count_calls(monkeypatch, network_module, "build_network")
    (root / "content/posts/first.md").write_text(make_post("First", "2020-01-01", "Hello, edited."), encoding="utf-8")
    Builder().build(options)
    assert calls["n"] == 0  # a post that does not name the network: the stored network is used
    assert output_files(out) == _fresh(root, tmp_path / "fresh1")
    calls["n"] = 0  # (the fresh build computes one too)
    second = root / "content/posts/second.md"
    second.write_text(make_post("Second, renamed", "2020-02-01", "About round one.", round=1), encoding="utf-8")
    Builder().build(options)
    assert calls["n"] == 1  # the round page lists this post by title: the network is rebuilt
    assert b"Second, renamed" in (out / "network/round-1/index.html").read_bytes()
    assert output_files(out) == _fresh(root, tmp_path / "fresh2")


def test_neighbour_title_change_reaches_the_post_page(tmp_path: Path) -> None:
    root = make_site(tmp_path, numbered_posts(6))
    out = tmp_path / "out"
    options = BuildOptions(root, out, now=NOW)
    Builder().build(options)
    target = root / "content/posts/post-003.md"
    target.write_text(target.read_text().replace("Post number 3", "Third, renamed"), encoding="utf-8")
    Builder().build(options)
    pages = [p for p in out.glob("posts/*/index.html") if b'href="/posts/post-003/"' in p.read_bytes()]
    assert pages and all(b"Third, renamed" in p.read_bytes() for p in pages)
    assert output_files(out) == _fresh(root, tmp_path / "fresh")


def test_posts_are_parsed_once_across_many_one_edit_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Build after build in new processes, only the edited post is parsed (the index keeps true digests)."""
    from builder import parallel
    from builder.cache import hash_parts, load_post_index

    root = make_site(tmp_path, numbered_posts(8))
    out = tmp_path / "out"
    options = BuildOptions(root, out, now=NOW)
    _age_sources(root)
    Builder().build(options)
    parsed: list[str] = []
    real = parallel.parse_one

    def counting(kind: str, path: str, *args: object, **kwargs: object) -> object:
        parsed.append(path)
        return real(kind, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "parse_one", counting)
    for round_no in range(3):
        target = root / f"content/posts/post-00{round_no}.md"
        target.write_text(target.read_text() + f"\nEdit {round_no}.\n", encoding="utf-8")
        _age_sources(root)
        parsed.clear()
        Builder().build(options)
        assert parsed == [f"content/posts/post-00{round_no}.md"]
    index, _ = load_post_index(root / ".netjournal-cache")
    for path, (_, _, digest) in index.items():
        assert digest == hash_parts(path, (root / path).read_text(encoding="utf-8"))
    assert output_files(out) == _fresh(root, tmp_path / "fresh")


def test_post_texts_are_let_go_once_parsed(tmp_path: Path) -> None:
    from builder.cache import hash_parts

    root = make_site(tmp_path, numbered_posts(4))
    sources = read_sources(root)
    texts = dict(sources.posts)
    Builder().render(BuildOptions(root, tmp_path / "out", now=NOW, cache=False), sources=sources)
    assert all(text == "" for _, text in sources.posts)  # memory: the texts are gone
    assert sources.unread == {path: hash_parts(path, text) for path, text in texts.items()}


def test_serve_rebuilds_swap_edited_posts_into_related_lists(tmp_path: Path) -> None:
    """serve keeps the related lists as objects and patches them; the pages must still show the edit."""
    root = make_site(tmp_path, numbered_posts(20))
    out = tmp_path / "out"
    options = BuildOptions(root, out, now=NOW, serve=True)
    builder = Builder()
    builder.build(options)
    assert builder.last_site is not None
    named = sorted({p.source for rel in builder.last_site.related.values() for p in rel})
    assert len(named) >= 2  # edit posts that other posts list as related
    first, second = (Path(source).stem for source in named[:2])
    for round_no, name in enumerate((first, second, first)):
        target = root / f"content/posts/{name}.md"
        text = target.read_text()
        title = text.split("\n")[1].removeprefix("title: ")
        target.write_text(text.replace(title, f'"Renamed {round_no} {name}"'), encoding="utf-8")
        result = builder.build(options, changed=[target])
        assert result.files is not None
        pages = [p for p, data in result.files.items() if p.startswith("posts/") and f"/{name}/".encode() in data]
        assert len(pages) >= 3  # its own page, neighbours and posts that list it as related
        assert all(f"Renamed {round_no} {name}".encode() in result.files[p] for p in pages)
        fresh = Builder().build(BuildOptions(root, tmp_path / f"fresh{round_no}", now=NOW, serve=True, cache=False))
        assert fresh.files is not None
        assert {p: bytes(result.files[p]) for p in fresh.files} == {p: bytes(d) for p, d in fresh.files.items()}


def test_serve_reuses_list_items_of_unchanged_posts_across_rebuilds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builder.render as render_module

    root = make_site(tmp_path, numbered_posts(12))
    options = BuildOptions(root, tmp_path / "out", now=NOW, serve=True)
    builder = Builder()
    builder.build(options)
    rendered: list[str] = []
    real = render_module.jinja2.Template.render

    def spy(self: object, *args: object, **kwargs: object) -> str:
        if getattr(self, "name", "").startswith("partials/") and "post" in kwargs:
            rendered.append(f"{getattr(self, 'name', '')}:{getattr(kwargs['post'], 'source', '')}")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render_module.jinja2.Template, "render", spy)
    target = root / "content/posts/post-005.md"
    target.write_text(target.read_text().replace("Post number 5", "Fifth, renamed"), encoding="utf-8")
    result = builder.build(options, changed=[target])
    assert rendered and all(item.endswith("post-005.md") for item in rendered)  # only the edited post's items
    assert result.files is not None and b"Fifth, renamed" in result.files["archive/index.html"]
    fresh = Builder().build(BuildOptions(root, tmp_path / "fresh", now=NOW, serve=True, cache=False))
    assert fresh.files is not None
    assert {p: bytes(result.files[p]) for p in fresh.files} == {p: bytes(d) for p, d in fresh.files.items()}
