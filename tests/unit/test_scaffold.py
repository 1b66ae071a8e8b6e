"""scaffold.py: init writes a working site; new post writes a draft and never overwrites."""

from __future__ import annotations

import tempfile
from datetime import UTC, date
from pathlib import Path

import pytest
from conftest import render
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.content import parse_post
from builder.errors import SiteError
from builder.scaffold import init_site, new_post


def test_init_site_builds_with_a_round_and_a_diagram(tmp_path):
    site = tmp_path / "new"
    init_site(site, today=date(2024, 5, 1))
    assert (site / "content/posts/2024-05-01-hello-network.md").is_file()
    files = render(site)
    assert "posts/hello-network/index.html" in files and "network/round-1/index.html" in files
    assert b"nj-diagram" in files["posts/hello-network/index.html"]
    assert not any(b"Another organisation" in data for data in files.values())  # 'friend' is private


def test_init_refuses_non_empty_folder(tmp_path):
    (tmp_path / "x").write_text("x", encoding="utf-8")
    with pytest.raises(SiteError):
        init_site(tmp_path)


def test_new_post_is_a_valid_draft(tmp_path):
    path = new_post(tmp_path, 'Quotes "and" colons: yes', "a, b ,", today=date(2024, 2, 3))
    assert path == tmp_path / "content/posts/2024-02-03-quotes-and-colons-yes.md"
    post = parse_post("content/posts/x.md", path.read_text(encoding="utf-8"), UTC, "/")
    assert post.title == 'Quotes "and" colons: yes' and post.tag_names == ("a", "b") and post.draft


def test_new_post_never_overwrites(tmp_path):
    path = new_post(tmp_path, "Same", today=date(2024, 2, 3))
    path.write_text("mine", encoding="utf-8")
    with pytest.raises(SiteError) as info:
        new_post(tmp_path, "Same", today=date(2024, 2, 3))
    assert info.value.path == "content/posts/2024-02-03-same.md"
    assert path.read_text(encoding="utf-8") == "mine"


def test_new_post_with_awkward_title_and_tags(tmp_path):
    path = new_post(tmp_path, "Back\\slash", 'say "hi", x\\y', today=date(2024, 2, 3))
    post = parse_post("content/posts/x.md", path.read_text(encoding="utf-8"), UTC, "/")
    assert post.title == "Back\\slash"
    assert post.tag_names == ('say "hi"', "x\\y")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40))
def test_new_post_title_round_trips(tmp_path, title):
    if not title.strip():
        return
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = new_post(folder, title, today=date(2024, 2, 3))
    post = parse_post("content/posts/x.md", path.read_text(encoding="utf-8"), UTC, "/")
    assert post.title == title.strip()
