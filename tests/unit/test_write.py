"""write.py: atomic replacement, exact contents, hard-linked unchanged files, safety."""

from __future__ import annotations

import pytest

from builder.write import MANIFEST, read_manifest, write_output


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
