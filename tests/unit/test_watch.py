"""Change classification and debouncing for `serve` (no sockets, no threads but one)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from builder.watch import ChangeSet, Debouncer, classify, classify_path, is_editor_junk

SITE = Path("/site")


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("content/posts/2020-01-01-hello.md", "content"),
        ("content/pages/about.md", "content"),
        ("content/posts/img/photo.png", "content"),
        ("data/rounds/round-2.yaml", "data"),
        ("data/people.yaml", "data"),
        ("data/tags.yaml", "data"),
        ("templates/post.html", "template"),
        ("themes/default/templates/base.html", "template"),
        ("themes/default/templates/partials/nav.html", "template"),
        ("themes/default/static/css/site.css", "static_css"),
        ("themes/default/static/css/SITE.CSS", "static_css"),
        ("themes/default/static/js/network.js", "static_other"),
        ("static/favicon.ico", "static_other"),
        ("static/extra.css", "static_css"),
        ("themes/default/theme.yaml", "config"),
        ("site.yaml", "config"),
        ("README.md", "ignored"),
        ("pyproject.toml", "ignored"),
        ("builder/serve.py", "ignored"),
    ],
)
def test_classify_path_by_location(rel: str, kind: str) -> None:
    assert classify_path(SITE, SITE / rel) == kind


@pytest.mark.parametrize(
    "rel",
    [
        "content/posts/.hello.md.swp",
        "content/posts/.hello.md.swx",
        "content/posts/hello.md~",
        "content/posts/.#hello.md",
        "content/posts/#hello.md#",
        "content/posts/4913",
        "content/posts/hello.md.tmp",
        "data/people.yaml.bak",
        "content/posts/hello.md___jb_tmp___",
        "content/.git/index",
        "content/posts/.obsidian/workspace.json",
        "themes/default/.cache/x.css",
        ".git/HEAD",
        "content/.DS_Store",
    ],
)
def test_editor_junk_and_dot_dirs_are_ignored(rel: str) -> None:
    assert classify_path(SITE, SITE / rel) == "ignored"


def test_paths_outside_the_site_are_ignored() -> None:
    assert classify_path(SITE, Path("/elsewhere/content/posts/a.md")) == "ignored"
    assert classify_path(SITE, SITE) == "ignored"


def test_output_folder_is_ignored_even_inside_a_watched_folder() -> None:
    output = SITE / "content" / "_preview"
    assert classify_path(SITE, output / "index.html", output) == "ignored"
    assert classify_path(SITE, SITE / "content/posts/a.md", output) == "content"


def test_is_editor_junk_keeps_real_names() -> None:
    assert not is_editor_junk("2020-01-01-hello.md")
    assert not is_editor_junk("round-4913.yaml")
    assert is_editor_junk("4913")


def test_classify_groups_kinds_and_drops_ignored() -> None:
    changes = classify(
        SITE,
        [
            SITE / "content/posts/a.md",
            SITE / "content/posts/.a.md.swp",
            SITE / "data/people.yaml",
            SITE / "content/posts/a.md~",
        ],
    )
    assert changes.paths == {SITE / "content/posts/a.md", SITE / "data/people.yaml"}
    assert changes.kinds == {"content", "data"}
    assert not changes.css_only
    assert not changes.empty


def test_css_only_only_when_every_change_is_a_stylesheet() -> None:
    css = SITE / "themes/default/static/css/site.css"
    assert classify(SITE, [css, SITE / "content/.x.swp"]).css_only
    assert not classify(SITE, [css, SITE / "templates/base.html"]).css_only
    assert not classify(SITE, [css, SITE / "themes/default/static/js/a.js"]).css_only


def test_only_junk_is_an_empty_change_set() -> None:
    changes = classify(SITE, [SITE / "content/posts/.a.md.swp", SITE / "content/posts/4913"])
    assert changes == ChangeSet(frozenset(), frozenset())
    assert changes.empty
    assert not changes.css_only


def test_symlinked_site_folder_still_classifies(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "content/posts").mkdir(parents=True)
    post = real / "content/posts/a.md"
    post.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(real)
    # Watchers report real paths; the site may have been given through a symlink.
    assert classify_path(link, post) == "content"


class FakeClock:
    """A clock the test moves by hand, so debouncing is checked without sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_debouncer_waits_for_a_quiet_period() -> None:
    clock = FakeClock()
    deb = Debouncer(quiet=0.1, max_wait=1.0, clock=clock)
    assert deb.remaining() is None
    assert deb.take() is None
    deb.add([Path("a")])
    assert deb.remaining() == pytest.approx(0.1)
    clock.advance(0.05)
    assert deb.take() is None
    clock.advance(0.05)
    assert deb.take() == {Path("a")}
    assert deb.take() is None
    assert deb.remaining() is None


