"""Post bodies kept apart from the content cache's index and read only when a page shows them.

Every build here is compared with one that trusts nothing (``cache=False``): a body served
from the wrong record, a stale file or a damaged one shows up as a difference in output bytes.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, make_post, make_site, numbered_posts, output_files

from builder.build import Builder, BuildOptions
from builder.cache import CACHE_DIR, BodyUnavailable, ContentCache
from builder.errors import SiteError
from builder.model import Rendered
from builder.sources import read_sources


def _bodied_posts(n: int) -> dict[str, str]:
    """Bodies with headings (a table of contents) and distinct text per post."""
    return numbered_posts(
        n,
        body=lambda i: (
            f"Body of post {i}, *unique* {i * 7919}.\n\n## Part {i}\n\nMore text {i}.\n\n## End\n\nDone {i}."
        ),
    )


def _fresh(root: Path, out: Path) -> dict[str, bytes]:
    shutil.rmtree(out, ignore_errors=True)
    Builder().build(BuildOptions(root, out, now=NOW, cache=False))
    return output_files(out)


def _age_sources(root: Path, seconds: int = 60) -> None:
    """Posts saved a minute ago: their stat is trusted, so unchanged ones are not read again."""
    past = (os.stat(root).st_mtime_ns // 1_000_000_000 - seconds) * 1_000_000_000
    for path in (root / "content" / "posts").rglob("*.md"):
        os.utime(path, ns=(past, past))


def _edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "content" / "posts" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _built(tmp_path: Path, n: int = 40) -> tuple[Path, BuildOptions]:
    root = make_site(tmp_path, _bodied_posts(n))
    _age_sources(root)
    options = BuildOptions(root, tmp_path / "out", now=NOW)
    Builder().build(options)
    return root, options


def _bodyoutput_files(root: Path) -> list[Path]:
    return sorted((root / CACHE_DIR).glob("bodies-*.bin"))


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("post-007.md", "More text 7.", "A different body for seven."),  # a body
        ("post-008.md", "Post number 8", "Eight, renamed"),  # a title (shown by neighbours and listings)
        ("post-009.md", '["alpha"]', '["alpha", "delta"]'),  # a tag
        ("post-010.md", "2020-01-11", "2021-06-30"),  # a date (moves it in every listing)
    ],
)
def test_one_edit_in_a_new_process_equals_a_build_without_cache(tmp_path: Path, name: str, old: str, new: str) -> None:
    root, options = _built(tmp_path)
    _edit(root, name, old, new)
    result = Builder().build(options)
    assert not result.skipped
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")


def _count_body_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loads: list[str] = []
    real = ContentCache._load_body

    def counting(self: ContentCache, key: str, source: str, ref: Any) -> tuple[str, str]:
        loads.append(source)
        return real(self, key, source, ref)

    monkeypatch.setattr(ContentCache, "_load_body", counting)
    return loads


def test_only_the_bodies_of_pages_rendered_again_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, options = _built(tmp_path)
    loads = _count_body_loads(monkeypatch)
    (options.output / "posts" / "post-020" / "index.html").unlink()  # the one page to render again
    builder = Builder()
    builder.build(options)
    assert loads == ["content/posts/post-020.md"]
    site = builder.last_site
    assert site is not None
    assert [p.source for p in site.posts if p.body.loaded] == ["content/posts/post-020.md"]
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")


def test_a_one_edit_build_reads_fewer_bodies_than_posts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, options = _built(tmp_path)
    loads = _count_body_loads(monkeypatch)
    _edit(root, "post-012.md", "Post number 12", "Twelve, renamed")
    builder = Builder()
    builder.build(options)
    # the edited post is parsed, not read from the cache; pages showing its title (neighbours,
    # related lists) are rendered again and read their own bodies, the other pages none
    assert "content/posts/post-012.md" not in loads and len(loads) == len(set(loads)) < 30
    site = builder.last_site
    assert site is not None
    assert {p.source for p in site.posts if p.body.loaded} == {*loads, "content/posts/post-012.md"}
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")


def test_deleted_body_file_or_index_means_those_posts_are_parsed_again(tmp_path: Path) -> None:
    root, options = _built(tmp_path)
    bodies = _bodyoutput_files(root)
    assert len(bodies) == 16
    bodies[3].unlink()
    indexes = sorted((root / CACHE_DIR).glob("content-*.pickle"))
    indexes[5].unlink()
    _edit(root, "post-002.md", "Post number 2", "Two, renamed")  # a title: every listing page again
    Builder().build(options)
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")
    assert len(_bodyoutput_files(root)) == 16  # both shards written anew


def _damage_every_record(root: Path) -> None:
    """Flip one byte in the middle of every body file (inside some post's html)."""
    for path in _bodyoutput_files(root):
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle] = (data[middle] + 1) % 256
        path.write_bytes(bytes(data))


