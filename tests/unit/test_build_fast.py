"""``build``'s fast pass: the plan saved in the cache folder lets a new process render only the
pages made from the edited posts (builder/plan.py, Renderer._fast_pages_stored).

Every build here runs in a new Builder (as a new ``netjournal build`` process would) and is
compared byte for byte with a build that trusts no cache: a page reused when it should have
been rendered again shows up as a difference.
"""

from __future__ import annotations

import gc
import pickle
from pathlib import Path

import pytest
from conftest import (
    JOURNAL_CONFIG,
    NOW,
    journal_post,
    journal_site,
    output_files,
)

from builder import forked, parrender
from builder import outfiles as outfiles_module
from builder import render as render_module
from builder.build import Builder, BuildOptions, _plan_path
from builder.cache import prune
from builder.nogc import paused_gc
from builder.outfiles import OutputFiles
from builder.pagecache import KnownBytes, PageMemo
from builder.plan import StoredPlan
from builder.write import present_files

_post, _site = journal_post, journal_site  # (tests/conftest.py)


@pytest.fixture
def fast_passes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each build took the stored fast pass (one entry per build that had a stored plan)."""
    taken: list[bool] = []
    real = render_module.Renderer._fast_pages_stored

    def spy(self: render_module.Renderer, old: StoredPlan, plan: object) -> object:
        found = real(self, old, plan)  # type: ignore[arg-type]
        taken.append(found is not None)
        return found

    monkeypatch.setattr(render_module.Renderer, "_fast_pages_stored", spy)
    return taken


class Builds:
    """Successive ``build`` runs, each in a new Builder, each checked against a fresh build."""

    def __init__(self, root: Path, tmp_path: Path) -> None:
        self.root, self.tmp, self.rounds = root, tmp_path, 0
        self.out = tmp_path / "out"
        self.build()

    def options(self, out: Path, **extra: object) -> BuildOptions:
        return BuildOptions(self.root, out, now=NOW, drafts=True, **extra)  # type: ignore[arg-type]

    def build(self) -> None:
        Builder().build(self.options(self.out))

    def edit(self, name: str, text: str | None) -> None:
        target = self.root / "content/posts" / name
        if text is None:
            target.unlink()
        else:
            target.write_text(text, encoding="utf-8")
        self.build()
        self.check()

    def check(self) -> None:
        self.rounds += 1
        fresh = self.tmp / f"fresh{self.rounds}"
        Builder().build(self.options(fresh, cache=False))
        assert output_files(self.out) == output_files(fresh)


def test_text_edits_in_new_processes_take_the_fast_pass_and_match_a_fresh_build(
    tmp_path: Path, fast_passes: list[bool]
) -> None:
    builds = Builds(_site(tmp_path), tmp_path)
    assert fast_passes == []  # the first build had no plan to start from
    builds.edit("post-005.md", _post(5, body="A new body, with *emphasis*."))
    builds.edit("post-005.md", _post(5, title="Fifth, renamed"))
    builds.edit("post-007.md", _post(7, description="Now with a description."))
    builds.edit("post-001.md", _post(1, title="First of the year, renamed"))  # newest: feeds, page 1
    assert fast_passes == [True, True, True, True]
    assert b"Fifth, renamed" in (builds.out / "archive/index.html").read_bytes()
    tag_pages = [p.read_bytes() for p in (builds.out / "tags").rglob("index.html")]
    assert sum(b"Fifth, renamed" in page for page in tag_pages) == 2  # a page of each of its two tags


def test_shape_changes_fall_back_to_the_full_pass_and_match_a_fresh_build(
    tmp_path: Path, fast_passes: list[bool]
) -> None:
    builds = Builds(_site(tmp_path), tmp_path)
    builds.edit("post-005.md", _post(5, date="2021-03-04"))  # date: order, archive, sitemap
    builds.edit("post-006.md", _post(6, tags=["alpha", "epsilon"]))  # a tag: members, related
    builds.edit("post-008.md", _post(8, draft=True))  # draft flag: shown as unpublished
    builds.edit("post-008.md", _post(8, updated="2020-12-01"))  # updated: sitemap and feeds
    builds.edit("post-100.md", _post(100))  # a new post
    builds.edit("post-002.md", None)  # a deleted post
    builds.edit("post-005.md", _post(5, slug="moved"))  # a new URL
    assert fast_passes == [False] * 7
    builds.edit("post-009.md", _post(9, body="Fresh text."))  # and back to fast edits
    builds.edit("post-009.md", _post(9, title="Ninth"))
    assert fast_passes[-2:] == [True, True]


def test_network_posts_and_site_wide_changes(tmp_path: Path, fast_passes: list[bool]) -> None:
    root = _site(tmp_path, network=True)
    builds = Builds(root, tmp_path)
    builds.edit("post-000.md", _post(0, round=1, body="New words, same round."))  # the network lists no bodies
    builds.edit("post-010.md", _post(10, body="Not about the network."))
    assert fast_passes == [True, True]
    builds.edit("post-000.md", _post(0, round=1, title="The round's post, renamed"))  # the network lists titles
    builds.edit("post-000.md", _post(0, round=2))  # another round
    builds.edit("post-004.md", _post(4, body="Look:\n\n::: network round=1\n"))  # an embed
    assert fast_passes[-3:] == [False, False, False]
    (root / "site.yaml").write_text(JOURNAL_CONFIG.replace("paginate: 3", "paginate: 4"), encoding="utf-8")
    builds.build()  # a site-wide input: the plan's base differs
    builds.check()
    assert fast_passes[-1] is False


def test_a_page_deleted_from_the_output_is_written_again(tmp_path: Path, fast_passes: list[bool]) -> None:
    builds = Builds(_site(tmp_path), tmp_path)
    post_pages = sorted((builds.out / "posts").glob("*/index.html"))
    post_pages[12].unlink()
    builds.edit("post-003.md", _post(3, body="Edited."))  # (check(): the same files as a fresh build)
    assert fast_passes == [True]
    assert post_pages[12].is_file()


def test_a_damaged_or_stale_plan_is_never_trusted_blindly(tmp_path: Path, fast_passes: list[bool]) -> None:
    root = _site(tmp_path)
    builds = Builds(root, tmp_path)
    plan_file = _plan_path(root / ".netjournal-cache", builds.out)
    first = plan_file.read_bytes()
    builds.edit("post-004.md", _post(4, title="Fourth, once"))
    builds.edit("post-010.md", _post(10, body="Tenth, edited."))
    plan_file.write_bytes(first)  # the plan of two builds ago: posts 4 and 10 differ from it
    builds.edit("post-004.md", _post(4, title="Fourth, twice"))
    plan_file.write_bytes(b"not a pickle")
    builds.edit("post-004.md", _post(4, title="Fourth, three times"))
    assert fast_passes == [True, True, True]  # the damaged plan was not offered at all
    assert isinstance(pickle.loads(plan_file.read_bytes()), StoredPlan)  # and was replaced


def _templates_keyed(monkeypatch: pytest.MonkeyPatch, method: str) -> list[str]:
    """The template of every page (or part) ``PageMemo.<method>`` computes a key for, in order."""
    keyed: list[str] = []
    real = getattr(PageMemo, method)

    def counting(self: PageMemo, template: str, *args: object) -> object:
        keyed.append(template)
        return real(self, template, *args)

    monkeypatch.setattr(PageMemo, method, counting)
    return keyed


def test_keys_are_computed_only_for_pages_of_the_edited_post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = Builds(_site(tmp_path), tmp_path)
    real = PageMemo.key_of_items
    keyed = _templates_keyed(monkeypatch, "key_of_items")
    (builds.root / "content/posts/post-011.md").write_text(_post(11, title="Eleventh"), encoding="utf-8")
    builds.build()
    monkeypatch.setattr(PageMemo, "key_of_items", real)
    builds.check()
    listed = [t for t in keyed if t in ("post.html", "index.html", "tag.html", "feed.xml")]
    # the post, its neighbours, posts listing it as related, its listings and feeds: not 40-odd pages
    assert 0 < len(listed) < 20
    assert listed.count("post.html") <= 6


def test_the_plan_is_not_written_by_serve_or_without_a_cache(tmp_path: Path) -> None:
    root = _site(tmp_path)
    Builder().build(BuildOptions(root, tmp_path / "a", now=NOW, serve=True))
    Builder().build(BuildOptions(root, tmp_path / "b", now=NOW, cache=False))
    assert not list((root / ".netjournal-cache").glob("*-plan.pickle"))
    Builder().build(BuildOptions(root, tmp_path / "c", now=NOW))
    assert len(list((root / ".netjournal-cache").glob("*-plan.pickle"))) == 1


# --- what the fast pass needed elsewhere ----------------------------------------------------------


def test_pages_held_in_memory_travel_from_a_rendering_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build over an existing output (here: after a template change) that forks keeps some pages
    in memory in the child; they come back pickled, with their digests."""
    data = KnownBytes(b"<p>page</p>", "abc123")
    back = pickle.loads(pickle.dumps(data))
    assert back == data and back.known_digest == "abc123"
    monkeypatch.setattr(parrender, "PROBE", 2)
    monkeypatch.setattr(parrender, "MIN_POSTS", 1)
    root = _site(tmp_path)
    out = tmp_path / "out"
    Builder().build(BuildOptions(root, out, now=NOW, jobs=2))
    templates = root / "templates"
    templates.mkdir()
    base = (render_module.BUILTIN_THEMES / "default/templates/base.html").read_text(encoding="utf-8")
    (templates / "base.html").write_text(base.replace("</footer>", "<p>changed</p></footer>"), encoding="utf-8")
    adopted: list[str] = []
    real = OutputFiles.adopt

    def counting(self: OutputFiles, path: str, *args: object) -> None:
        adopted.append(path)
        real(self, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(OutputFiles, "adopt", counting)
    Builder().build(BuildOptions(root, out, now=NOW, jobs=2))
    assert adopted  # the child rendered some of the pages
    fresh = tmp_path / "fresh"
    Builder().build(BuildOptions(root, fresh, now=NOW, cache=False, jobs=1))
    assert output_files(out) == output_files(fresh)
    assert b"<p>changed</p>" in (out / "index.html").read_bytes()


def test_the_stat_pass_run_ahead_in_a_child_finds_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outfiles_module, "AHEAD_FROM", 1)
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    for name in ("index.html", "a/index.html", "a/feed.xml"):
        (out / name).write_text(name, encoding="utf-8")
    manifest = {"index.html": "1", "a/index.html": "2", "a/feed.xml": "3", "gone/index.html": "4"}
    sink = OutputFiles(out, manifest)
    sink.check_ahead()
    assert sink._ahead is not None  # the child was started
    assert sink.present() == present_files(str(out), manifest) == {"index.html", "a/index.html", "a/feed.xml"}
    assert sink._ahead is None
    failing = OutputFiles(out, manifest)
    monkeypatch.setattr(forked.pickle, "dump", _boom)  # the child fails to answer
    failing.check_ahead()
    assert failing.present() == present_files(str(out), manifest)  # stat here instead
    unasked = OutputFiles(out, manifest)
    unasked.check_ahead()
    unasked.discard()  # a build that failed early still reaps the child
    assert unasked._ahead is None


