"""The network computed on another core while posts are parsed (builder/warmup.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import NOW, ROOT, make_post, make_site, output_files

from builder import layout, metrics, network, warmup
from builder.build import Builder, BuildOptions

ROUNDS = ROOT / "tests" / "fixtures" / "rounds" / "basic" / "data"


def _site(tmp_path: Path) -> Path:
    posts = {
        f"content/posts/p{i}.md": make_post(f"Post {i}", f"2020-01-{1 + i:02d}", "Text.", round=1 + i % 2)
        for i in range(6)
    }
    root = make_site(tmp_path, posts)
    shutil.copytree(ROUNDS, root / "data")
    return root


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls made in this process of the costly parts: per-round metrics and the force layout."""
    calls = {"measure": 0, "layout": 0, "groups": 0, "started": 0}
    real_measure, real_layout, real_start = metrics._measure, layout._round_by_round, warmup.start
    real_groups = layout._group_spring

    def groups(*args: object) -> object:
        calls["groups"] += 1
        return real_groups(*args)  # type: ignore[arg-type]

    def measure(*args: object) -> object:
        calls["measure"] += 1
        return real_measure(*args)  # type: ignore[arg-type]

    def round_by_round(*args: object) -> object:
        calls["layout"] += 1
        return real_layout(*args)  # type: ignore[arg-type]

    def start(*args: object) -> object:
        handle = real_start(*args)  # type: ignore[arg-type]
        calls["started"] += handle is not None
        return handle

    monkeypatch.setattr(metrics, "_measure", measure)
    monkeypatch.setattr(layout, "_round_by_round", round_by_round)
    monkeypatch.setattr(layout, "_group_spring", groups)
    monkeypatch.setattr(warmup, "start", start)
    return calls


def test_the_child_computes_metrics_and_layout_and_the_output_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    root = _site(tmp_path)
    Builder().build(BuildOptions(root, tmp_path / "one", now=NOW, cache=False, jobs=1))
    assert calls["started"] == 0 and calls["measure"] > 0 and calls["layout"] > 0 and calls["groups"] > 0
    calls.update(measure=0, layout=0, groups=0)
    Builder().build(BuildOptions(root, tmp_path / "two", now=NOW, cache=False, jobs=2))
    assert calls["started"] == 1
    assert calls["measure"] == calls["layout"] == calls["groups"] == 0  # in the cache the child filled
    assert output_files(tmp_path / "one") == output_files(tmp_path / "two")


def test_no_child_when_the_stored_network_fits_the_round_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    root = _site(tmp_path)
    options = BuildOptions(root, tmp_path / "out", now=NOW, jobs=2)
    Builder().build(options)
    assert calls["started"] == 1
    post = root / "content/posts/p1.md"
    post.write_text(post.read_text().replace("Text.", "Text, edited."))
    Builder().build(options)  # a new process: the network comes from the cache folder
    assert calls["started"] == 1
    (root / "data/rounds/round-1.yaml").write_text((ROUNDS / "rounds/round-1.yaml").read_text() + "\n")
    Builder().build(options)  # the same round data in another text: its network is computed again
    assert calls["started"] == 2


def test_a_failing_child_leaves_the_work_to_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    parent = os.getpid()
    real = network.build_network

    def failing_in_the_child(*args: object, **kwargs: object) -> object:
        if os.getpid() != parent:
            raise MemoryError("child only")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(network, "build_network", failing_in_the_child)
    root = _site(tmp_path)
    Builder().build(BuildOptions(root, tmp_path / "one", now=NOW, cache=False, jobs=1))
    calls.update(measure=0, layout=0)
    Builder().build(BuildOptions(root, tmp_path / "two", now=NOW, cache=False, jobs=2))
    assert calls["started"] == 1 and calls["measure"] > 0 and calls["layout"] > 0
    assert output_files(tmp_path / "one") == output_files(tmp_path / "two")
