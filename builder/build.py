"""Orchestration: read -> parse -> assemble -> render -> write, with caches.

A :class:`Builder` lives as long as the process (one build for ``build``, many for
``serve``) and reuses parsed posts whose text and settings have not changed, so a
rebuild after one edit re-parses one post and re-renders templates only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from . import __version__
from .config import SiteConfig, parse_config
from .content import parse_page, parse_post
from .errors import ErrorList, SiteError, SiteErrors
from .model import Page, Post
from .render import find_theme, make_environment, render_site
from .search import add_search
from .site import Site, assemble
from .sources import Sources, read_sources
from .taxonomy import parse_tag_info
from .write import MANIFEST, WriteResult, write_output


@dataclass(frozen=True)
class BuildOptions:
    """What to build and how (the CLI flags of ``build`` and ``serve``)."""

    source: Path
    output: Path
    drafts: bool = False
    future: bool = False
    base_url: str | None = None
    now: datetime | None = None
    serve: bool = False


@dataclass(frozen=True)
class BuildResult:
    """The outcome of one build."""

    pages: int
    written: tuple[str, ...]
    removed: tuple[str, ...]
    seconds: float
    warnings: tuple[SiteError, ...] = ()
    files: dict[str, bytes] | None = None


def _key(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


class Builder:
    """Builds a site; keeps parsed content between builds (for ``serve`` and warm rebuilds)."""

    def __init__(self) -> None:
        self._posts: dict[str, Post] = {}
        self._pages: dict[str, Page] = {}
        self._network_cache: Any = None
        self.last_site: Site | None = None

    # --- stages -----------------------------------------------------------------------------
    def load_config(self, sources: Sources, options: BuildOptions) -> SiteConfig:
        config = parse_config(sources.config)
        if options.base_url:
            base = options.base_url if options.base_url.endswith("/") else options.base_url + "/"
            config = replace(config, base_url=base)
            parse_config(f"base_url: '{base}'")  # validates the flag like the file key
        return config

    def parse_posts(self, sources: Sources, config: SiteConfig, progress: Any = None) -> list[Post]:
        settings = _key(__version__, config.timezone, config.base_path)
        posts, errors, fresh = [], ErrorList(), {}
        total = len(sources.posts)
        for index, (path, text) in enumerate(sources.posts):
            if progress is not None and index % 200 == 0:
                progress.update("posts", index, total)
            key = _key(settings, path, text)
            post = self._posts.get(key)
            if post is None:
                try:
                    post = parse_post(path, text, config.tz, config.base_path)
                except SiteError as exc:
                    errors.extend([exc])
                    continue
                except SiteErrors as exc:
                    errors.extend(exc.errors)
                    continue
            fresh[key] = post
            posts.append(post)
        self._posts = fresh
        errors.raise_if_any()
        return posts

    def parse_pages(self, sources: Sources, config: SiteConfig) -> list[Page]:
        settings = _key(__version__, config.base_path)
        pages, errors, fresh = [], ErrorList(), {}
        for path, text in sources.pages:
            key = _key(settings, path, text)
            page = self._pages.get(key)
            if page is None:
                try:
                    page = parse_page(path, text, config.base_path)
                except SiteError as exc:
                    errors.extend([exc])
                    continue
            fresh[key] = page
            pages.append(page)
        self._pages = fresh
        errors.raise_if_any()
        return pages

    def load_rounds(self, sources: Sources) -> Any:
        if not sources.rounds:
            return None
        from .rounds import load_round_data  # networkx is only imported by sites with rounds

        return load_round_data(sources.people, list(sources.rounds))

    def network_factory(self, config: SiteConfig, round_data: Any) -> Any:
        from .network import MetricsCache, NetworkSettings, build_network

        if self._network_cache is None:
            self._network_cache = MetricsCache()
        net = config.network
        settings = NetworkSettings(labels=net.labels, me=net.me, colour_by=net.colour_by,
                                   exact_paths_up_to=net.exact_paths_up_to, seed=net.seed)

        def factory(posts: list[Post]) -> Any:
            by_person: dict[str, list[dict[str, str]]] = {}
            by_round: dict[int, list[dict[str, str]]] = {}
            for post in posts:
                ref = {"title": post.title, "url": config.base_path + post.url}
                for person in post.with_people:
                    by_person.setdefault(person, []).append(ref)
                if post.round:
                    by_round.setdefault(post.round, []).append(ref)
            return build_network(round_data, settings, cache=self._network_cache,
                                 person_posts=by_person, round_posts=by_round)

        return factory

    # --- the whole build --------------------------------------------------------------------------
    def render(self, options: BuildOptions, progress: Any = None) -> tuple[Site, dict[str, bytes]]:
        """Everything but writing: the site model and its files in memory."""
        sources = read_sources(options.source)
        errors = ErrorList()
        config = self.load_config(sources, options)
        results: dict[str, Any] = {}
        for name, stage in (
            ("posts", lambda: self.parse_posts(sources, config, progress)),
            ("pages", lambda: self.parse_pages(sources, config)),
            ("tags", lambda: parse_tag_info(sources.tags)),
            ("rounds", lambda: self.load_rounds(sources)),
        ):
            try:
                results[name] = stage()
            except SiteError as exc:
                errors.extend([exc])
            except SiteErrors as exc:
                errors.extend(exc.errors)
        errors.raise_if_any()
        now = options.now or datetime.now(config.tz)
        factory = self.network_factory(config, results["rounds"]) if results["rounds"] else None
        site = assemble(config, results["posts"], results["pages"], results["tags"], results["rounds"], now,
                        drafts=options.drafts, future=options.future, network_factory=factory)
        theme = find_theme(options.source, config.theme)
        env = make_environment(theme)
        files = render_site(site, env, read_assets(theme, sources))
        files = add_search(files, config)  # Pagefind bundle (builder/search.py); no-op when search: false
        self.last_site = site
        return site, files

    def build(
        self, options: BuildOptions, changed: Iterable[Path] | None = None, progress: Any = None
    ) -> BuildResult:
        """Build and write atomically. ``changed`` is a hint from serve; correctness never depends on it."""
        started = time.perf_counter()
        check_output_folder(options)
        site, files = self.render(options, progress)
        result: WriteResult = write_output(files, options.output)
        pages = sum(1 for p in files if p.endswith(".html"))
        return BuildResult(pages, result.written, result.removed, time.perf_counter() - started, site.warnings, files)


def read_assets(theme: Any, sources: Sources) -> dict[str, bytes]:
    """Theme static files, then the site's own static/ (which wins), plus Pygments CSS."""
    assets: dict[str, bytes] = {}
    for folder in theme.static_dirs:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    assets["static/" + path.relative_to(folder).as_posix()] = path.read_bytes()
    for out_path, path in sources.static:
        assets[out_path] = path.read_bytes()
    assets["static/css/pygments.css"] = pygments_css()
    return assets


def pygments_css() -> bytes:
    """Code highlighting colours for light and dark schemes, generated from Pygments styles."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs(".highlight")
    css = f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
    return css.encode("utf-8")


def check_output_folder(options: BuildOptions) -> None:
    """Refuse to replace a folder that is not a previous netjournal output (or is the site itself)."""
    output = options.output.resolve()
    source = options.source.resolve()
    if output == source or output in source.parents:
        raise SiteError(str(options.output), None, "the output folder contains the site's sources",
                        "choose another --output, e.g. public/")
    if output.is_dir() and any(output.iterdir()) and not (output / MANIFEST).is_file():
        raise SiteError(str(options.output), None, "output folder exists and was not written by netjournal",
                        "empty it, delete it, or choose another --output")