def test_a_burst_of_saves_is_one_batch() -> None:
    clock = FakeClock()
    deb = Debouncer(quiet=0.1, max_wait=1.0, clock=clock)
    for name in ["a.md", ".a.md.swp", "a.md~", "a.md", "b.md"]:
        deb.add([Path(name)])
        clock.advance(0.03)
        assert deb.take() is None  # each event restarts the quiet period
    clock.advance(0.07)
    assert deb.take() == {Path("a.md"), Path(".a.md.swp"), Path("a.md~"), Path("b.md")}


def test_max_wait_bounds_the_delay_under_a_constant_stream() -> None:
    clock = FakeClock()
    deb = Debouncer(quiet=0.1, max_wait=0.5, clock=clock)
    taken = None
    for _ in range(20):
        deb.add([Path("a")])
        clock.advance(0.06)
        taken = deb.take()
        if taken:
            break
    assert taken == {Path("a")}
    assert clock.now - 100.0 == pytest.approx(0.54)


def test_empty_add_schedules_nothing() -> None:
    deb = Debouncer(quiet=0.1, clock=FakeClock())
    deb.add([])
    assert deb.remaining() is None


def test_wait_returns_due_batch_and_honours_stop() -> None:
    deb = Debouncer(quiet=0.01, max_wait=0.2)
    stop = threading.Event()
    deb.add([Path("x")])
    assert deb.wait(stop, poll=0.05) == {Path("x")}
    stop.set()
    deb.add([Path("y")])
    assert deb.wait(stop) is None


def test_a_closed_write_fires_after_the_short_quiet_period() -> None:
    clock = FakeClock()
    deb = Debouncer(quiet=0.02, hold=0.1, max_wait=1.0, clock=clock)
    deb.add([Path("a.md")], finished=False)  # "modified": the editor is still writing
    assert deb.remaining() == pytest.approx(0.1)
    clock.advance(0.005)
    deb.add([Path("a.md")])  # "closed": the save is complete
    assert deb.remaining() == pytest.approx(0.02)
    clock.advance(0.019)
    assert deb.take() is None
    clock.advance(0.001)
    assert deb.take() == {Path("a.md")}
    assert deb.last_burst == (100.0, pytest.approx(100.005))


def test_a_write_never_seen_closed_waits_the_longer_hold() -> None:
    clock = FakeClock()
    deb = Debouncer(quiet=0.02, hold=0.1, max_wait=1.0, clock=clock)
    deb.add([Path("a.md")], finished=False)
    deb.add([Path("b.md")])  # b finished, a still open: the burst is not over
    clock.advance(0.05)
    assert deb.take() is None
    clock.advance(0.05)
    assert deb.take() == {Path("a.md"), Path("b.md")}


def test_a_file_deleted_or_renamed_away_while_written_does_not_hold_the_burst() -> None:
    clock = FakeClock()
    deb = Debouncer(quiet=0.02, hold=0.1, clock=clock)
    deb.add([Path("a.md.tmp")], finished=False)
    deb.forget_writing([Path("a.md.tmp")])  # renamed over a.md
    deb.add([Path("a.md.tmp"), Path("a.md")])
    clock.advance(0.02)
    assert deb.take() == {Path("a.md.tmp"), Path("a.md")}


def test_a_git_checkout_like_burst_is_one_batch() -> None:
    clock = FakeClock()
    deb = Debouncer(quiet=0.02, hold=0.1, max_wait=1.0, clock=clock)
    names = [Path(f"post-{i}.md") for i in range(200)]
    for name in names:  # each file written and closed, a millisecond apart
        deb.add([name], finished=False)
        deb.add([name])
        clock.advance(0.001)
        assert deb.take() is None
    clock.advance(0.02)
    assert deb.take() == set(names)


def test_hold_is_never_shorter_than_quiet() -> None:
    deb = Debouncer(quiet=0.15, hold=0.1)
    assert deb.hold == 0.15


def test_wait_with_idle_returns_when_nothing_is_pending_and_never_cuts_a_burst() -> None:
    import threading
    import time

    stop = threading.Event()
    deb = Debouncer(quiet=0.02)
    started = time.monotonic()
    assert deb.wait(stop, poll=0.5, idle=0.05) is None  # idle: back well before the 0.5 s poll
    assert time.monotonic() - started < 0.4
    deb.add([Path("a.md")])
    assert deb.wait(stop, idle=0.0) == {Path("a.md")}  # a pending burst is waited for and handed out