def test_damaged_body_files_are_never_shown(tmp_path: Path) -> None:
    root, options = _built(tmp_path)
    _damage_every_record(root)
    (options.output / "posts").joinpath("post-020", "index.html").unlink()  # must be rendered again
    _edit(root, "post-002.md", "Post number 2", "Two, renamed")
    Builder().build(options)
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")
    # a build rendering every page repairs what is left: afterwards every record reads back intact
    shutil.rmtree(options.output)
    Builder().build(options)
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")
    _assert_every_body_intact(root, options)


def _assert_every_body_intact(root: Path, options: BuildOptions) -> None:
    builder = Builder()
    sources = read_sources(root)
    posts = builder.parse_posts(sources, builder.load_config(sources, options), options=options)
    assert not any(p.body.loaded for p in posts)  # every one from the cache
    builder._content.fallback = None  # a damaged record would now raise BodyUnavailable
    for post in posts:
        assert "<p>Body of post" in post.body.html


def test_truncated_body_file_is_never_shown(tmp_path: Path) -> None:
    root, options = _built(tmp_path)
    for path in _bodyoutput_files(root):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])
    shutil.rmtree(options.output)  # every page rendered: every body read
    Builder().build(options)
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")


def test_a_damaged_body_whose_source_changed_meanwhile_stops_the_build(tmp_path: Path) -> None:
    root, options = _built(tmp_path, 6)
    builder = Builder()
    sources = read_sources(root)
    posts = builder.parse_posts(sources, builder.load_config(sources, options), options=options)
    assert not any(p.body.loaded for p in posts)  # all six from the cache, bodies unread
    key = next(k for k, v in builder._content.entries.items() if v is posts[2])
    bodies, offset = builder._content._refs[key][:2]
    with open(os.readlink(f"/proc/self/fd/{bodies.fd}"), "r+b") as handle:  # the file it reads
        handle.seek(offset + 3)
        handle.write(b"#")
    for post in posts:  # the texts the keys were made from are gone
        (root / post.source).write_text(make_post("Another", "2020-02-02"), encoding="utf-8")
    with pytest.raises(SiteError, match="changed while") as caught:
        posts[2].body.html  # noqa: B018 - reading it is the point
    assert caught.value.path == posts[2].source
    for post in posts[:2] + posts[3:]:  # the intact records still read as written
        assert f"<p>Body of post {post.source[-4]}, <em>unique</em>" in post.body.html


def test_a_body_file_replaced_by_another_build_is_not_read_through_old_offsets(tmp_path: Path) -> None:
    """An index loaded by one process keeps reading the body file it was written with, even after
    another process rewrote the shard (new offsets, new bodies)."""
    cache = ContentCache(tmp_path)
    cache.load("s")
    first = {f"{c}{i}": _value(f"{c}{i}", f"<p>first {c}{i}</p>" * (1 + i)) for c in "ab" for i in range(5)}
    for key, value in first.items():
        cache.put(key, value)
    cache.save()
    reader = ContentCache(tmp_path)
    reader.load("s")
    assert not any(v.body.loaded for v in reader.entries.values())
    writer = ContentCache(tmp_path)
    writer.load("s")
    writer.keep_only({"a0", "a1"})  # shard a: three posts gone, so every offset moves
    writer.put("a9", _value("a9", "<p>someone else's body</p>" * 50))
    writer.save()
    for key, value in reader.entries.items():
        assert value.body.html == first[key].body.html
        assert value.body.toc_html == first[key].body.toc_html


