"""``netjournal check``: validate everything without writing, including internal links."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .build import Builder, BuildOptions
from .errors import SiteError, SiteErrors

HREF = re.compile(rb'(?:href|src)="([^"#?]*)')


def check_site(source: Path) -> tuple[list[SiteError], list[SiteError]]:
    """(errors, warnings) for the whole site, drafts and future posts included."""
    builder = Builder()
    options = BuildOptions(source, source / "public", drafts=True, future=True)
    try:
        site, files = builder.render(options)
    except SiteErrors as exc:
        return list(exc.errors), []
    except SiteError as exc:
        return [exc], []
    return broken_links(site, files), list(site.warnings)


def broken_links(site: Any, files: Mapping[str, bytes]) -> list[SiteError]:
    """Root-relative links in posts and pages that point at no output file."""
    base = site.config.base_path
    problems = []
    reported: set[str] = set()  # broken content links, as they appear in the output (base path added)
    for item in [*site.posts, *site.pages]:
        for href, line in item.body.links:
            path = unquote(urlsplit(href).path).lstrip("/")
            if not _exists(path, files):
                problems.append(
                    SiteError(
                        item.source, line, f"link to {href} points at no page", "fix the address, e.g. /posts/<slug>/"
                    )
                )
                reported.add(base + urlsplit(href).path.lstrip("/"))
    for path, data in files.items():
        if not path.endswith(".html") or (path.startswith("tags/") and b'http-equiv="refresh"' in data):
            continue
        for raw in HREF.findall(data):
            href = raw.decode("utf-8", "replace")
            # a summary repeats a post's broken link on listing pages: report it once, at its source line
            if href.startswith(base) and href not in reported and not _exists(unquote(href[len(base) :]), files):
                problems.append(SiteError(f"(output) {path}", None, f"template link to {href} points at no file"))
    return problems


def _exists(path: str, files: Mapping[str, bytes]) -> bool:
    path = path.lstrip("/")
    return path == "" or path in files or (path.rstrip("/") + "/index.html").lstrip("/") in files


def load_network(source: Path) -> Any:
    """The Network of a site folder (for ``netjournal network``), or None without rounds."""
    builder = Builder()
    site, _ = builder.render(BuildOptions(source, source / "public"))
    return site.network
