"""The vendored D3 must be the exact pinned release, with its licence."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "themes" / "default" / "static" / "vendor" / "d3"


def _load_fetch_script():
    spec = importlib.util.spec_from_file_location("fetch_d3", ROOT / "scripts" / "fetch_d3.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fetch_d3 = _load_fetch_script()


def test_committed_bundle_matches_pinned_hash() -> None:
    data = (VENDOR / "d3.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == fetch_d3.D3_SHA256


def test_bundle_is_the_pinned_version() -> None:
    head = (VENDOR / "d3.min.js").read_bytes()[:200].decode("utf-8")
    assert f"v{fetch_d3.D3_VERSION} " in head


def test_licence_is_vendored() -> None:
    text = (VENDOR / "LICENSE").read_text(encoding="utf-8")
    assert "Mike Bostock" in text
    assert "Permission to use, copy, modify, and/or distribute" in text


def test_version_file_records_version_and_hash() -> None:
    text = (VENDOR / "VERSION").read_text(encoding="utf-8")
    assert text == fetch_d3.version_text(fetch_d3.D3_VERSION, fetch_d3.D3_SHA256)


def test_check_detects_a_modified_bundle(tmp_path: Path) -> None:
    (tmp_path / "d3.min.js").write_bytes((VENDOR / "d3.min.js").read_bytes() + b"\n")
    assert fetch_d3.check_committed(tmp_path) is False
    assert fetch_d3.check_committed(VENDOR) is True


def test_script_names_no_registry_host() -> None:
    text = (ROOT / "scripts" / "fetch_d3.py").read_text(encoding="utf-8")
    assert not re.search(r"https?://", text)
