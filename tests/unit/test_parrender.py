"""Pages rendered across processes (builder/parrender.py): the same output, the same errors.

The thresholds are lowered so a small site forks; every test checks that the work really
was split (pages adopted from a child) before comparing with a build in one process.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from conftest import NOW, ROOT, make_site, numbered_posts, output_files

from builder import parrender
from builder.build import Builder, BuildOptions
from builder.errors import SiteError
from builder.outfiles import OutputFiles
from builder.pagecache import PageMemo

ROUNDS = ROOT / "tests" / "fixtures" / "rounds" / "basic" / "data"


def _site(tmp_path: Path, n: int = 40, files: dict[str, str] | None = None) -> Path:
    posts = numbered_posts(
        n,
        body=lambda i: f"Body of post {i}.\n\n```python\nprint({i})\n```\n",
        date=lambda i: f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}",
        tags=("alpha", "beta", "gamma", "delta"),
    )
    root = make_site(tmp_path, {**posts, **(files or {})})
    shutil.copytree(ROUNDS, root / "data")
    return root


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Fork after two pages on any site; counts the pages the parent adopted from children."""
    monkeypatch.setattr(parrender, "PROBE", 2)
    monkeypatch.setattr(parrender, "MIN_POSTS", 1)
    adopted = {"n": 0}
    real = OutputFiles.adopt

    def counting(self: OutputFiles, *args: object) -> None:
        adopted["n"] += 1
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(OutputFiles, "adopt", counting)
    return adopted


def _build(root: Path, out: Path, jobs: int, cache: bool = False) -> object:
    return Builder().build(BuildOptions(root, out, now=NOW, cache=cache, jobs=jobs))


def test_two_processes_write_the_same_site_as_one(tmp_path: Path, forking: dict[str, int]) -> None:
    root = _site(tmp_path)
    _build(root, tmp_path / "one", jobs=1)
    assert forking["n"] == 0
    _build(root, tmp_path / "two", jobs=2)
    one, two = output_files(tmp_path / "one"), output_files(tmp_path / "two")
    pages = [p for p in one if p.endswith((".html", ".xml"))]
    assert forking["n"] > len(pages) // 4  # a good share of the pages came from the child
    assert one.keys() == two.keys()
    assert [p for p in one if one[p] != two[p]] == []
    assert not list(tmp_path.glob(".two.new-*"))  # the one staging folder was swapped in


def test_the_page_cache_learns_the_pages_children_rendered(tmp_path: Path, forking: dict[str, int]) -> None:
    """After a split cold build, a one-edit build rewrites what it would after a build in one process."""
    written, rendered = {}, {}
    for jobs in (1, 2):
        root = _site(tmp_path / f"j{jobs}")
        out = tmp_path / f"out{jobs}"
        _build(root, out, jobs=jobs, cache=True)
        post = root / "content/posts/post-017.md"
        post.write_text(post.read_text().replace("Body of post 17.", "Body of post 17, edited."))
        builder = Builder()
        written[jobs] = builder.build(BuildOptions(root, out, now=NOW, jobs=1)).written
        assert builder._memo is not None
        rendered[jobs] = builder._memo.misses
    assert forking["n"] > 20
    assert written[2] == written[1]
    assert 0 < len(written[1]) < 10  # the post, and the listings and feeds that show its summary
    assert rendered[2] == rendered[1] < 20  # the children's pages were not rendered again


def _failing_site(tmp_path: Path, title: str) -> Path:
    """A theme override whose post page fails for one post, naming it in the error."""
    template = (ROOT / "themes/default/templates/post.html").read_text()
    broken = template.replace(
        "{% block content %}",
        '{% block content %}{% if post.title == "' + title + '" %}{{ post[post.title] }}{% endif %}',
        1,
    )
    assert broken != template
    return _site(tmp_path, files={"templates/post.html": broken})


def test_a_failing_page_gives_the_error_one_process_gives(
    tmp_path: Path, forking: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from_children = {"n": 0}
    real = parrender._rebuild_error

    def counting(info: tuple[object, ...]) -> BaseException:
        from_children["n"] += 1
        return real(info)

    monkeypatch.setattr(parrender, "_rebuild_error", counting)
    for number in (21, 22, 23, 24, 25, 26, 27, 28):  # consecutive pages: some fall to the child
        title = f"Post number {number}"
        root = _failing_site(tmp_path / str(number), title)
        errors = []
        for jobs in (1, 2):
            out = tmp_path / str(number) / f"out{jobs}"
            with pytest.raises(SiteError) as caught:
                _build(root, out, jobs=jobs)
            errors.append(str(caught.value))
            assert not out.exists()  # nothing half-written
            assert not list(out.parent.glob(f".out{jobs}.new-*"))  # the staging folder is removed
        assert errors[0] == errors[1]
        assert title in errors[0]
    assert from_children["n"] > 0  # at least one of those pages was a child's


def test_a_bug_in_a_child_is_raised_with_its_traceback(
    tmp_path: Path, forking: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.render import Renderer

    parent = os.getpid()
    real = Renderer._render

    def failing_in_children(self: Renderer, template: str, context: dict[str, object]) -> bytes:
        if os.getpid() != parent:
            raise ZeroDivisionError("only in the child")
        return real(self, template, context)

    monkeypatch.setattr(Renderer, "_render", failing_in_children)
    root = _site(tmp_path)
    with pytest.raises(RuntimeError, match="ZeroDivisionError: only in the child"):
        _build(root, tmp_path / "out", jobs=2)
    assert not (tmp_path / "out").exists()


def test_serve_and_threaded_processes_render_in_one_process() -> None:
    class FakeRenderer:
        memo: PageMemo | None = None

    renderer = FakeRenderer()
    assert parrender._fork_safe(renderer)
    renderer.memo = PageMemo(retain=True)  # serve keeps rendered pages between rebuilds
    assert not parrender._fork_safe(renderer)
    renderer.memo = PageMemo(retain=False)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert not parrender._fork_safe(renderer)  # forking a threaded process can deadlock the child
    finally:
        stop.set()
        worker.join()


def test_small_sites_and_warm_builds_do_not_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forks = {"n": 0}
    real = parrender._render_forked

    def counting(*args: object) -> None:
        forks["n"] += 1
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(parrender, "_render_forked", counting)
    monkeypatch.setattr(parrender, "PROBE", 2)
    root = _site(tmp_path)
    _build(root, tmp_path / "out", jobs=2, cache=True)
    assert forks["n"] == 0  # 40 posts: under MIN_POSTS
    monkeypatch.setattr(parrender, "MIN_POSTS", 1)
    post = root / "content/posts/post-003.md"
    post.write_text(post.read_text().replace("Body of post 3.", "Body of post 3, edited."))
    Builder().build(BuildOptions(root, tmp_path / "out", now=NOW, jobs=2))
    assert forks["n"] == 0  # most pages reused from the page cache: not worth a fork
    _build(root, tmp_path / "cold", jobs=2)
    assert forks["n"] == 1
