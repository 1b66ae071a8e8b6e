"""Search index stage: what gets indexed, privacy, determinism, and the missing-Pagefind message."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import EXAMPLE_NOW, MINIMAL_CONFIG, ROOT, make_post, make_site

from builder import search
from builder.build import Builder, BuildOptions
from builder.config import parse_config
from builder.errors import SiteError

PAGE = "<!DOCTYPE html><html lang='en'><head><title>{title}</title></head><body>{body}</body></html>"


def page(title: str, body: str) -> bytes:
    return PAGE.format(title=title, body=body).encode()


def post(title: str, text: str) -> bytes:
    return page(title, f"<nav>Menu</nav><article data-pagefind-body><h1>{title}</h1><p>{text}</p></article>")


def readable(bundle: dict[str, bytes]) -> bytes:
    """Every bundle file as plain bytes (Pagefind gzips its index and fragments)."""
    out = []
    for data in bundle.values():
        try:
            out.append(gzip.decompress(data))
        except OSError:
            out.append(data)
    return b"\n".join(out)


def entry(bundle: dict[str, bytes]) -> dict:
    return json.loads(bundle["pagefind/pagefind-entry.json"])


def page_count(bundle: dict[str, bytes]) -> int:
    return sum(lang["page_count"] for lang in entry(bundle)["languages"].values())


@pytest.fixture(autouse=True)
def fresh_cache():
    search._cache.clear()
    yield
    search._cache.clear()


def test_indexable_picks_only_marked_pages():
    files = {
        "posts/a/index.html": post("A", "alpha"),
        "network/index.html": page("Network", "<p>Secret Person</p>"),
        "posts/draft/index.html": page("Draft", "<article><h1>Draft</h1></article>"),
        "about/index.html": page("About", "<p>We mention data-pagefind-body in prose only.</p>"),
        "static/x.js": b"<a data-pagefind-body>",
    }
    assert list(search.indexable(files)) == ["posts/a/index.html"]


def test_search_off_returns_files_untouched():
    config = parse_config(MINIMAL_CONFIG)
    files = {"posts/a/index.html": post("A", "alpha")}
    assert search.add_search(files, config) == files


def test_index_holds_marked_pages_only_and_no_names_from_elsewhere():
    files = {
        "posts/a/index.html": post("Listening", "A post about listening well."),
        "posts/b/index.html": post("Yet", "The power of yet, again."),
        "network/index.html": page("Network", "<p>Hidden Participant</p>"),
        "posts/c/index.html": page("Draft", "<article><h1>Unseen draft</h1><p>Quokka</p></article>"),
    }
    bundle = search.index_files(files)
    assert page_count(bundle) == 2
    text = readable(bundle)
    assert b"listening" in text.lower()
    assert b"Hidden Participant" not in text
    assert b"Quokka" not in text
    assert b"Menu" not in text  # only the marked body is indexed


def test_diagram_figures_inside_posts_are_not_indexed():
    body = (
        '<figure class="nj-diagram"><div><svg><text>Figure Name</text></svg><p>Caption Person</p></div>'
        "<figcaption>Caption Person</figcaption></figure><p>Plain words</p>"
    )
    bundle = search.index_files({"posts/a/index.html": post("A", body)})
    text = readable(bundle)
    assert b"Plain words" in text
    assert b"Figure Name" not in text
    assert b"Caption Person" not in text


def test_unused_pagefind_uis_are_dropped_and_core_files_kept():
    bundle = search.index_files({"posts/a/index.html": post("A", "alpha")})
    assert "pagefind/pagefind.js" in bundle
    assert any(p.startswith("pagefind/fragment/") for p in bundle)
    assert not [p for p in bundle if p.endswith(("pagefind-ui.js", "pagefind-ui.css", "pagefind-highlight.js"))]


def test_index_is_deterministic():
    files = {f"posts/p{i}/index.html": post(f"Post {i}", f"words number {i} here") for i in range(8)}
    first = search.index_files(files)
    search._cache.clear()
    assert search.index_files(files) == first


def test_cache_reuses_index_for_same_pages_and_rebuilds_on_change(monkeypatch):
    calls = []
    real = search._run_pagefind

    async def counting(pages, language):
        calls.append(len(pages))
        return await real(pages, language)

    monkeypatch.setattr(search, "_run_pagefind", counting)
    files = {"posts/a/index.html": post("A", "alpha")}
    search.index_files(files)
    search.index_files(dict(files))
    assert calls == [1]
    search.index_files({**files, "posts/b/index.html": post("B", "beta")})
    assert calls == [1, 2]


def test_search_page_gets_a_cache_busting_version():
    page = b'<div id="search" data-pagefind-version=""></div>'
    stamped = search.stamp_search_page(page, {"pagefind/pagefind.js": b"console.log(1)"}).decode()
    assert 'data-pagefind-version=""' not in stamped
    assert len(stamped.split('data-pagefind-version="')[1].split('"')[0]) == 10
    other = search.stamp_search_page(page, {"pagefind/pagefind.js": b"console.log(2)"}).decode()
    assert other != stamped


def test_add_search_fills_the_given_mapping_in_place():
    config = parse_config(MINIMAL_CONFIG.replace("search: false", "search: true"))
    files = {"posts/a/index.html": post("A", "alpha"), "search/index.html": b'<p data-pagefind-version="">'}
    out = search.add_search(files, config)
    assert out is files
    assert "pagefind/pagefind.js" in files
    assert b'data-pagefind-version=""' not in files["search/index.html"]


def test_a_site_file_in_the_bundle_folder_is_an_error():
    config = parse_config(MINIMAL_CONFIG.replace("search: false", "search: true"))
    files = {"posts/a/index.html": post("A", "alpha"), "pagefind/pagefind.js": b"mine"}
    with pytest.raises(SiteError, match="clashes"):
        search.add_search(files, config)


def test_missing_binary_is_a_site_error_with_the_install_hint(monkeypatch):
    import pagefind.service

    monkeypatch.setattr(pagefind.service, "get_executable", lambda: None)
    with pytest.raises(SiteError) as info:
        search.index_files({"posts/a/index.html": post("A", "alpha")})
    assert "pip install 'pagefind[bin]'" in info.value.format()
    assert "search: false" in info.value.format()


def test_missing_package_is_a_site_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pagefind.service", None)  # makes the import fail
    with pytest.raises(SiteError, match="Pagefind"):
        search.pagefind_version()


def test_cli_build_without_pagefind_exits_1_with_a_message(tmp_path):
    source = make_site(
        tmp_path,
        {"content/posts/a.md": make_post("A", body="Hello.")},
        config=MINIMAL_CONFIG.replace("search: false", "search: true"),
    )
    env = {**os.environ, "PAGEFIND_BINARY_PATH": str(tmp_path / "no-such-pagefind")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder",
            "build",
            "--source",
            str(source),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert "pip install 'pagefind[bin]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_example_site_preview_indexes_published_posts_but_not_drafts_or_private_people(tmp_path):
    """The serve-style build shows the draft; the index still holds only published posts."""
    builder = Builder()
    options = BuildOptions(ROOT, tmp_path / "out", drafts=True, serve=True, now=EXAMPLE_NOW)
    site, files = builder.render(options)
    published = [p for p in site.posts if not site.is_unpublished(p)]
    assert len(published) < len(site.posts)  # the example has a draft: the test means something
    bundle = {p: d for p, d in files.items() if p.startswith("pagefind/")}
    assert page_count(bundle) == len(published)
    people = yaml.safe_load((ROOT / "data/people.yaml").read_text(encoding="utf-8"))
    private = [v["name"] for v in people.values() if not v.get("public") and v.get("name")]
    assert private
    text = readable(bundle)
    for name in private:
        assert name.encode() not in text
    assert b'data-pagefind-version=""' not in files["search/index.html"]


def test_build_without_search_writes_no_bundle(tmp_path):
    source = make_site(tmp_path, {"content/posts/a.md": make_post("A", body="Hello.")})
    _, files = Builder().render(BuildOptions(source, tmp_path / "out", now=EXAMPLE_NOW))
    assert not [p for p in files if p.startswith("pagefind/")]
    assert "search/index.html" not in files


def test_preview_reuses_the_index_of_a_large_site_but_not_of_a_small_one(monkeypatch):
    """serve passes stale_ok: big sites skip the seconds-long re-index per save; small ones stay fresh."""
    calls = []

    async def fake(pages, language):
        calls.append(len(pages))
        return {"pagefind/pagefind-entry.json": str(len(pages)).encode()}

    monkeypatch.setattr(search, "_run_pagefind", fake)
    monkeypatch.setattr(search, "STALE_OK_ABOVE", 2)
    small = {f"posts/{i}/index.html": post(f"P{i}", "text") for i in range(2)}
    search.index_files(small, stale_ok=True)
    search.index_files({**small, "posts/0/index.html": post("P0", "edited")}, stale_ok=True)
    assert calls == [2, 2]  # two posts: re-indexed on the edit
    large = {f"posts/{i}/index.html": post(f"P{i}", "text") for i in range(3)}
    search.index_files(large, stale_ok=True)
    assert calls == [2, 2, 3]
    edited = {**large, "posts/0/index.html": post("P0", "edited")}
    bundle = search.index_files(edited, stale_ok=True)
    assert calls == [2, 2, 3]  # three posts in the preview: the previous index is reused
    assert bundle == {"pagefind/pagefind-entry.json": b"3"}
    search.index_files({**edited, "posts/9/index.html": post("P9", "new")}, stale_ok=True)
    assert calls == [2, 2, 3, 4]  # a new post is always indexed
    search.index_files(edited)  # a real build always re-indexes
    assert calls == [2, 2, 3, 4, 3]
