"""config.py: defaults, validation with lines, "did you mean", base paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from builder.config import CONFIG_KEYS, MARKDOWN_KEYS, NETWORK_KEYS, SiteConfig, parse_config
from builder.errors import SiteError, SiteErrors


def errors(text: str) -> list[str]:
    with pytest.raises((SiteError, SiteErrors)) as info:
        parse_config(text)
    exc = info.value
    return [e.format() for e in (exc.errors if isinstance(exc, SiteErrors) else [exc])]


def test_missing_or_empty_config_gives_defaults():
    assert parse_config(None) == SiteConfig()
    assert parse_config("") == SiteConfig()
    assert SiteConfig().paginate == 10 and SiteConfig().network.labels == "public"


def test_values_are_read():
    config = parse_config("title: T\nbase_url: https://example.org/journal\npaginate: 3\nnetwork:\n  me: ada\n")
    assert config.title == "T" and config.paginate == 3 and config.network.me == "ada"
    assert config.base_url == "https://example.org/journal/"  # trailing slash added
    assert config.base_path == "/journal/" and config.site_root == "https://example.org"


def test_unknown_keys_did_you_mean_with_lines():
    assert errors("title: T\npaginat: 5\nnetwork:\n  lables: none\n") == [
        "site.yaml:2: unknown setting 'paginat' (did you mean 'paginate'?)",
        "site.yaml:4: unknown setting 'network.lables' (did you mean 'network.labels'?)",
    ]


def test_wrong_types_and_values():
    assert errors("paginate: many\nsearch: 1\n") == [
        "site.yaml:1: 'paginate' must be int, not str",
        "site.yaml:2: 'search' must be bool, not int",
    ]
    assert errors("paginate: true\n") == ["site.yaml:1: 'paginate' must be int, not bool"]
    assert errors("paginate: 0\n") == ["site.yaml:1: paginate must be at least 1"]
    assert errors("base_url: example.org\n")[0].startswith("site.yaml:1: base_url must be an absolute http(s) URL")
    assert errors("timezone: Mars/Olympus\n")[0].startswith("site.yaml:1: unknown time zone 'Mars/Olympus'")
    assert errors("network:\n  labels: all\n") == ["site.yaml:2: network.labels must be one of: public, none"]


def test_menu_entries():
    config = parse_config("menu:\n  - {title: Home, url: /}\n  - {title: About, url: /about/}\n")
    assert config.menu == (("Home", "/"), ("About", "/about/"))
    assert errors("menu:\n  - {title: Home}\n")[0].startswith("site.yaml:2: each menu entry needs a title and a url")


def test_not_a_mapping_and_broken_yaml():
    assert errors("- a\n")[0].startswith("site.yaml:1: site.yaml must be a mapping")
    assert errors("title: 'unclosed\n")[0].startswith("site.yaml:1: invalid YAML")


def test_every_key_has_a_description():
    for keys in (CONFIG_KEYS, NETWORK_KEYS):
        for key, (types, description) in keys.items():
            assert types and len(description) > 10, key


def test_markdown_engine_default_and_choice():
    assert SiteConfig().markdown.engine == "python-markdown"
    assert parse_config("title: T\n").markdown.engine == "python-markdown"
    assert parse_config("markdown:\n  engine: cmark\n").markdown.engine == "cmark"
    assert parse_config("markdown:\n  engine: python-markdown\n").markdown.engine == "python-markdown"


def test_markdown_engine_errors_name_the_line_and_suggest():
    assert errors("title: T\nmarkdown:\n  engine: cmarkgfm\n") == [
        "site.yaml:3: markdown.engine must be one of: python-markdown, cmark (did you mean 'cmark'?)"
    ]
    assert errors("markdown:\n  engin: cmark\n") == [
        "site.yaml:2: unknown setting 'markdown.engin' (did you mean 'markdown.engine'?)"
    ]
    assert errors("markdown: cmark\n") == ["site.yaml:1: 'markdown' must be dict, not str"]


def test_cmark_without_cmarkgfm_is_an_error_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "cmarkgfm", None)  # what find_spec reports for a missing package
    assert errors("markdown:\n  engine: cmark\n") == [
        "site.yaml:2: markdown.engine cmark needs the cmarkgfm package (pip install 'netjournal[fast]')"
    ]


def test_every_markdown_key_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for key in MARKDOWN_KEYS:
        assert f"| `markdown.{key}` |" in readme
