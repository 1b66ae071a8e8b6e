"""write.py: atomic replacement, exact contents, hard-linked unchanged files, safety."""

from __future__ import annotations

import os

import pytest

from builder.write import (
    MANIFEST,
    digest,
    make_parent,
    present_files,
    read_manifest,
    safe_relative,
    write_output,
)


def files_in(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST
    }


def test_writes_exactly_the_files(tmp_path):
    out = tmp_path / "public"
    result = write_output({"index.html": b"home", "a/b/index.html": b"deep"}, out)
    assert files_in(out) == {"index.html": b"home", "a/b/index.html": b"deep"}
    assert result.written == ("a/b/index.html", "index.html") and result.removed == ()
    assert set(read_manifest(out)) == {"index.html", "a/b/index.html"}


def test_second_write_keeps_unchanged_inodes_and_removes_stale_files(tmp_path):
    out = tmp_path / "public"
    write_output({"keep.html": b"same", "change.html": b"old", "gone.html": b"x"}, out)
    keep_inode = (out / "keep.html").stat().st_ino
    result = write_output({"keep.html": b"same", "change.html": b"new"}, out)
    assert result.written == ("change.html",) and result.removed == ("gone.html",) and result.unchanged == 1
    assert (out / "keep.html").stat().st_ino == keep_inode
    assert files_in(out) == {"keep.html": b"same", "change.html": b"new"}


def test_no_change_write_touches_nothing(tmp_path):
    out = tmp_path / "public"
    write_output({"a.html": b"a"}, out)
    before = (out / "a.html").stat()
    result = write_output({"a.html": b"a"}, out)
    assert result.written == () and result.unchanged == 1
    after = (out / "a.html").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_deleted_output_file_is_restored(tmp_path):
    out = tmp_path / "public"
    write_output({"a.html": b"a", "b.html": b"b"}, out)
    (out / "b.html").unlink()
    write_output({"a.html": b"a", "b.html": b"b"}, out)
    assert (out / "b.html").read_bytes() == b"b"


@pytest.mark.parametrize("bad", ["../escape.html", "/abs.html", "a/../../x"])
def test_refuses_paths_outside_the_output(tmp_path, bad):
    with pytest.raises(ValueError):
        write_output({bad: b"x"}, tmp_path / "public")
    assert not (tmp_path / "public").exists()


def test_no_staging_left_behind(tmp_path):
    out = tmp_path / "public"
    write_output({"a.html": b"1"}, out)
    write_output({"a.html": b"2"}, out)
    assert [p.name for p in tmp_path.iterdir()] == ["public"]


def test_tampered_manifest_means_full_rewrite(tmp_path):
    out = tmp_path / "public"
    write_output({"a.html": b"1"}, out)
    (out / MANIFEST).write_text("not json", encoding="utf-8")
    assert read_manifest(out) == {}
    result = write_output({"a.html": b"1"}, out)
    assert result.written == ("a.html",)


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("index.html", True),
        ("a/./b.html", True),
        ("a//b.html", True),
        ("", False),
        (".", False),
        ("./", False),
        ("/etc/x", False),
        ("a/../b", False),
        ("..", False),
    ],
)
def test_safe_relative_matches_the_pathlib_rule(path, safe):
    assert safe_relative(path) is safe


def test_present_files_lists_only_regular_files_that_exist(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/index.html").write_bytes(b"x")
    (tmp_path / "dir.html").mkdir()  # a folder where a file was: not present
    assert present_files(str(tmp_path), ["a/index.html", "gone.html", "dir.html"]) == {"a/index.html"}


def test_make_parent_creates_each_folder_once(tmp_path, monkeypatch):
    calls = []
    real = os.mkdir
    monkeypatch.setattr(os, "mkdir", lambda path, *a, **k: (calls.append(path), real(path, *a, **k)))
    made: set[str] = set()
    for path in ["posts/a/index.html", "posts/b/index.html", "posts/a/x.json", "top.html", "tags/t/feed.xml"]:
        make_parent(str(tmp_path), path, made)
    created = sorted(p.removeprefix(f"{tmp_path}/") for p in calls)
    assert created == ["posts", "posts/a", "posts/b", "tags", "tags/t"]
    assert all((tmp_path / d).is_dir() for d in created)


def test_in_place_update_replaces_changed_files_only_and_prunes_empty_folders(tmp_path):
    site = {f"p/{i}/index.html": f"page {i}".encode() for i in range(10)}
    out = tmp_path / "public"
    write_output({**site, "old/deep/gone.html": b"bye"}, out)
    inodes = {p: (out / p).stat().st_ino for p in site}
    result = write_output({**site, "p/3/index.html": b"edited", "new/x.html": b"new"}, out)
    assert result.written == ("new/x.html", "p/3/index.html") and result.removed == ("old/deep/gone.html",)
    assert not (out / "old").exists()  # emptied folders go too
    assert (out / "p/3/index.html").read_bytes() == b"edited"
    assert all((out / p).stat().st_ino == inodes[p] for p in site if p != "p/3/index.html")
    assert (out / "p/3/index.html").stat().st_ino != inodes["p/3/index.html"]  # renamed over, not rewritten
    assert sorted(n.name for n in (out / "p/3").iterdir()) == ["index.html"]  # no temporary file left
    assert read_manifest(out)["p/3/index.html"] == digest(b"edited")


def test_new_files_get_the_usual_permissions(tmp_path):
    out = tmp_path / "public"
    write_output({"a.html": b"1", "b.html": b"2"}, out)
    full = (out / "a.html").stat().st_mode & 0o777
    write_output({"a.html": b"changed", "b.html": b"2"}, out)  # in place: a temporary file renamed over
    assert (out / "a.html").stat().st_mode & 0o777 == full
    umask = os.umask(0)
    os.umask(umask)
    assert full == 0o666 & ~umask


def test_a_failed_write_leaves_the_previous_output(tmp_path):
    out = tmp_path / "public"
    write_output({"a.html": b"1"}, out)

    class Broken(dict):
        def __getitem__(self, key):
            raise OSError("disk full")

    with pytest.raises(OSError):
        write_output(Broken({f"x{i}.html": b"x" for i in range(200)}), out)  # too many changes: full rewrite
    assert files_in(out) == {"a.html": b"1"}
    assert [p.name for p in tmp_path.iterdir()] == ["public"]


def test_manifest_bytes_are_those_of_json_with_indent_zero() -> None:
    """The manifest keeps its one-entry-a-line format (written by the C encoder for speed)."""
    import json

    from builder.write import manifest_bytes

    for files in ({}, {"a": "1"}, {"b/x.html": "ff", "a.html": "00", "ü/é.html": "12", 'q"uote': "3"}):
        assert manifest_bytes(files) == json.dumps(files, sort_keys=True, indent=0).encode("utf-8")
