"""Page-cache keys: cheap for shared objects, yet any change a page could show changes its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import make_post, make_site

from builder.build import Builder, BuildOptions
from builder.pagecache import PageMemo


def _memo(identity: dict[int, str] | None = None) -> PageMemo:
    memo = PageMemo()
    known = identity or {}
    memo.start("base", lambda obj: known.get(id(obj)), lambda _post: False, False, None, {})
    return memo


def test_unpinned_dict_is_hashed_by_content() -> None:
    memo = _memo()
    payload: dict[str, Any] = {"nodes": [{"id": "n1", "x": 0.5}]}
    first = memo.key("round.html", {"diagram_payload": payload})
    payload["nodes"][0]["x"] = 0.25
    assert memo.key("round.html", {"diagram_payload": payload}) != first


def test_pinned_dict_stands_for_its_identity() -> None:
    memo = _memo()
    payload = {"nodes": [{"id": "n1"}]}
    unpinned = memo.key("round.html", {"diagram_payload": payload})
    memo.pin(payload, "payload:net:abc:2")
    pinned = memo.key("round.html", {"diagram_payload": payload})
    assert pinned != unpinned
    other = {"nodes": [{"id": "n1"}]}  # equal content, not pinned: hashed by content as before
    assert memo.key("round.html", {"diagram_payload": other}) == unpinned
    memo.pin(other, "payload:net:abc:3")
    assert memo.key("round.html", {"diagram_payload": other}) != pinned


def test_pins_and_post_fingerprints_last_one_build() -> None:
    memo = _memo()
    payload = {"a": 1}
    memo.pin(payload, "x")
    pinned = memo.key("t", {"p": payload})
    memo.start("base", lambda _obj: None, lambda _post: False, False, None, {})
    assert memo.key("t", {"p": payload}) != pinned


def test_post_listing_key_follows_the_posts_identity(tmp_path: Path) -> None:
    root = make_site(tmp_path, {"content/posts/a.md": make_post("A", "2020-01-01", "One.")})
    builder = Builder()
    posts = builder.parse_posts(*_sources(builder, root))
    identity = {id(posts[0]): "key-1"}
    memo = _memo(identity)
    first = memo.key("index.html", {"posts": [posts[0]], "post": posts[0]})
    identity[id(posts[0])] = "key-2"  # a new build where the same object stands for other inputs
    memo.start("base", lambda obj: identity.get(id(obj)), lambda _post: False, False, None, {})
    assert memo.key("index.html", {"posts": [posts[0]], "post": posts[0]}) != first
    memo.start("base", lambda _obj: None, lambda _post: False, False, None, {})
    assert memo.key("index.html", {"posts": [posts[0]]}) is None  # unknown post: render, never guess


def _sources(builder: Builder, root: Path) -> tuple[Any, Any, None, BuildOptions]:
    from builder.sources import read_sources

    sources = read_sources(root)
    options = BuildOptions(root, root.parent / "out", cache=False)
    return sources, builder.load_config(sources, options), None, options
