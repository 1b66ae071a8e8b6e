"""Rebuilds in one Builder (as ``serve`` does) skip work whose inputs did not change."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, ROOT, make_post, make_site

from builder import export
from builder.build import Builder, BuildOptions

ROUNDS = ROOT / "tests" / "fixtures" / "rounds" / "basic" / "data"


def _site_with_rounds(tmp_path: Path) -> Path:
    files = {
        "content/posts/first.md": make_post("First", "2020-01-01", "Hello."),
        "content/posts/second.md": make_post("Second", "2020-02-01", "About round one.", round=1),
    }
    root = make_site(tmp_path, files)
    shutil.copytree(ROUNDS, root / "data")
    return root


def _count_exports(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"json": 0, "graphml": 0}

    def counting(kind: str, real: Any) -> Any:
        def wrapper(payload: dict[str, Any], k: int) -> str:
            calls[kind] += 1
            return real(payload, k)

        return wrapper

    monkeypatch.setattr(export, "export_json", counting("json", export.export_json))
    monkeypatch.setattr(export, "export_graphml", counting("graphml", export.export_graphml))
    return calls


def test_editing_a_post_does_not_regenerate_round_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _site_with_rounds(tmp_path)
    calls = _count_exports(monkeypatch)
    builder = Builder()
    options = BuildOptions(root, tmp_path / "out", serve=True, drafts=True, now=NOW)
    first = builder.build(options)
    assert first.files is not None
    assert calls == {"json": 3, "graphml": 3}  # one of each per round on the first build
    before = {p: first.files[p] for p in first.files if p.endswith((".json", ".graphml")) and "round-" in p}
    assert len(before) == 6

    post = root / "content" / "posts" / "first.md"
    post.write_text(make_post("First", "2020-01-01", "Hello again, edited."), encoding="utf-8")
    second = builder.build(options, changed=[post])
    assert second.files is not None
    assert calls == {"json": 3, "graphml": 3}  # the network was reused: no download recomputed
    assert {p: second.files[p] for p in before} == before
    edited = [p for p, data in second.files.items() if b"Hello again, edited." in data and p.startswith("posts/")]
    assert edited  # the edit itself was rendered


def test_changing_round_data_regenerates_round_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _site_with_rounds(tmp_path)
    calls = _count_exports(monkeypatch)
    builder = Builder()
    options = BuildOptions(root, tmp_path / "out", serve=True, drafts=True, now=NOW)
    first = builder.build(options)
    assert first.files is not None
    round_one = root / "data" / "rounds" / "round-1.yaml"
    round_one.write_text(round_one.read_text(encoding="utf-8").replace("Round one", "Round uno"), encoding="utf-8")
    second = builder.build(options, changed=[round_one])
    assert second.files is not None
    assert calls == {"json": 6, "graphml": 6}  # a new network: every download computed again
    fresh = Builder().render(BuildOptions(root, tmp_path / "other", serve=True, drafts=True, now=NOW))[1]
    for path in (p for p in fresh if p.endswith((".json", ".graphml")) and "round-" in p):
        assert second.files[path] == fresh[path]


def test_a_kept_builder_sees_template_edits_and_new_overrides(tmp_path: Path) -> None:
    """Jinja does not stat templates per page here: the Builder must notice the change itself."""
    override = '{% extends "theme:post.html" %}{% block content %}<p id="mine">Version one</p>{% endblock %}'
    root = make_site(tmp_path, {"content/posts/a.md": make_post("A", "2020-01-01"), "templates/post.html": override})
    out = tmp_path / "out"
    builder = Builder()
    options = BuildOptions(root, out, now=NOW, serve=True)
    builder.build(options)
    page = out / "posts" / "a" / "index.html"
    assert "Version one" in page.read_text()
    (root / "templates/post.html").write_text(override.replace("Version one", "Version two, longer"))
    builder.build(options)
    assert "Version two, longer" in page.read_text()
    (root / "templates/404.html").write_text('{% extends "theme:404.html" %}{% block content %}Lost{% endblock %}')
    builder.build(options)
    assert "Lost" in (out / "404.html").read_text()
