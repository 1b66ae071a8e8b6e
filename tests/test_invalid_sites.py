"""Every site under tests/sites/invalid/ must fail with exactly the lines in its expected.txt.

Each case is a complete small site with one mistake; ``expected.txt`` holds the
``file:line: message`` line(s) that ``netjournal check`` and ``build`` print.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main

CASES = sorted(p for p in (Path(__file__).parent / "sites" / "invalid").iterdir() if p.is_dir())


def expected_lines(case: Path) -> list[str]:
    lines = (case / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert lines and all(":" in line for line in lines), f"{case}/expected.txt needs file:line: message lines"
    return lines


def test_there_are_cases():
    assert len(CASES) >= 13


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_check_reports_exact_lines(case, capsys):
    status = main(["check", "--source", str(case)])
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.endswith("error(s).")]
    assert lines == expected_lines(case)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_build_reports_same_lines_and_writes_nothing(case, capsys, tmp_path):
    output = tmp_path / "public"
    status = main(["build", "--source", str(case), "--output", str(output), "--quiet"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.splitlines() == expected_lines(case)
    assert not output.exists()
