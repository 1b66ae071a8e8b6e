"""The command line: init/new/build/check, exit statuses, error output, --debug."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date
from pathlib import Path

import pytest
from conftest import ROOT, make_post, make_site

from builder.cli import main
from builder.content import parse_post

INVALID = ROOT / "tests" / "sites" / "invalid"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_init_then_build_works(tmp_path, capsys):
    site = tmp_path / "journal"
    assert main(["init", str(site)]) == 0
    assert (site / "site.yaml").is_file() and list((site / "content/posts").glob("*.md"))
    assert (site / "data/rounds/round-1.yaml").is_file()
    assert main(["check", "--source", str(site)]) == 0
    assert main(["build", "--source", str(site)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Built \d+ pages \(\d+ files written, 0 removed\) in \d+\.\d\d s -> ", out)
    assert (site / "public" / "index.html").is_file()
    assert (site / "public" / "network" / "round-1" / "index.html").is_file()


def test_init_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 1
    assert "folder is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_new_post_writes_a_dated_draft_and_never_overwrites(tmp_path, capsys):
    site = make_site(tmp_path)
    assert main(["new", "post", 'Café: the "yet" post', "--tags", "yet, system leadership", "--source", str(site)]) == 0
    (path,) = (site / "content/posts").glob("*.md")
    assert path.name == f"{date.today().isoformat()}-cafe-the-yet-post.md"
    content = path.read_text(encoding="utf-8")
    assert "draft: true" in content
    post = parse_post("content/posts/" + path.name, content, UTC, "/")  # the draft is a valid post
    assert post.title == 'Café: the "yet" post' and post.tag_names == ("yet", "system leadership") and post.draft
    path.write_text(content + "\nMy words.\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["new", "post", 'Café: the "yet" post', "--source", str(site)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8").endswith("My words.\n")


def test_build_with_drafts_flag(tmp_path):
    site = make_site(tmp_path, {"content/posts/d.md": make_post(title="Draft", draft=True)})
    assert main(["build", "--source", str(site), "--quiet"]) == 0
    assert not (site / "public/posts/d").exists()
    assert main(["build", "--source", str(site), "--output", str(tmp_path / "pre"), "--drafts", "--quiet"]) == 0
    assert "DRAFT" in (tmp_path / "pre/posts/d/index.html").read_text(encoding="utf-8")


def test_check_example_site_exit_0(capsys):
    assert main(["check", "--source", str(ROOT)]) == 0
    assert "No errors found." in capsys.readouterr().out


def test_check_invalid_site_exit_1(capsys):
    assert main(["check", "--source", str(INVALID / "missing-title")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("content/posts/2020-01-02-untitled.md:1: missing or empty 'title'")


def test_check_warns_about_variant_spellings_but_passes(tmp_path, capsys):
    site = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(tags=["localgov digital"]),
            "content/posts/b.md": make_post(title="B", tags=["localgovdigital"]),
        },
    )
    assert main(["check", "--source", str(site)]) == 0
    captured = capsys.readouterr()
    assert "warning: tags 'localgov digital' / 'localgovdigital' look like one theme spelt differently" in captured.err


def test_check_reports_broken_internal_links(tmp_path, capsys):
    site = make_site(tmp_path, {"content/posts/a.md": make_post(body="Intro.\n\nSee [nowhere](/posts/nowhere/).\n")})
    assert main(["check", "--source", str(site)]) == 1
    assert "content/posts/a.md:7: link to /posts/nowhere/ points at no page" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["build", "--no-such-flag"], ["new", "page", "x"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_subprocess_build_and_usage_error(tmp_path):
    out = tmp_path / "public"
    done = run("build", "--source", str(ROOT / "tests/sites/basic"), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "Built " in done.stdout and (out / "index.html").is_file()
    bad = run("build", "--bogus")
    assert bad.returncode == 2 and "usage:" in bad.stderr


def test_content_error_has_no_traceback_but_debug_shows_one():
    case = str(INVALID / "broken-yaml")
    plain = run("build", "--source", case, "--output", "/nonexistent-never-written")
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr
    assert plain.stderr.startswith("content/posts/broken.md:2: invalid YAML")
    debug = run("--debug", "build", "--source", case, "--output", "/nonexistent-never-written")
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    debug_after = run("build", "--debug", "--source", case, "--output", "/nonexistent-never-written")
    assert "Traceback" in debug_after.stderr


def test_missing_source_folder_is_a_clean_error(tmp_path, capsys):
    assert main(["build", "--source", str(tmp_path / "nope")]) == 1
    assert "site folder not found" in capsys.readouterr().err


def test_build_cache_flags(tmp_path, capsys):
    """--cache-dir puts the cache where asked; --no-cache writes none; --jobs 0 is a usage error."""
    site = make_site(tmp_path / "site", {"content/posts/a.md": make_post(title="A", date="2024-01-01")})
    cache = tmp_path / "cache"
    assert (
        main(["build", "--source", str(site), "--output", str(tmp_path / "o1"), "--cache-dir", str(cache), "-q"]) == 0
    )
    assert cache.is_dir() and any(cache.iterdir())
    assert not (site / ".netjournal-cache").exists()
    assert (
        main(["build", "--source", str(site), "--output", str(tmp_path / "o2"), "--no-cache", "--jobs", "1", "-q"]) == 0
    )
    assert not (site / ".netjournal-cache").exists()
    assert (tmp_path / "o2" / "posts" / "a" / "index.html").is_file()
    with pytest.raises(SystemExit) as exc:
        main(["build", "--source", str(site), "--jobs", "0"])
    assert exc.value.code == 2
