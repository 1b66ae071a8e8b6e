"""serve's fast rebuilds: pages reused from the last build's plan, months of the archive, own writes.

Every edit is followed by a build that trusts nothing (``cache=False``) with the same options:
a page reused when it should have been rendered again shows up as a difference in bytes.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import (
    NOW,
    journal_post,
    journal_site,
    output_files,
)

from builder import outfiles as outfiles_module
from builder import pagecache
from builder import render as render_module
from builder.build import Builder, BuildOptions
from builder.render import PagePlan, changed_posts

_post, _site = journal_post, journal_site  # (tests/conftest.py)


def _options(root: Path, out: Path, **extra: object) -> BuildOptions:
    return BuildOptions(root, out, now=NOW, serve=True, drafts=True, **extra)  # type: ignore[arg-type]


def _fresh(root: Path, out: Path) -> dict[str, bytes]:
    Builder().build(_options(root, out, cache=False))
    return output_files(out)


def _was_fast(builder: Builder) -> bool:
    memo = builder._memo
    assert memo is not None and isinstance(memo.plan, PagePlan)
    return memo.plan.fast


class Serve:
    """A serve session: one Builder, a build per edit, each checked against a fresh build."""

    def __init__(self, root: Path, tmp_path: Path) -> None:
        self.root, self.tmp, self.rounds = root, tmp_path, 0
        self.out = tmp_path / "out"
        self.builder = Builder()
        self.builder.build(_options(root, self.out))

    def save(self, name: str, text: str | None) -> bool:
        """Write (or delete, for None) a post and rebuild; returns whether the fast pass ran."""
        target = self.root / "content/posts" / name
        if text is None:
            target.unlink()
        else:
            target.write_text(text, encoding="utf-8")
        self.builder.build(_options(self.root, self.out), changed=[target])
        return _was_fast(self.builder)

    def check(self) -> None:
        self.rounds += 1
        assert output_files(self.out) == _fresh(self.root, self.tmp / f"fresh{self.rounds}")

    def edit(self, name: str, text: str | None) -> bool:
        """``save``, then compare the output with a fresh build's."""
        fast = self.save(name, text)
        self.check()
        return fast


def test_text_edits_take_the_fast_pass_and_match_a_fresh_build(tmp_path: Path) -> None:
    serve = Serve(_site(tmp_path), tmp_path)
    assert serve.edit("post-005.md", _post(5, body="A new body, with *emphasis*.")) is True
    assert serve.edit("post-005.md", _post(5, title="Fifth, renamed")) is True
    assert serve.edit("post-007.md", _post(7, description="Now with a description.")) is True
    assert serve.edit("post-001.md", _post(1, title="First of the year, renamed")) is True  # newest: feeds, page 1
    assert b"Fifth, renamed" in (serve.out / "archive/index.html").read_bytes()


def test_shape_changes_fall_back_to_the_full_pass_and_match_a_fresh_build(tmp_path: Path) -> None:
    serve = Serve(_site(tmp_path), tmp_path)
    assert serve.edit("post-005.md", _post(5, date="2021-03-04")) is False  # date: order, archive, sitemap
    assert serve.edit("post-006.md", _post(6, tags=["alpha", "epsilon"])) is False  # a tag: members, related
    assert serve.edit("post-008.md", _post(8, draft=True)) is False  # draft flag: shown as unpublished
    assert serve.edit("post-008.md", _post(8, updated="2020-12-01")) is False  # updated: sitemap and feeds
    assert serve.edit("post-100.md", _post(100)) is False  # a new post
    assert serve.edit("post-002.md", None) is False  # a deleted post
    assert serve.edit("post-005.md", _post(5, slug="moved")) is False  # a new URL
    assert serve.edit("post-009.md", _post(9, body="Fresh text.")) is True  # and back to fast edits
    assert serve.edit("post-009.md", _post(9, title="Ninth")) is True