def _boom(*_args: object, **_kwargs: object) -> None:
    raise OSError("no answer")


def test_loaded_caches_are_frozen_during_a_build_and_released_after(tmp_path: Path) -> None:
    with paused_gc(freeze=True):
        kept = [object() for _ in range(10)]
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    assert kept
    root = _site(tmp_path)
    Builder().build(BuildOptions(root, tmp_path / "out", now=NOW))
    Builder().build(BuildOptions(root, tmp_path / "out", now=NOW))
    assert gc.get_freeze_count() == 0  # nothing a build loaded stays out of the collector's reach
    assert gc.isenabled()


def test_prune_keeps_every_file_of_the_newest_outputs(tmp_path: Path) -> None:
    import os

    for age, output in enumerate("abcdefghij"):
        ident = output * 16
        for suffix in (".pickle", "-blocks.pickle", "-plan.pickle"):
            path = tmp_path / f"pages-{ident}{suffix}"
            path.write_bytes(b"x")
            os.utime(path, (1_000_000 - age * 10, 1_000_000 - age * 10))
    prune(tmp_path, keep=3)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(f"pages-{o * 16}{s}" for o in "abc" for s in (".pickle", "-blocks.pickle", "-plan.pickle"))


def test_archive_months_untouched_by_the_edit_keep_their_stored_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = Builds(_site(tmp_path), tmp_path)
    keyed = _templates_keyed(monkeypatch, "items_key")
    builds.edit("post-013.md", _post(13, title="Thirteenth, renamed"))  # one month of the archive
    # the fresh build of check() keys every month (10 here); the fast build only the edited one
    assert keyed.count("partials/archive_month.html") == 10 + 1
    assert b"Thirteenth, renamed" in (builds.out / "archive/index.html").read_bytes()


