"""``site.yaml`` -> a frozen, typed :class:`SiteConfig`.

Every key is declared once here with its type, default and a docstring-like
description (the README's configuration reference is checked against it), and
unknown keys are rejected with a "did you mean" so typos never pass silently.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ErrorList, SiteError, did_you_mean
from .yamlsrc import LineDict, load_yaml

CONFIG_FILE = "site.yaml"


@dataclass(frozen=True)
class NetworkConfig:
    """The ``network:`` section of site.yaml."""

    labels: str = "public"
    me: str | None = None
    colour_by: str = "organisation"
    exact_paths_up_to: int = 2000
    seed: int = 7
    explorer: str = "none"


@dataclass(frozen=True)
class MarkdownConfig:
    """The ``markdown:`` section of site.yaml."""

    engine: str = "python-markdown"


MARKDOWN_ENGINES = ("python-markdown", "cmark")  # as markup.ENGINES (markup imports Markdown; this must not)


@dataclass(frozen=True)
class SiteConfig:
    """Validated site settings; defaults make a minimal site.yaml enough."""

    title: str = "A netjournal site"
    description: str = ""
    base_url: str = "http://localhost:8000/"
    language: str = "en"
    author: str = ""
    timezone: str = "UTC"
    paginate: int = 10
    theme: str = "default"
    feed_size: int = 20
    related_posts: int = 3
    date_format: str = "%-d %B %Y"
    menu: tuple[tuple[str, str], ...] = (
        ("Posts", "/"),
        ("Tags", "/tags/"),
        ("Archive", "/archive/"),
        ("Network", "/network/"),
        ("Search", "/search/"),
    )
    search: bool = True
    network: NetworkConfig = field(default_factory=NetworkConfig)
    markdown: MarkdownConfig = field(default_factory=MarkdownConfig)

    @property
    def base_path(self) -> str:
        """The path part of base_url, always ending in ``/`` (``/journal/``)."""
        path = urlsplit(self.base_url).path or "/"
        return path if path.endswith("/") else path + "/"

    @property
    def site_root(self) -> str:
        """scheme://host of base_url, without the path."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# key -> (expected python type(s), description). The README's reference is tested against this.
CONFIG_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "title": ((str,), "Site title, shown in the header, feeds and page titles."),
    "description": ((str,), "One-sentence description for meta tags and the feed subtitle."),
    "base_url": ((str,), "Absolute URL the site is published at; a sub-path such as /journal/ is honoured."),
    "language": ((str,), "Language tag for <html lang> and the feed (e.g. en-GB)."),
    "author": ((str,), "Author name for feeds and meta tags."),
    "timezone": ((str,), "IANA time zone applied to post dates given without one (e.g. Europe/London)."),
    "paginate": ((int,), "Posts per page on the home page and tag pages."),
    "theme": ((str,), "Theme folder under themes/ (the default theme ships with the tool)."),
    "feed_size": ((int,), "Number of newest posts in each Atom feed."),
    "related_posts": ((int,), "How many related posts (sharing tags) a post page lists."),
    "date_format": ((str,), "strftime format for dates shown on pages."),
    "menu": ((list,), "Navigation entries: a list of {title, url} (url relative to the site root)."),
    "search": ((bool,), "Build the full-text search index and page (needs Pagefind)."),
    "network": ((dict,), "Network diagram settings (see below)."),
    "markdown": ((dict,), "Markdown engine settings (see below)."),
}

MARKDOWN_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "engine": ((str,), "python-markdown (default) or cmark (faster; needs pip install 'netjournal[fast]')."),
}

NETWORK_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "labels": ((str,), "public (name public people) or none (no names at all)."),
    "me": ((str,), "Participant id of the author; their node is highlighted."),
    "colour_by": ((str,), "organisation or sector: what node colours show."),
    "exact_paths_up_to": ((int,), "Largest component size for exact path metrics; sampled above."),
    "seed": ((int,), "Seed for the layout and sampled metrics (output is deterministic)."),
    "explorer": ((str,), "none, or d3graph to also write a d3graph explorer page per round."),
}