def test_edits_of_related_posts_and_of_several_posts_at_once(tmp_path: Path) -> None:
    root = _site(tmp_path)
    serve = Serve(root, tmp_path)
    site = serve.builder.last_site
    assert site is not None
    named = sorted({p.source for rel in site.related.values() for p in rel})
    assert named  # a post other posts list as related
    target = Path(named[0]).name
    number = int(target.removeprefix("post-").removesuffix(".md"))
    assert serve.edit(target, _post(number, title="Listed as related, renamed")) is True
    pages = [
        p for p, data in output_files(serve.out).items() if p.startswith("posts/") and b"Listed as related" in data
    ]
    assert len(pages) >= 3  # its own page, a neighbour, a post listing it as related
    for i in (3, 11):
        (root / f"content/posts/post-{i:03d}.md").write_text(_post(i, title=f"Both {i}"), encoding="utf-8")
    changed = [root / "content/posts/post-003.md", root / "content/posts/post-011.md"]
    serve.builder.build(_options(root, serve.out), changed=changed)
    assert _was_fast(serve.builder)
    assert output_files(serve.out) == _fresh(root, tmp_path / "fresh-both")


def test_network_posts_and_embeds_change_the_shape(tmp_path: Path) -> None:
    serve = Serve(_site(tmp_path, network=True), tmp_path)
    assert serve.edit("post-000.md", _post(0, title="Round post, renamed", round=1)) is False  # network lists titles
    assert serve.edit("post-004.md", _post(4, body="Look:\n\n::: network round=1\n")) is False
    assert serve.edit("post-004.md", _post(4, body="No diagram any more.")) is False
    assert serve.edit("post-010.md", _post(10, body="Not about the network.")) is True


