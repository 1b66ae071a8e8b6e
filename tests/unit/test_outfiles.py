"""outfiles.py: cold builds write each file once into staging; unchanged files stay unread on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.outfiles import OutputFiles, existing_files
from builder.write import MANIFEST, digest, read_manifest, write_output


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def site_files(n: int, tag: str = "") -> dict[str, bytes]:
    files = {f"posts/p{i}/index.html": f"<p>post {i}{tag}</p>".encode() for i in range(n)}
    files["index.html"] = f"home{tag}".encode()
    files["tags/t/feed.xml"] = b"<feed/>"
    files["tags/t/index.html"] = b"tag"
    return files


def test_cold_build_writes_each_file_once_into_staging_then_renames_it(tmp_path: Path) -> None:
    out = tmp_path / "public"
    files = OutputFiles(out)
    assert files.spill_all  # no previous output: nothing to compare with
    wanted = site_files(5)
    files.update(wanted)
    staged = files.spilled()
    assert set(staged) == set(wanted) and files.staging is not None
    inodes = {p: os.stat(s).st_ino for p, s in staged.items()}
    result = write_output(files, out)
    assert result.written == tuple(sorted(wanted))
    assert {p: (out / p).stat().st_ino for p in wanted} == inodes  # the same files, moved with one rename
    assert tree(out) == {**wanted, MANIFEST: (out / MANIFEST).read_bytes()}
    assert [p.name for p in tmp_path.iterdir()] == ["public"]  # staging renamed, nothing left over
    assert dict(files.items()) == wanted  # read back lazily from the output


def test_cold_build_makes_each_staging_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = OutputFiles(tmp_path / "public")
    files["index.html"] = b"first"  # creates the staging folder itself
    calls: list[str] = []
    real = os.mkdir
    monkeypatch.setattr(os, "mkdir", lambda path, *a, **k: (calls.append(os.fspath(path)), real(path, *a, **k)))
    files.update(site_files(4))
    made = sorted(p.removeprefix(os.fspath(files.staging) + "/") for p in calls)
    assert made == ["posts", "posts/p0", "posts/p1", "posts/p2", "posts/p3", "tags", "tags/t"]


def test_unchanged_files_are_not_held_or_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "public"
    old = site_files(6)
    write_output(old, out)
    before = {p: (out / p).stat() for p in old}
    files = OutputFiles(out, read_manifest(out))
    assert not files.spill_all  # a previous output: keep the few changed files in memory
    new = {**old, "posts/p2/index.html": b"edited"}
    files.update(new)
    assert files._memory == {"posts/p2/index.html": b"edited"} and files.staging is None
    assert files["posts/p1/index.html"] == old["posts/p1/index.html"]  # read from the old output
    result = write_output(files, out)
    assert result.written == ("posts/p2/index.html",) and result.unchanged == len(new) - 1
    for path, st in before.items():
        now = (out / path).stat()
        same = (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
        assert same is (path != "posts/p2/index.html"), path
    assert dict(files.items()) == new


def test_a_file_deleted_by_hand_is_written_again(tmp_path: Path) -> None:
    out = tmp_path / "public"
    old = site_files(3)
    write_output(old, out)
    (out / "posts/p1/index.html").unlink()
    files = OutputFiles(out, read_manifest(out))
    files.update(old)
    assert "posts/p1/index.html" not in files.present()
    assert files._memory == {"posts/p1/index.html": old["posts/p1/index.html"]}
    write_output(files, out)
    assert tree(out) == {**old, MANIFEST: (out / MANIFEST).read_bytes()}


def test_spilling_over_the_memory_limit_and_deleting_a_spilled_file(tmp_path: Path) -> None:
    out = tmp_path / "public"
    write_output({"keep.html": b"k"}, out)
    files = OutputFiles(out, read_manifest(out), memory_limit=30)
    wanted = site_files(6)
    files.update(wanted)
    spilled = files.spilled()
    assert spilled and set(files._memory) | set(spilled) == set(wanted)
    victim = sorted(spilled)[0]
    del files[victim]
    assert not os.path.exists(spilled[victim])  # or the staging folder would carry an unlisted file
    del wanted[victim]
    write_output(files, out)
    assert tree(out) == {**wanted, MANIFEST: (out / MANIFEST).read_bytes()}
    assert set(read_manifest(out)) == set(wanted)


def test_overwriting_a_spilled_path_keeps_the_last_bytes(tmp_path: Path) -> None:
    out = tmp_path / "public"
    files = OutputFiles(out)
    files["search/index.html"] = b"first version, longer"
    files["search/index.html"] = b"second"
    assert files["search/index.html"] == b"second" and files.digests() == {"search/index.html": digest(b"second")}
    write_output(files, out)
    assert (out / "search/index.html").read_bytes() == b"second"


def test_reuse_of_an_old_file_at_another_path_is_read(tmp_path: Path) -> None:
    out = tmp_path / "public"
    write_output({"a/index.html": b"same bytes"}, out)

    class Reuse:  # the shape of pagecache.Reuse: bytes known by digest, read only when needed
        known_digest = digest(b"same bytes")

        def read(self) -> bytes:
            return (out / "a/index.html").read_bytes()

    files = OutputFiles(out, read_manifest(out))
    files["a/index.html"] = Reuse()  # type: ignore[assignment]  # same path: kept, unread
    files["b/index.html"] = Reuse()  # type: ignore[assignment]  # another path: read now
    assert files._memory == {"b/index.html": b"same bytes"}
    write_output(files, out)
    assert (out / "b/index.html").read_bytes() == b"same bytes"


def test_discard_removes_the_staging_folder_and_keeps_the_old_output(tmp_path: Path) -> None:
    out = tmp_path / "public"
    write_output({"a.html": b"old"}, out)
    (tmp_path / "other").mkdir()
    files = OutputFiles(tmp_path / "other" / "public")  # cold: spills at once
    files["a.html"] = b"new"
    staging = files.staging
    assert staging is not None and staging.is_dir()
    files.discard()
    assert not staging.exists() and files.staging is None
    assert (out / "a.html").read_bytes() == b"old"


def test_unsafe_paths_stay_in_memory_and_are_refused_by_the_writer(tmp_path: Path) -> None:
    files = OutputFiles(tmp_path / "public")
    files["../escape.html"] = b"x"
    assert files.spilled() == {} and not (tmp_path / "escape.html").exists()
    with pytest.raises(ValueError):
        write_output(files, tmp_path / "public")
    files.discard()
    assert not (tmp_path / "public").exists()


def test_existing_files_walks_every_file(tmp_path: Path) -> None:
    write_output(site_files(2), tmp_path / "public")
    assert existing_files(tmp_path / "public") == {*site_files(2), MANIFEST}
