"""How `serve` turns watchdog events into debouncer input (fake clock, no threads)."""

from __future__ import annotations

from pathlib import Path

import pytest
from watchdog import events as ev

from builder.serve import _event_filter, _Recorder
from builder.watch import Debouncer


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def deb(clock: FakeClock) -> Debouncer:
    return Debouncer(quiet=0.02, hold=0.1, max_wait=1.0, clock=clock)


def test_modified_then_closed_is_a_finished_save(deb: Debouncer) -> None:
    rec = _Recorder(deb)
    rec.dispatch(ev.FileModifiedEvent("/s/content/posts/a.md"))
    assert deb.remaining() == pytest.approx(0.1)  # still being written
    rec.dispatch(ev.FileClosedEvent("/s/content/posts/a.md"))
    assert deb.remaining() == pytest.approx(0.02)


def test_a_rename_save_is_finished_when_reported(deb: Debouncer, clock: FakeClock) -> None:
    rec = _Recorder(deb)
    rec.dispatch(ev.FileCreatedEvent("/s/content/posts/a.md.tmp"))
    rec.dispatch(ev.FileModifiedEvent("/s/content/posts/a.md.tmp"))
    rec.dispatch(ev.FileClosedEvent("/s/content/posts/a.md.tmp"))
    rec.dispatch(ev.FileMovedEvent("/s/content/posts/a.md.tmp", "/s/content/posts/a.md"))
    assert deb.remaining() == pytest.approx(0.02)
    clock.now += 0.02
    assert deb.take() == {Path("/s/content/posts/a.md.tmp"), Path("/s/content/posts/a.md")}


def test_a_file_moved_away_mid_write_does_not_hold_the_burst(deb: Debouncer) -> None:
    rec = _Recorder(deb)
    rec.dispatch(ev.FileModifiedEvent("/s/content/posts/a.md"))
    rec.dispatch(ev.FileMovedEvent("/s/content/posts/a.md", "/s/content/posts/b.md"))
    assert deb.remaining() == pytest.approx(0.02)


def test_deleting_a_file_being_written_does_not_hold_the_burst(deb: Debouncer) -> None:
    rec = _Recorder(deb)
    rec.dispatch(ev.FileModifiedEvent("/s/content/posts/a.md"))
    rec.dispatch(ev.FileDeletedEvent("/s/content/posts/a.md"))
    assert deb.remaining() == pytest.approx(0.02)


def test_reads_and_folder_times_are_not_changes(deb: Debouncer) -> None:
    rec = _Recorder(deb)
    rec.dispatch(ev.FileOpenedEvent("/s/content/posts/a.md"))
    rec.dispatch(ev.FileClosedNoWriteEvent("/s/content/posts/a.md"))
    rec.dispatch(ev.DirModifiedEvent("/s/content/posts"))
    assert deb.remaining() is None


def test_a_new_folder_is_a_finished_change(deb: Debouncer) -> None:
    rec = _Recorder(deb)
    rec.dispatch(ev.DirCreatedEvent("/s/data"))
    assert deb.remaining() == pytest.approx(0.02)


def test_the_watch_asks_inotify_for_no_reads() -> None:
    # Every build reads every source: those opens and closes must not even reach Python.
    wanted = set(_event_filter())
    assert ev.FileOpenedEvent not in wanted
    assert ev.FileClosedNoWriteEvent not in wanted
    assert {ev.FileModifiedEvent, ev.FileClosedEvent, ev.FileMovedEvent, ev.FileDeletedEvent} <= wanted