def test_a_fast_rebuild_computes_keys_only_for_pages_made_from_the_edited_post(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _site(tmp_path, n=40)
    serve = Serve(root, tmp_path)
    keyed: list[str] = []
    real = pagecache.PageMemo.key_of_items

    def spy(self: pagecache.PageMemo, template: str, items: object, extra: str = "") -> str | None:
        keyed.append(template)
        return real(self, template, items, extra)  # type: ignore[arg-type]

    monkeypatch.setattr(pagecache.PageMemo, "key_of_items", spy)
    assert serve.save("post-020.md", _post(20, title="Twentieth, renamed")) is True
    ours = list(keyed)  # (the fresh build below computes every key)
    serve.check()
    listing = [
        p for p, d in output_files(serve.out).items() if b"post-020/" in d and not p.startswith(("archive", "site"))
    ]
    # its own page, neighbours, related, one home page, its tags' pages and feeds: not the 40+ others
    assert ours.count("post.html") <= 1 + 2 + 2 * 2
    assert len(ours) - ours.count("archive.html") <= len(listing)
    assert len(ours) < 20


def test_unpublished_flags_changing_with_time_are_a_shape_change() -> None:
    dates = [NOW + timedelta(hours=1), NOW - timedelta(days=1)]  # one post in the future
    first = make_plan(NOW, dates)
    assert changed_posts(first, make_plan(NOW, dates, like=first)) == []
    assert changed_posts(first, make_plan(NOW + timedelta(minutes=30), dates, like=first)) == []  # none went live
    assert changed_posts(first, make_plan(NOW + timedelta(days=1), dates, like=first)) is None  # it went live
    assert changed_posts(first, make_plan(None, dates, like=first)) is None


def make_plan(now: object, dates: list[object], like: PagePlan | None = None) -> PagePlan:
    """A plan of posts with these dates (the same post objects as ``like``'s when given)."""
    from builder.model import Post, Rendered

    if like is not None:
        posts = like.posts
    else:
        body = Rendered("", "", "", 1, (), ())
        posts = tuple(
            Post(f"p{i}.md", f"p{i}", f"P{i}", d, None, (), False, body, {})  # type: ignore[arg-type]
            for i, d in enumerate(dates)
        )
    return PagePlan("base", posts, (), {}, {}, None, now)  # type: ignore[arg-type]


def _archive_months_rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The archive months rendered from now on, as "year-month" (the partial is still rendered)."""
    rendered: list[str] = []
    real = render_module.jinja2.Template.render

    def spy(self: object, *args: object, **kwargs: object) -> str:
        if getattr(self, "name", "") == "partials/archive_month.html":
            rendered.append(f"{kwargs['year']}-{kwargs['month']}")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render_module.jinja2.Template, "render", spy)
    return rendered


def test_month_blocks_of_the_archive_are_rendered_again_only_where_a_post_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve = Serve(_site(tmp_path), tmp_path)
    rendered = _archive_months_rendered(monkeypatch)
    serve.save("post-005.md", _post(5, title="Fifth, renamed"))
    assert rendered == ["2020-1"]  # post 5: January 2020
    serve.check()  # (a fresh build renders every month)


def test_a_theme_archive_that_loops_over_years_itself_still_works(tmp_path: Path) -> None:
    root = _site(tmp_path)
    template = (
        '{% extends "base.html" %}{% block content %}{% for year, months in years %}<h2>{{ year }}</h2>'
        "{% for month, posts in months %}{% for post in posts %}<p class=row>{{ post.title }}</p>"
        "{% endfor %}{% endfor %}"
        "{% endfor %}{% endblock %}"
    )
    (root / "templates").mkdir()
    (root / "templates/archive.html").write_text(template, encoding="utf-8")
    serve = Serve(root, tmp_path)
    assert serve.edit("post-005.md", _post(5, title="Fifth, renamed")) is True
    page = (serve.out / "archive/index.html").read_text(encoding="utf-8")
    assert "<h2>2020</h2>" in page and "<p class=row>Fifth, renamed</p>" in page and page.count("<p class=row>") == 24


def test_serve_trusts_its_own_writes_but_notices_a_replaced_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _site(tmp_path)
    serve = Serve(root, tmp_path)
    stats: list[int] = []
    real = outfiles_module.present_files

    def counting(folder: str, paths: object) -> set[str]:
        stats.append(1)
        return real(folder, paths)  # type: ignore[arg-type]

    monkeypatch.setattr(outfiles_module, "present_files", counting)
    serve.save("post-005.md", _post(5, title="Fifth"))
    assert stats == []  # no stat per output file
    serve.check()
    copy = tmp_path / "copy"
    shutil.copytree(serve.out, copy)
    (copy / "posts/post-012/index.html").unlink()  # a page lost while the folder was replaced
    shutil.rmtree(serve.out)
    copy.rename(serve.out)
    stats.clear()
    serve.save("post-005.md", _post(5, title="Fifth, again"))
    assert stats == [1]  # another folder: every file checked, the missing page written again
    assert (serve.out / "posts/post-012/index.html").is_file()
    shutil.rmtree(serve.out)  # deleted by hand: written again whole
    serve.edit("post-005.md", _post(5, title="Fifth, once more"))
    assert (serve.out / "posts/post-012/index.html").is_file()


def test_build_still_checks_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _site(tmp_path)
    out = tmp_path / "out"
    builder = Builder()
    builder.build(BuildOptions(root, out, now=NOW))
    (out / "posts/post-012/index.html").unlink()
    target = root / "content/posts/post-005.md"
    target.write_text(_post(5, title="Fifth"), encoding="utf-8")
    builder.build(BuildOptions(root, out, now=NOW))  # the same process: still one stat per file
    assert (out / "posts/post-012/index.html").is_file()


def test_build_in_a_new_process_renders_only_the_archive_month_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _site(tmp_path)
    out = tmp_path / "out"
    Builder().build(BuildOptions(root, out, now=NOW))
    rendered = _archive_months_rendered(monkeypatch)
    (root / "content/posts/post-005.md").write_text(_post(5, title="Fifth, renamed"), encoding="utf-8")
    Builder().build(BuildOptions(root, out, now=NOW))  # a new Builder: the months come from the cache folder
    assert rendered == ["2020-1"]
    (root / "content/posts/post-006.md").write_text(_post(6, title="Sixth, renamed"), encoding="utf-8")
    rendered.clear()
    Builder().build(BuildOptions(root, out, now=NOW))
    assert rendered == ["2019-2"]
    monkeypatch.undo()
    fresh = tmp_path / "fresh"
    Builder().build(BuildOptions(root, fresh, now=NOW, cache=False))
    assert output_files(out) == output_files(fresh)


# --- which posts changed: the watcher's paths instead of a walk ------------------------------------


def _count(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_edits_of_known_posts_are_read_without_walking_the_posts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder import build as build_module
    from builder import sources as sources_module

    serve = Serve(_site(tmp_path), tmp_path)
    walks = _count(monkeypatch, sources_module, "scan_posts")
    listings = _count(monkeypatch, build_module, "read_sources")

    def save(name: str, text: str | None) -> tuple[int, int]:
        """(listings read, walks) of the serve build; then its output is checked."""
        listings.clear()
        walks.clear()
        serve.save(name, text)
        counts = (len(listings), len(walks))
        serve.check()
        return counts

    assert save("post-005.md", _post(5, body="Edited, known post.")) == (0, 0)
    assert save("post-006.md", _post(6, title="Sixth, renamed")) == (0, 0)
    assert save("post-200.md", _post(200)) == (1, 0)  # a new post: the last listing, with it added
    assert save("post-007.md", None) == (1, 0)  # a deleted one


def test_a_folder_of_posts_moved_in_is_walked(tmp_path: Path) -> None:
    root = _site(tmp_path)
    serve = Serve(root, tmp_path)
    staging = tmp_path / "elsewhere"
    staging.mkdir()
    for i in (300, 301):
        (staging / f"post-{i}.md").write_text(_post(i), encoding="utf-8")
    folder = root / "content/posts/moved-in"
    staging.rename(folder)  # one event, for the folder
    serve.builder.build(_options(root, serve.out), changed=[folder])
    serve.check()
    assert b"Post number 301" in (serve.out / "archive/index.html").read_bytes()
    shutil.rmtree(folder)  # and moved out again: one event for the folder
    serve.builder.build(_options(root, serve.out), changed=[folder])
    serve.check()


def test_an_edit_the_watcher_missed_is_found_by_a_walk(tmp_path: Path) -> None:
    root = _site(tmp_path)
    serve = Serve(root, tmp_path)
    assert serve.builder.unseen_changes(root) == []
    missed = root / "content/posts/post-009.md"
    missed.write_text(_post(9, title="Changed behind the watcher's back"), encoding="utf-8")
    serve.save("post-010.md", _post(10, body="The edit it did see."))
    assert b"behind the watcher" not in (serve.out / "archive/index.html").read_bytes()  # trusted the watcher
    assert serve.builder.unseen_changes(root) == [missed]
    serve.builder.build(_options(root, serve.out), changed=[missed])
    serve.check()
    assert serve.builder.unseen_changes(root) == []


def test_serve_leaves_its_cache_files_for_when_it_is_idle(tmp_path: Path) -> None:
    root = _site(tmp_path)
    serve = Serve(root, tmp_path)
    serve.builder.flush()
    index = root / ".netjournal-cache/posts-index.pickle"
    before = index.stat().st_mtime_ns
    serve.save("post-003.md", _post(3, body="Edited while serving."))
    assert index.stat().st_mtime_ns == before  # not written while the author waits for the reload
    serve.builder.flush()
    assert index.stat().st_mtime_ns != before
    # a new process's build starts from what serve saved: only the edited post is read
    Builder().build(BuildOptions(root, tmp_path / "built", now=NOW, drafts=True))