def test_reused_pages_handed_over_at_once_keep_the_duplicate_check(tmp_path: Path) -> None:
    from builder.errors import SiteError
    from builder.render import KeptPages

    class Pages:
        memo = None
        fast_pass = True
        renders = fresh = 0

        def __init__(self, items: list[object]) -> None:
            self.items = items

        def pages(self) -> object:
            return iter(self.items)

    out: dict[str, bytes] = {"static/app.css": b"css"}
    parrender.render_pages(Pages([("a.html", b"A"), KeptPages(["b.html", "c.html"], [b"B", b"C"])]), out, 1)
    assert list(out) == ["static/app.css", "a.html", "b.html", "c.html"] and out["c.html"] == b"C"
    for clash in (["d.html", "a.html"], ["d.html", "d.html"], ["static/app.css"]):
        target = {"static/app.css": b"css"}
        with pytest.raises(SiteError) as caught:
            parrender.render_pages(Pages([("a.html", b"A"), KeptPages(clash, [b"x"] * len(clash))]), target, 1)
        assert caught.value.path == ("static/app.css" if clash == ["static/app.css"] else clash[-1])


def test_reused_pages_equal_to_the_old_output_stay_unread(tmp_path: Path) -> None:
    from builder.write import digest

    out = tmp_path / "out"
    out.mkdir()
    (out / "same.html").write_bytes(b"same")
    (out / "other.html").write_bytes(b"before")
    sink = OutputFiles(out, {"same.html": digest(b"same"), "other.html": digest(b"before")})
    sink.keep_unchanged(["same.html", "other.html"], [KnownBytes(b"same", digest(b"same")), b"after"])
    assert sink.digests() == {"same.html": digest(b"same"), "other.html": digest(b"after")}
    assert sink._memory == {"other.html": b"after"}  # only the changed page is held to be written


def test_static_files_are_read_again_when_they_change(tmp_path: Path) -> None:
    import os

    from builder import build as build_module

    css = tmp_path / "site.css"
    css.write_bytes(b"body { color: red }")
    old = css.stat().st_mtime_ns - 10_000_000_000  # saved a while ago: kept in memory
    os.utime(css, ns=(old, old))
    assert build_module._file_bytes(css) == b"body { color: red }"
    assert str(css) in build_module._FILES
    css.write_bytes(b"body { color: tan }")  # the same size, a new time
    assert build_module._file_bytes(css) == b"body { color: tan }"
    assert build_module._file_bytes(css) == b"body { color: tan }"  # (just saved: not kept, read each time)
