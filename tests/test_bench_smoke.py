"""The benchmark keeps working: one tiny run of bench/run.py (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_run_writes_a_table_and_json(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--sizes",
        "50",
        "--repeat",
        "1",
        "--json",
        str(report),
        "--work",
        str(tmp_path / "work"),
        "--quiet",
        "--network",
        "--people",
        "40",
        "--rounds",
        "3",
        "--serve",
        "--serve-sizes",
        "50",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert "| posts | pages | cold |" in done.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    (size,) = data["sizes"]
    assert size["posts"] == 50
    assert size["pages"] > 50  # posts, home and tag listings, archive...
    assert size["cold"] > 0 and size["warm"] > 0 and size["edit"] > 0
    assert size["warm_written"] == 0  # a no-change rebuild rewrites nothing
    assert size["edit_listings_ok"] is True  # the edited title reached every listing
    assert data["network"]["people"] == 40 and data["network"]["total"] > 0
    assert data["serve"][0]["reload"] > 0
    posts = sorted((tmp_path / "work" / "site-50-s42" / "content" / "posts").glob("*.md"))
    assert len(posts) == 50