def test_an_index_paired_with_another_body_file_is_ignored(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    cache.load("s")
    cache.put("a1", _value("a1", "<p>one</p>"))
    cache.save()
    kept = (tmp_path / "bodies-s-a.bin").read_bytes()
    cache.put("a2", _value("a2", "<p>two</p>"))
    cache.save()
    (tmp_path / "bodies-s-a.bin").write_bytes(kept)  # an older body file beside a newer index
    again = ContentCache(tmp_path)
    again.load("s")
    assert again.entries == {}


def test_damaged_record_without_fallback_raises_and_is_not_saved(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    cache.load("s")
    cache.put("a1", _value("a1", "<p>one</p>" * 20))
    cache.put("a2", _value("a2", "<p>two</p>" * 20))
    cache.save()
    path = tmp_path / "bodies-s-a.bin"
    data = path.read_bytes()
    at = data.index(b"one")
    path.write_bytes(data[:at] + b"ONE" + data[at + 3 :])
    again = ContentCache(tmp_path)
    again.load("s")
    with pytest.raises(BodyUnavailable):
        again.get("a1").body.html  # noqa: B018
    assert again.get("a2").body.html == "<p>two</p>" * 20
    again.put("b1", _value("b1", "<p>b</p>"))
    again._dirty.add("a")  # rewrite shard a from the old file: the damaged record is left out
    again.save()
    third = ContentCache(tmp_path)
    third.load("s")
    assert third.get("a1") is None and third.get("a2").body.html == "<p>two</p>" * 20


def test_lazy_body_equals_and_pickles_as_the_whole_body() -> None:
    whole = Rendered("<p>x</p>", "<p>s</p>", "<ul></ul>", 3, (), (("/a/", 2),))
    lazy = Rendered(None, "<p>s</p>", None, 3, (), (("/a/", 2),)).lazy(lambda: ("<p>x</p>", "<ul></ul>"))
    copied = pickle.loads(pickle.dumps(lazy))  # e.g. to a worker process: no loader travels
    assert copied == whole and copied.loaded and copied.html == "<p>x</p>"
    assert lazy == whole and hash(lazy) == hash(whole)
    with pytest.raises(AttributeError):
        whole.words = 4  # type: ignore[misc]
    other = Rendered(None, "<p>s</p>", None, 3, (), ()).lazy(lambda: ("<p>y</p>", ""))
    assert other != whole


def test_serve_keeps_lazy_bodies_across_rebuilds_and_saves(tmp_path: Path) -> None:
    root, options = _built(tmp_path, 20)
    serve = BuildOptions(root, tmp_path / "preview", now=NOW, serve=True)
    builder = Builder()
    builder.build(serve)
    for i in range(3):
        _edit(root, f"post-00{i}.md", f"More text {i}.", f"Edited {i}.")
        builder.build(serve)
        Builder().build(options)  # another process rewrites the shards meanwhile
        assert output_files(serve.output) == _fresh_serve(root, tmp_path / "fresh-serve")
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")


def _fresh_serve(root: Path, out: Path) -> dict[str, bytes]:
    shutil.rmtree(out, ignore_errors=True)
    Builder().build(BuildOptions(root, out, now=NOW, cache=False, serve=True))
    return output_files(out)


def _value(key: str, html: str) -> object:
    """A post-like value: what the cache needs of one is its ``body`` and ``source``."""
    return _Item(f"content/posts/{key}.md", Rendered(html, "<p>s</p>", f"<ul>{key}</ul>", 1, (), ()))


class _Item:
    """Picklable post-like value (a module-level class)."""

    def __init__(self, source: str, body: Rendered) -> None:
        self.source = source
        self.body = body

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Item) and (self.source, self.body) == (other.source, other.body)


def _inode(path: Path) -> int:
    return os.stat(path).st_ino


def test_an_edit_appends_to_the_body_file_and_every_body_reads_back(tmp_path: Path) -> None:
    root, options = _built(tmp_path)
    before = {path.name: (_inode(path), path.stat().st_size) for path in _bodyoutput_files(root)}
    _edit(root, "post-007.md", "More text 7.", "A different body for seven, longer than before.")
    Builder().build(options)
    after = {path.name: (_inode(path), path.stat().st_size) for path in _bodyoutput_files(root)}
    grown = [name for name in after if after[name][1] > before[name][1]]
    assert len(grown) == 1  # the new body went to the end of its shard's file...
    assert after[grown[0]][0] == before[grown[0]][0]  # ... which was not replaced
    assert output_files(options.output) == _fresh(root, tmp_path / "fresh")
    _assert_every_body_intact(root, options)  # old records where they were, the new one where the index says


def test_a_body_file_mostly_replaced_is_written_whole_again(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    cache.load("s")
    for i in range(4):
        cache.put(f"a{i}", _value(f"a{i}", f"<p>first {i}</p>" * 20))
    cache.save()
    body_file = next(tmp_path.glob("bodies-*-a.bin"))
    first_inode, first_size = _inode(body_file), body_file.stat().st_size
    edits = ContentCache(tmp_path)
    edits.load("s")
    edits.put("a0", _value("a0", "<p>second</p>" * 20))  # one of four: appended
    edits.save()
    assert _inode(body_file) == first_inode and body_file.stat().st_size > first_size
    more = ContentCache(tmp_path)
    more.load("s")
    for i in range(1, 4):  # most of the file now replaced: compacted into a new file
        more.put(f"a{i}", _value(f"a{i}", "<p>third</p>" * 20))
    more.save()
    assert _inode(body_file) != first_inode and body_file.stat().st_size < first_size * 2
    reader = ContentCache(tmp_path)
    reader.load("s")
    assert reader.entries["a0"].body.html == "<p>second</p>" * 20
    assert all(reader.entries[f"a{i}"].body.html == "<p>third</p>" * 20 for i in range(1, 4))


def test_no_append_to_a_body_file_another_build_replaced(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    cache.load("s")
    for i in range(4):
        cache.put(f"a{i}", _value(f"a{i}", f"<p>first {i}</p>" * 20))
    cache.save()
    slow, fast = ContentCache(tmp_path), ContentCache(tmp_path)
    slow.load("s")
    fast.load("s")
    fast.keep_only({"a0"})  # a smaller shard: written whole, to a new file with a new token
    fast.save()
    slow.put("a9", _value("a9", "<p>late</p>"))  # appending would go to the replaced file
    slow.save()
    reader = ContentCache(tmp_path)
    reader.load("s")
    reader.fallback = None
    assert reader.entries["a9"].body.html == "<p>late</p>"
    assert [reader.entries[f"a{i}"].body.html for i in range(4)] == [f"<p>first {i}</p>" * 20 for i in range(4)]
