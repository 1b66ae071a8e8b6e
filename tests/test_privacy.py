"""Privacy across the whole output: private participants appear in no byte of any file.

SPEC §3: a participant's name appears only if ``public: true``; everyone else's id and
name must not appear anywhere (HTML, JSON, GraphML, feeds, search index).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml

from builder.build import Builder, BuildOptions

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, tzinfo=UTC)

SECRET_ID = "zz-secret-id"
SECRET_NAME = "Quentin Privé-Wolstenholme"
SECRET_ORG_PERSON = "ghost-42"


def make_private_site(tmp_path: Path, labels: str = "public") -> Path:
    site = tmp_path / "site"
    (site / "content" / "posts").mkdir(parents=True)
    (site / "data" / "rounds").mkdir(parents=True)
    (site / "site.yaml").write_text(
        "title: Privacy test\nbase_url: https://example.org/\nsearch: false\n"
        f"network:\n  labels: {labels}\n  me: pub-a\n",
        encoding="utf-8",
    )
    people = {
        "pub-a": {"name": "Ada Public", "organisation": "Council A", "public": True},
        "pub-b": {"name": "Ben Public", "organisation": "Council B", "public": True},
        SECRET_ID: {"name": SECRET_NAME, "organisation": "Council C"},
        SECRET_ORG_PERSON: {"organisation": "Trust D"},
        "pub-c": {"name": "Cara Public", "organisation": "Trust D", "public": True},
    }
    (site / "data" / "people.yaml").write_text(yaml.safe_dump(people, allow_unicode=True), encoding="utf-8")
    (site / "data" / "rounds" / "round-1.yaml").write_text(
        f"round: 1\ndate: 2020-01-01\npairs:\n  - [pub-a, {SECRET_ID}]\n  - [pub-b, {SECRET_ORG_PERSON}, pub-c]\n",
        encoding="utf-8",
    )
    (site / "data" / "rounds" / "round-2.yaml").write_text(
        f"round: 2\ndate: 2020-02-01\npairs:\n  - [pub-a, pub-b]\n  - {{people: [{SECRET_ID}, pub-c], met: false}}\n"
        f"unmatched: [{SECRET_ORG_PERSON}]\n",
        encoding="utf-8",
    )
    (site / "content" / "posts" / "2020-01-05-talk.md").write_text(
        f"---\ntitle: A talk\ndate: 2020-01-05\ntags: [unmentoring]\nround: 1\nwith: [{SECRET_ID}, pub-a]\n---\n"
        "We talked.\n\n::: network round=1\n::: network round=2 mode=round\n",
        encoding="utf-8",
    )
    return site


def all_output_bytes(files: dict[str, bytes]) -> bytes:
    return b"\n".join(path.encode() + b"\n" + data for path, data in files.items())


def test_private_people_appear_in_no_output_file(tmp_path: Path) -> None:
    site = make_private_site(tmp_path)
    result = Builder().build(BuildOptions(site, tmp_path / "out", now=NOW))
    blob = all_output_bytes(result.files or {})
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())
    for secret in (SECRET_ID, SECRET_NAME, "Quentin", "Wolstenholme", SECRET_ORG_PERSON):
        assert secret.encode() not in blob, secret
        assert secret.encode() not in on_disk, secret
    # public people are named (the test would pass vacuously if nothing was rendered)
    assert b"Ada Public" in (result.files or {})["network/round-1/index.html"] or b"Ada Public" in blob
    assert b"Cara Public" in blob
    assert "network/round-1/round-1.graphml" in (result.files or {})


def test_labels_none_names_nobody(tmp_path: Path) -> None:
    site = make_private_site(tmp_path, labels="none")
    result = Builder().build(BuildOptions(site, tmp_path / "out", now=NOW))
    network_files = {
        p: d for p, d in (result.files or {}).items() if p.startswith("network/") or p.startswith("posts/")
    }
    blob = all_output_bytes(network_files)
    for name in ("Ada Public", "Ben Public", "Cara Public", SECRET_NAME):
        assert name.encode() not in blob, name
    assert b"nj-network-data" in blob


def test_example_site_private_names_never_published(tmp_path: Path) -> None:
    """Every private person of the example journal: neither id nor name in the build."""
    work = tmp_path / "example"
    work.mkdir()
    for part in ("site.yaml", "content", "data"):
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / part)
    people = yaml.safe_load((work / "data" / "people.yaml").read_text(encoding="utf-8"))
    private = [(pid, p.get("name")) for pid, p in people.items() if not p.get("public")]
    assert private, "the example site must have private participants"
    result = Builder().build(BuildOptions(work, tmp_path / "out", now=NOW))
    blob = all_output_bytes(result.files or {})
    for pid, name in private:
        assert pid.encode() not in blob, pid
        if name:
            assert name.encode() not in blob, name
