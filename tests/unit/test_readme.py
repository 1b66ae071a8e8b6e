"""The README is part of the product: its commands, keys and context must stay true."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from builder import render as render_module
from builder.build import Builder, BuildOptions
from builder.config import CONFIG_KEYS, NETWORK_KEYS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [c.strip() for c in re.findall(r"```sh\n\s*(.+?)\n\s*```", section)]


def test_quick_start_has_exactly_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert "netjournal build" in commands[0]
    assert "pytest" in commands[1] and "chromium" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    last_command = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert last_command.strip() == quick_start_commands()[1].strip()


def test_no_placeholder_left_in_readme() -> None:
    assert "PLACEHOLDER" not in README


@pytest.mark.parametrize("key", list(CONFIG_KEYS))
def test_every_config_key_is_documented(key: str) -> None:
    assert f"| `{key}` |" in README


@pytest.mark.parametrize("key", list(NETWORK_KEYS))
def test_every_network_key_is_documented(key: str) -> None:
    assert f"| `network.{key}` |" in README


def documented_context() -> dict[str, list[str]]:
    """template -> names listed in the README's per-template context table."""
    section = README.split("Per template:", 1)[1].split("\n\n", 2)[1]
    table: dict[str, list[str]] = {}
    for line in section.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        templates = re.findall(r"`([\w/]+\.(?:html|xml))`", cells[0])
        described = cells[1]
        while re.search(r"\([^()]*\)", described):  # drop attribute lists, innermost first
            described = re.sub(r"\([^()]*\)", "", described)
        names = re.findall(r"`(\w+)`", described)
        for template in templates:
            table[template] = names
    return table


def test_documented_template_context_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, set[str]] = {}
    original = render_module.Renderer._render  # every page is rendered through it, with its full context

    def spy(self: Any, template: str, context: dict[str, Any]) -> bytes:
        seen.setdefault(template, set()).update(context)
        return original(self, template, context)

    monkeypatch.setattr(render_module.Renderer, "_render", spy)
    Builder().render(BuildOptions(ROOT, tmp_path / "out"))
    documented = documented_context()
    assert {"index.html", "post.html", "tag.html", "round.html", "feed.xml"} <= set(documented)
    for template, names in documented.items():
        if template.startswith("partials/"):
            continue
        assert template in seen, f"{template} was never rendered"
        missing = [n for n in names if n not in seen[template]]
        assert not missing, f"{template}: documented but not passed: {missing}"


def test_every_metric_is_defined_in_the_readme() -> None:
    from builder.metrics import METRICS

    for metric in METRICS:
        assert f"| {metric.label} |" in README, metric.key
        assert metric.definition in README, metric.key