def parse_config(text: str | None, path: str = CONFIG_FILE) -> SiteConfig:
    """Validate site.yaml text (``None`` when the file is missing) into a SiteConfig."""
    if text is None:
        return SiteConfig()
    data = load_yaml(text, path)
    if data is None:
        return SiteConfig()
    if not isinstance(data, dict):
        raise SiteError(path, 1, "site.yaml must be a mapping of settings", "write key: value lines")
    errors = ErrorList()
    values = _check_section(data, CONFIG_KEYS, path, errors, prefix="")
    network = NetworkConfig()
    if isinstance(data.get("network"), dict):
        net_values = _check_section(data["network"], NETWORK_KEYS, path, errors, prefix="network.")
        network = _validated_network(net_values, data["network"], path, errors)
    values.pop("network", None)
    markdown = MarkdownConfig()
    if isinstance(data.get("markdown"), dict):
        md_values = _check_section(data["markdown"], MARKDOWN_KEYS, path, errors, prefix="markdown.")
        markdown = _validated_markdown(md_values, data["markdown"], path, errors)
    values.pop("markdown", None)
    if "menu" in values:
        values["menu"] = _parse_menu(values["menu"], data, path, errors)
    _check_values(values, data, path, errors)
    errors.raise_if_any()
    return SiteConfig(**values, network=network, markdown=markdown)


def _check_section(
    data: dict[str, Any], keys: dict[str, tuple[tuple[type, ...], str]], path: str, errors: ErrorList, prefix: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in data.items():
        line = data.line_of(key) if isinstance(data, LineDict) else None
        if key not in keys:
            hint = did_you_mean(key, keys, prefix) or "known keys: " + ", ".join(keys)
            errors.add(path, line, f"unknown setting '{prefix}{key}'", hint)
            continue
        types, _ = keys[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            errors.add(path, line, f"'{prefix}{key}' must be {wanted}, not {type(value).__name__}")
            continue
        values[key] = value
    return values


def _validated_network(values: dict[str, Any], data: Any, path: str, errors: ErrorList) -> NetworkConfig:
    choices = {"labels": ("public", "none"), "colour_by": ("organisation", "sector"), "explorer": ("none", "d3graph")}
    for key, allowed in choices.items():
        if key in values and values[key] not in allowed:
            line = data.line_of(key) if isinstance(data, LineDict) else None
            errors.add(path, line, f"network.{key} must be one of: {', '.join(allowed)}")
            values.pop(key)
    return NetworkConfig(**values)


def _validated_markdown(values: dict[str, Any], data: Any, path: str, errors: ErrorList) -> MarkdownConfig:
    """The engine must be known, and cmark's optional package installed (said here, not mid-build)."""
    engine = values.get("engine", MarkdownConfig.engine)
    line = data.line_of("engine") if isinstance(data, LineDict) else None
    if engine not in MARKDOWN_ENGINES:
        hint = did_you_mean(engine, MARKDOWN_ENGINES) or "leave it out for python-markdown"
        errors.add(path, line, f"markdown.engine must be one of: {', '.join(MARKDOWN_ENGINES)}", hint)
        return MarkdownConfig()
    if engine == "cmark" and not cmark_installed():
        errors.add(path, line, "markdown.engine cmark needs the cmarkgfm package", "pip install 'netjournal[fast]'")
    return MarkdownConfig(engine=engine)


def cmark_installed() -> bool:
    """Whether the optional cmarkgfm package can be imported (without importing it)."""
    return importlib.util.find_spec("cmarkgfm") is not None


def _parse_menu(menu: list[Any], data: Any, path: str, errors: ErrorList) -> tuple[tuple[str, str], ...]:
    entries = []
    for index, item in enumerate(menu):
        if not (isinstance(item, dict) and isinstance(item.get("title"), str) and isinstance(item.get("url"), str)):
            line = menu.line_of(index) if hasattr(menu, "line_of") else data.line_of("menu")
            errors.add(path, line, "each menu entry needs a title and a url", "e.g. - {title: About, url: /about/}")
            continue
        entries.append((item["title"], item["url"]))
    return tuple(entries)


def normalise_base_url(value: str) -> str:
    """An absolute http(s) URL ending in ``/``; ValueError otherwise (one rule for site.yaml and --base-url)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("base_url must be an absolute http(s) URL")
    return value if value.endswith("/") else value + "/"


def _check_values(values: dict[str, Any], data: Any, path: str, errors: ErrorList) -> None:
    def line(key: str) -> int | None:
        return data.line_of(key) if isinstance(data, LineDict) else None

    if "base_url" in values:
        try:
            values["base_url"] = normalise_base_url(values["base_url"])
        except ValueError as exc:
            errors.add(path, line("base_url"), str(exc), "e.g. https://example.org/")
    for key in ("paginate", "feed_size"):
        if key in values and values[key] < 1:
            errors.add(path, line(key), f"{key} must be at least 1")
    if "timezone" in values:
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            errors.add(
                path,
                line("timezone"),
                f"unknown time zone '{values['timezone']}'",
                "use an IANA name such as Europe/London",
            )
