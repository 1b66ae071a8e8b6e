"""Orchestration: read -> parse -> assemble -> render -> write, with caches.

A :class:`Builder` lives as long as the process (one build for ``build``, many for
``serve``) and reuses parsed posts whose text and settings have not changed, so a
rebuild after one edit re-parses one post and re-renders templates only.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .cache import (
    CACHE_DIR,
    ContentCache,
    builder_fingerprint,
    clear_stamp,
    code_fingerprint,
    hash_parts,
    load_post_index,
    load_state,
    prepare_folder,
    read_stamp,
    save_post_index,
    save_state,
    tree_fingerprint,
    tree_stats,
    write_stamp,
)
from .config import SiteConfig, normalise_base_url, parse_config
from .errors import ErrorList, SiteError, SiteErrors
from .nogc import paused_gc
from .sources import Sources, read_sources
from .write import MANIFEST, WriteResult, read_manifest, write_output

RACY_NS = 2_000_000_000  # coarsest common file time resolution (FAT: 2 s)
BUILTIN_THEMES = Path(__file__).resolve().parent.parent / "themes"  # as render.BUILTIN_THEMES, without Jinja

if TYPE_CHECKING:  # the heavy stages (Markdown, Jinja, networkx) are imported when first needed
    from .model import Page, Post
    from .outfiles import OutputFiles
    from .pagecache import PageMemo
    from .site import Site


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
    cache: bool = True  # keep a persistent cache (``--no-cache`` turns it off)
    cache_dir: Path | None = None  # default: SOURCE/.netjournal-cache
    jobs: int | None = None  # processes for Markdown and page rendering on cold builds (default: all cores)

    def processes(self) -> int:
        """How many processes this build may use (``--jobs``, else every core we may run on)."""
        from .parallel import workers

        return workers() if self.jobs is None else self.jobs

    def cache_folder(self) -> Path | None:
        if not self.cache:
            return None
        return self.cache_dir if self.cache_dir is not None else self.source / CACHE_DIR


@dataclass(frozen=True)
class BuildResult:
    """The outcome of one build."""

    pages: int
    written: tuple[str, ...]
    removed: tuple[str, ...]
    seconds: float
    warnings: tuple[SiteError, ...] = ()
    files: Mapping[str, bytes] | None = None  # None when nothing changed and nothing was rendered
    skipped: bool = False  # True when the inputs matched the last build's and rendering was skipped


def _key(*parts: str) -> str:
    return hash_parts(*parts)


class Builder:
    """Builds a site; keeps parsed content between builds (for ``serve`` and warm rebuilds)."""

    def __init__(self) -> None:
        self._valid_until: datetime | None = None
        self._content = ContentCache(None)
        self._identity: dict[int, str] = {}  # id(Post/Page) -> its cache key, for the page cache
        self._memo: PageMemo | None = None
        self._memo_output: Path | None = None
        self._content_folder: Path | None = None
        self._network_cache: Any = None
        self._rounds_memo: tuple[str, Any] | None = None
        self._network_memo: tuple[str, Any, Any] | None = None
        self._network_key = ""
        # ((theme, its templates' names/sizes/times), Jinja environment): compiled once, replaced on change
        self._env: tuple[Any, Any] | None = None
        self._saved_once = False
        self._texts: dict[int, tuple[str, str, str]] = {}  # id(text) -> (text, path, digest), one build
        self._unread: Mapping[str, str] = {}  # posts this build did not read: path -> digest (Sources.unread)
        self._post_index: dict[str, tuple[int, int, str]] | None = None  # path -> (size, mtime_ns, digest)
        self._index_scanned = 0  # when the build that wrote the index began reading (ns)
        self._index_folder: Path | None = None
        self.last_site: Site | None = None
        # Small derived values worth keeping across processes (related posts, the network), saved in
        # the cache folder as state-<code fingerprint>.pickle: a code change starts them afresh.
        self._state: dict[str, Any] = {}
        self._state_folder: Path | None = None
        self._state_dirty = False
        self._rounds_key = ""
        self._related_live: dict[str, Any] = {}  # serve: the last related lists as objects (in memory only)
        self._deferred: dict[str, Callable[[], None]] = {}  # serve: saves left for flush()
        # serve: the last build's sources (texts forgotten), patched with the watcher's paths
        # instead of walking the posts again (_watched_sources)
        self._last_sources: Sources | None = None
        self._digest_memo: tuple[tuple[tuple[str, str], ...], list[str]] | None = None  # _post_digests
        # While a build runs: objects alive after assembly (posts, caches, the site) are moved out
        # of the collector's reach (gc.freeze), so its full collections stop walking them again
        # and again (~0.1 s of a one-edit build at 10,000 posts); unfrozen when the build ends.
        self._freeze = False

    # --- stages -----------------------------------------------------------------------------
    def _text_digest(self, path: str, text: str) -> str:
        """Hash of (path, text), computed once per build: the build fingerprint and the content
        cache keys both need it, and hashing every source twice cost ~10 ms per 1,000 posts."""
        known = self._unread.get(path)
        if known is not None and text == "":  # not read: its size and time match the last build's
            return known
        found = self._texts.get(id(text))
        if found is not None and found[0] is text and found[1] == path:  # holds text: id not reused
            return found[2]
        digest = _key(path, text)
        self._texts[id(text)] = (text, path, digest)
        return digest

    def _post_digests(self, sources: Sources) -> list[str]:
        """``_text_digest`` of every post, in order, once per build (three stages need them)."""
        memo = self._digest_memo
        if memo is not None and memo[0] is sources.posts:
            return memo[1]
        unread = self._unread
        if unread and not any(map(len, map(itemgetter(1), sources.posts))):  # no text read: all known
            digests = list(map(unread.__getitem__, map(itemgetter(0), sources.posts)))
        else:
            digests = [self._text_digest(path, text) for path, text in sources.posts]
        self._digest_memo = (sources.posts, digests)  # (holds the tuple: its id stays its own)
        return digests

    def load_config(self, sources: Sources, options: BuildOptions) -> SiteConfig:
        config = parse_config(sources.config)
        if options.base_url:
            try:
                config = replace(config, base_url=normalise_base_url(options.base_url))
            except ValueError as exc:
                raise SiteError(
                    "--base-url", None, f"{exc}: {options.base_url!r}", "e.g. https://example.org/"
                ) from None
        return config

    def _use_cache(self, options: BuildOptions, config: SiteConfig) -> str:
        """Point the content cache at this build's folder and settings; returns the settings key."""
        folder = options.cache_folder()
        if folder != self._content_folder:
            self._content = ContentCache(folder)
            self._content_folder = folder
        settings = _key(
            __version__,
            code_fingerprint(),
            code_fingerprint(("fastmd.py",), ("cmarkgfm",)),
            config.timezone,
            config.base_path,
            config.markdown.engine,
        )
        self._content.fallback = partial(
            _parse_again, options.source, config.timezone, config.base_path, config.markdown.engine
        )
        with paused_gc(freeze=self._freeze):
            self._content.load(settings)
        return settings

    def _parse(
        self,
        kind: str,
        items: tuple[tuple[str, str], ...],
        settings: str,
        config: SiteConfig,
        options: BuildOptions,
        used: set[str],
        progress: Any = None,
        sources: Sources | None = None,
    ) -> list[Any]:
        """Posts or pages from the cache, the missing ones parsed (across cores when many)."""
        from .parallel import parse_all, to_errors

        # The settings are not hashed into each key: the cache's files are per settings already
        # (20,000 extra hashes were ~0.2 s of a one-edit build at 10,000 posts).
        suffix = ":" + kind
        digests = self._post_digests(sources) if sources is not None and items is sources.posts else None
        keys = [
            digest + suffix
            for digest in (digests if digests is not None else (self._text_digest(p, t) for p, t in items))
        ]
        found = list(map(self._content.entries.get, keys))
        missing = [i for i, value in enumerate(found) if value is None] if None in found else []
        if self._unread and missing and sources is not None:  # in the index but not in the cache: read now
            fetched = list(items)
            for i in missing:
                path, text = items[i]
                if text == "" and path in self._unread:
                    fetched[i] = (path, sources.text_of(path))
            items = tuple(fetched)
        report = None
        if progress is not None:

            def report(done: int, total: int) -> None:
                progress.update(kind + "s", done, total)

        outcomes = parse_all(
            kind,
            [items[i] for i in missing],
            config.timezone,
            config.base_path,
            jobs=options.jobs,
            on_progress=report,
            engine=config.markdown.engine,
        )
        errors = ErrorList()
        for index, outcome in zip(missing, outcomes, strict=True):
            if outcome[0] == "ok":
                self._content.put(keys[index], outcome[1])
            else:
                errors.extend(to_errors(outcome))
        errors.raise_if_any()
        used.update(keys)
        parsed = list(map(self._content.entries.get, keys))
        self._identity.update(zip(map(id, parsed), keys, strict=True))
        return parsed

    def parse_posts(
        self,
        sources: Sources,
        config: SiteConfig,
        progress: Any = None,
        options: BuildOptions | None = None,
        used: set[str] | None = None,
    ) -> list[Post]:
        options = options or BuildOptions(sources.root, sources.root / "public", cache=False)
        settings = self._use_cache(options, config)
        used = set() if used is None else used
        return self._parse("post", sources.posts, settings, config, options, used, progress, sources)

    def parse_pages(
        self,
        sources: Sources,
        config: SiteConfig,
        options: BuildOptions | None = None,
        used: set[str] | None = None,
    ) -> list[Page]:
        options = options or BuildOptions(sources.root, sources.root / "public", cache=False)
        settings = self._use_cache(options, config)
        return self._parse("page", sources.pages, settings, config, options, set() if used is None else used)

    def load_rounds(self, sources: Sources) -> Any:
        if not sources.rounds:
            return None
        key = _key(*(sources.people or ("-", "-")), *(part for pair in sources.rounds for part in pair))
        self._rounds_key = key
        if self._rounds_memo is not None and self._rounds_memo[0] == key:
            return self._rounds_memo[1]  # same texts: the same (immutable) round data
        from .rounds import load_round_data  # networkx is only imported by sites with rounds

        data = load_round_data(sources.people, list(sources.rounds))
        self._rounds_memo = (key, data)
        return data

    @staticmethod
    def network_settings(config: SiteConfig) -> Any:
        from .network import NetworkSettings

        net = config.network
        return NetworkSettings(
            labels=net.labels,  # type: ignore[arg-type]  # config.py validated the value
            me=net.me,
            colour_by=net.colour_by,  # type: ignore[arg-type]
            exact_paths_up_to=net.exact_paths_up_to,
            seed=net.seed,
        )

    def _start_network_warmup(self, config: SiteConfig, round_data: Any, options: BuildOptions) -> Any:
        """Compute the network's metrics and layout on another core while posts are parsed
        (builder/warmup.py), unless this build will reuse the last build's network."""
        if round_data is None:
            return None
        memo = self._network_memo
        if memo is not None and memo[1] is round_data:
            return None  # serve: the same round data as the last build
        stored = self._state.get("network")
        if stored is not None and stored[1] == self._rounds_key:
            return None  # the stored network is for this round data (reused unless post links changed)
        from . import warmup

        return warmup.start(round_data, self.network_settings(config), options.processes())

    def network_factory(self, config: SiteConfig, round_data: Any) -> Any:
        from .network import MetricsCache, build_network

        if self._network_cache is None:
            self._network_cache = MetricsCache()
        settings = self.network_settings(config)

        def factory(posts: list[Post]) -> Any:
            by_person: dict[str, list[dict[str, str]]] = {}
            by_round: dict[int, list[dict[str, str]]] = {}
            for post in posts:
                if not post.with_people and not post.round:
                    continue  # most posts (no dict made for them)
                ref = {"title": post.title, "url": config.base_path + post.url}
                for person in post.with_people:
                    by_person.setdefault(person, []).append(ref)
                if post.round:
                    by_round.setdefault(post.round, []).append(ref)
            key = _key(repr(settings), repr(sorted(by_person.items())), repr(sorted(by_round.items())))
            memo = self._network_memo
            if memo is not None and memo[0] == key and memo[1] is round_data:
                return memo[2]  # nothing the network depends on changed (serve: one post edited)
            stored = self._state.get("network")
            if stored is not None and stored[0] == key and stored[1] == self._rounds_key:
                self._network_memo = (key, round_data, stored[2])  # a new process: the last build's network
                self._network_key = key
                return stored[2]
            network = build_network(
                round_data, settings, cache=self._network_cache, person_posts=by_person, round_posts=by_round
            )
            self._network_memo = (key, round_data, network)
            self._network_key = key
            self._state["network"] = (key, self._rounds_key, network)
            self._state_dirty = True
            return network

        return factory

    # --- the whole build --------------------------------------------------------------------------
    def render(
        self,
        options: BuildOptions,
        progress: Any = None,
        sources: Sources | None = None,
        used: set[str] | None = None,
        memo: tuple[PageMemo, str] | None = None,
        sink: OutputFiles | None = None,
    ) -> tuple[Site, MutableMapping[str, bytes]]:
        """Everything but writing: the site model and its files in memory.

        ``memo``: (page cache, build-wide input hash) to skip pages whose context is unchanged;
        ``sink``: the mapping the files go into (default: a dict).
        """
        from .render import find_theme, make_environment, render_site
        from .site import assemble
        from .taxonomy import parse_tag_info

        sources = sources or read_sources(options.source)
        self._load_state(options.cache_folder())
        used = set() if used is None else used
        self._identity = {}  # ids of objects from earlier builds may be reused: start afresh
        errors = ErrorList()
        config = self.load_config(sources, options)
        results: dict[str, Any] = {}
        found: dict[str, list[SiteError]] = {}
        for name, stage in (  # round data first, so its network can be computed while posts are parsed
            ("rounds", lambda: self.load_rounds(sources)),
            ("warmup", lambda: self._start_network_warmup(config, results.get("rounds"), options)),
            ("posts", lambda: self.parse_posts(sources, config, progress, options, used)),
            ("pages", lambda: self.parse_pages(sources, config, options, used)),
            ("tags", lambda: parse_tag_info(sources.tags)),
        ):
            try:
                results[name] = stage()
            except SiteError as exc:
                found[name] = [exc]
            except SiteErrors as exc:
                found[name] = list(exc.errors)
        if results.get("warmup") is not None:
            if self._network_cache is None:
                from .network import MetricsCache

                self._network_cache = MetricsCache()
            results["warmup"].finish(self._network_cache)
        for name in ("posts", "pages", "tags", "rounds"):  # reported in reading order
            errors.extend(found.get(name, []))
        errors.raise_if_any()
        # Parsed: the post texts are no longer needed, and at 10,000 posts they are ~120 MB.
        digests = dict(zip(map(itemgetter(0), sources.posts), self._post_digests(sources), strict=True))
        sources.forget_post_texts(digests)
        self._unread = sources.unread
        if options.serve:
            self._last_sources = sources
        self._texts = {}
        self._digest_memo = None
        now = options.now or datetime.now(config.tz)
        dates = list(map(attrgetter("date"), results["posts"]))
        later = [date for date in dates if date > now] if dates and max(dates) > now else []
        self._valid_until = min(later) if later else None  # when a future post goes live, output changes
        factory = self.network_factory(config, results["rounds"]) if results["rounds"] else None
        site = assemble(
            config,
            results["posts"],
            results["pages"],
            results["tags"],
            results["rounds"],
            now,
            drafts=options.drafts,
            future=options.future,
            network_factory=factory,
            related_memo=self._state.setdefault("related", {}),
            related_live=self._related_live if options.serve else None,
            tags_memo=self._state.setdefault("tags", {}),
            jobs=1 if options.serve else options.processes(),
        )
        if self._freeze:  # what is alive now lives to the end of the build: collections skip it
            gc.freeze()
        remembered = (self._state["related"].get("key"), self._state["tags"].get("key"))
        if self._state.get("remembered") != remembered:
            self._state["remembered"] = remembered
            self._state_dirty = True
        theme = find_theme(options.source, config.theme)
        templates = tree_fingerprint(theme.template_dirs)  # a few dozen stats: Jinja need not stat per page
        if self._env is None or self._env[0] != (theme, templates):
            folder = options.cache_folder()
            jinja_dir = None
            if folder is not None:
                with contextlib.suppress(OSError):
                    prepare_folder(folder)  # (its .gitignore first)
                jinja_dir = folder / "jinja"
            self._env = ((theme, templates), make_environment(theme, jinja_dir, auto_reload=False))
        env = self._env[1]
        page_memo = self._start_memo(memo, site, theme, options, progress, sink) if memo else None
        jobs = options.processes()
        files: MutableMapping[str, bytes] = render_site(
            site, env, read_assets(theme, sources), memo=page_memo, sink=sink, jobs=jobs
        )
        if config.search:  # (guard added by build: add_search copies every file into a new dict even when off)
            from .search import add_search  # (asyncio and more: only for sites with search)

            files = add_search(
                files, config, stale_ok=options.serve
            )  # Pagefind bundle (builder/search.py); no-op when search: false
        from .explorer import explorer_pages  # d3graph itself is imported only when network.explorer asks

        files.update(explorer_pages(site.network, config))  # optional d3graph pages; {} by default
        self.last_site = site
        self._texts = {}  # the digests are for this build's texts only (and must not keep them alive)
        self._digest_memo = None
        return site, files

    def quick_stats(self, options: BuildOptions) -> tuple[str, int, dict[str, list[tuple[str, int, int]]]]:
        """Code, options and the names, sizes and times of every file the site is built from.

        Cheap (no file is read); when it matches the last build's, nothing changed. When it does
        not, the texts are read and hashed, so touching a file without changing it costs a read,
        never a wrong result.
        """
        root = options.source
        folders = [root / name for name in ("content", "data", "static", "templates", "themes")]
        config = root / "site.yaml"
        st = config.stat() if config.is_file() else None
        tree, newest, listing = tree_stats([*folders, BUILTIN_THEMES])
        key = _key(
            builder_fingerprint(),
            repr((options.drafts, options.future, options.base_url, options.serve)),
            options.now.isoformat() if options.now else "-",
            str(options.output.resolve()),
            f"{st.st_size}|{st.st_mtime_ns}" if st else "-",
            tree,
        )
        return key, max(newest, st.st_mtime_ns if st else 0), listing

    def input_hashes(self, sources: Sources, config: SiteConfig, options: BuildOptions) -> tuple[str, str]:
        """(everything but the posts, the posts): the first is the page cache's build-wide key."""
        from .render import BUILTIN_THEMES

        parts: list[str] = [
            builder_fingerprint(),
            repr((options.drafts, options.future, options.base_url, options.serve)),
            options.now.isoformat() if options.now else "-",
            str(options.output.resolve()),
            sources.config or "-",
            sources.tags or "-",
            *(sources.people or ("-", "-")),
        ]
        for group in (sources.pages, sources.rounds):
            parts.append(str(len(group)))
            for path, text in group:
                parts += [path, text]
        for out_path, file in sources.static:
            st = file.stat()
            parts.append(f"{out_path}|{st.st_size}|{st.st_mtime_ns}")
        root = options.source
        themes = [root / "themes", root / "templates", BUILTIN_THEMES / config.theme]
        parts.append(tree_fingerprint(themes))
        posts = [str(len(sources.posts)), *self._post_digests(sources)]
        return _key(*parts), _key(*posts)

    def build(self, options: BuildOptions, changed: Iterable[Path] | None = None, progress: Any = None) -> BuildResult:
        """Build and write atomically. ``changed`` is a hint from serve; correctness never depends on it.

        When every input matches the last build into this output (and no future-dated post
        has gone live since), nothing is parsed, rendered or written.
        """
        # While a build runs, what it loads from the cache folder and assembles lives to its end:
        # frozen out of the cyclic collector's reach (paused_gc(freeze=...), gc.freeze after
        # assembly), so collections stop walking it again and again; unfrozen when the build ends.
        self._freeze = True
        try:
            return self._build_if_changed(options, progress, changed)
        finally:
            self._freeze = False
            gc.unfreeze()  # (serve) what this build left behind is collectable again

    def _build_if_changed(
        self, options: BuildOptions, progress: Any, changed: Iterable[Path] | None = None
    ) -> BuildResult:
        started = time.perf_counter()
        self._texts = {}
        self._digest_memo = None
        check_output_folder(options)
        folder = options.cache_folder()
        stamp = read_stamp(folder, options.output)
        scanned = time.time_ns()
        # serve rebuilds because a file changed: the no-change check would only cost a walk of the site
        check = folder is not None and not options.serve
        quick, newest, listing = self.quick_stats(options) if check else (None, 0, {})  # before
        if (  # reading: edits during the build then count as changes next time
            stamp is not None
            and quick is not None
            and stamp.get("quick") == quick
            and newest < int(stamp.get("scanned", 0)) - RACY_NS  # a file saved that close may differ unseen
            and _stamp_holds(stamp, stamp.get("fingerprint"), options.now or datetime.now(UTC), options.output)
        ):  # no file under the site's folders changed size or time: not even the texts are read
            warnings = tuple(SiteError(*w) for w in stamp.get("warnings", ()))
            return BuildResult(int(stamp["pages"]), (), (), time.perf_counter() - started, warnings, None, True)
        index, racy_after = self._load_post_index(folder)
        content = listing.get(str(options.source / "content"))
        sources = None
        if content is None and options.serve and changed is not None:  # the watcher's word, not a walk
            sources = self._watched_sources(options.source, changed, index, racy_after)
        if sources is None:
            sources = read_sources(options.source, index, racy_after, content)
        self._unread = sources.unread
        config = self.load_config(sources, options)
        site_inputs, post_inputs = self.input_hashes(sources, config, options)
        fingerprint = _key(site_inputs, post_inputs)
        now = options.now or datetime.now(config.tz)
        if stamp is not None and _stamp_holds(stamp, fingerprint, now, options.output):
            if quick is not None and (stamp.get("quick") != quick or stamp.get("scanned") != scanned):
                write_stamp(folder, options.output, {**stamp, "quick": quick, "scanned": scanned})  # touched only
            self._save_post_index(folder, sources, scanned, options)
            self._unread = {}
            warnings = tuple(SiteError(*w) for w in stamp.get("warnings", ()))
            return BuildResult(int(stamp["pages"]), (), (), time.perf_counter() - started, warnings, None, True)
        clear_stamp(folder, options.output)  # a failed build must not leave a stamp that skips the next
        return self._build(options, folder, quick, scanned, sources, site_inputs, fingerprint, progress, started)

    def _build(
        self,
        options: BuildOptions,
        folder: Path | None,
        quick: str | None,
        scanned: int,
        sources: Sources,
        site_inputs: str,
        fingerprint: str,
        progress: Any,
        started: float,
    ) -> BuildResult:
        """Parse, render and write (``build`` once it knows something changed)."""
        used: set[str] = set()
        memo = self._page_memo(options, folder)
        memo.retain = options.serve  # serve answers the next edit from memory; build keeps no page bytes
        memo.lazy = not options.serve  # build: unchanged pages are left in the old output, unread
        # build: which pages the last build made from which posts (builder/plan.py), from the cache folder
        memo.stores_plan = folder is not None and not options.serve
        from .plan import StoredPlan

        if memo.stores_plan and not isinstance(memo.plan, StoredPlan):
            memo.plan = None
            with paused_gc(freeze=self._freeze):
                memo.load_plan(_plan_path(folder, options.output))  # type: ignore[arg-type]  # folder is set
        from .outfiles import OutputFiles, own_manifest

        manifest = own_manifest(options.output) if options.serve else None  # (serve: what it wrote)
        if manifest is None:
            manifest = read_manifest(options.output) if options.output.is_dir() else {}
        sink = OutputFiles(
            options.output,
            manifest,
            trust_own_writes=options.serve,  # serve wrote the output itself: no stat per file per rebuild
        )
        memo.present = sink.present  # pages reused from the old output: checked by the same stat pass
        sink.check_ahead()  # ... which runs in another process meanwhile
        try:
            site, files = self.render(options, progress, sources, used, memo=(memo, site_inputs), sink=sink)
            result: WriteResult = write_output(files, options.output)
        finally:
            sink.discard()  # a failed build leaves no spilled files behind
            self._texts = {}
            self._digest_memo = None
            self._unread = {}
        pages = sum(1 for p in files if p.endswith(".html"))
        memo.finish()
        if folder is not None:
            self._save(options, "memo", partial(memo.save, _memo_path(folder, options.output)))
            memo.save_plan(_plan_path(folder, options.output))
        self._remember(options, folder, used, fingerprint, pages, site.warnings, quick, scanned)
        self._save_post_index(folder, sources, scanned, options)
        self._save(options, "state", self._save_state)
        return BuildResult(pages, result.written, result.removed, time.perf_counter() - started, site.warnings, files)

    def _load_state(self, folder: Path | None) -> None:
        if folder == self._state_folder and (self._state or folder is None):
            return
        self._state_folder = folder
        with paused_gc(freeze=self._freeze):
            self._state = load_state(folder, builder_fingerprint()) if folder is not None else {}
        self._state_dirty = False

    def _save_state(self) -> None:
        if self._state_dirty and self._state_folder is not None:
            save_state(self._state_folder, builder_fingerprint(), self._state)
        self._state_dirty = False

    # --- serve: which posts changed, from the file watcher --------------------------------------
    def _posts_reported(self, root: Path, changed: Iterable[Path]) -> dict[str, os.stat_result | None] | None:
        """The watcher's paths under content/posts/ as post paths -> their stat now (None: gone);
        None when a folder is involved (content/posts/ itself, a parent, or one inside it), which
        only a walk can settle. Other paths are left to ``read_sources`` (read every build)."""
        posts = root / "content" / "posts"
        found: dict[str, os.stat_result | None] = {}
        for path in changed:
            rel = _relative_to(Path(path), posts)
            if not rel:
                if _relative_to(posts, Path(path)) is not None:
                    return None  # content/posts/, content/ (or the site) itself
                continue  # not under content/posts/
            try:
                st: os.stat_result | None = os.stat(path)
            except FileNotFoundError:
                st = None
            except OSError:
                return None
            if st is not None and stat.S_ISDIR(st.st_mode):
                return None  # a folder appeared or was moved in
            found["content/posts/" + rel] = st
        return found

    def _watched_sources(
        self, root: Path, changed: Iterable[Path], known: Mapping[str, tuple[int, int, str]], racy_after: int
    ) -> Sources | None:
        """serve: this build's sources from the last build's and the watcher's paths, without a walk
        of 10,000 posts (~0.1 s a rebuild): edits of posts that build had re-read only those
        (``reread_sources``); new, deleted or renamed posts patch its listing. None (walk) when
        there is no last build or a folder changed. A change the watcher missed is found by
        ``unseen_changes``, which serve runs when idle."""
        from .sources import is_post_path, reread_sources

        prev = self._last_sources
        if prev is None or prev.root != root:
            return None
        reported = self._posts_reported(root, changed)
        if reported is None:
            return None
        stats = prev.post_stats
        # an existing file that is not a post (a note, a hidden file) changes nothing; a path that
        # is gone may have been a post or a folder of them
        relevant = {
            path: st for path, st in reported.items() if st is None or is_post_path(path[len("content/posts/") :])
        }
        if all(st is not None and path in stats for path, st in relevant.items()):  # known posts, edited
            edited = {path: (st.st_size, st.st_mtime_ns) for path, st in relevant.items() if st is not None}
            return reread_sources(prev, edited, known, racy_after)
        listing = dict(stats)
        for path, st in reported.items():
            if st is None:  # deleted: the file, or a folder and everything in it
                listing.pop(path, None)
                for name in [name for name in listing if name.startswith(path + "/")]:
                    del listing[name]
            elif is_post_path(path[len("content/posts/") :]):
                listing[path] = (st.st_size, st.st_mtime_ns)
        content = [(name[len("content/") :], size, mtime) for name, (size, mtime) in listing.items()]
        return read_sources(root, known, racy_after, content)

    def unseen_changes(self, root: Path) -> list[Path]:
        """Posts that differ from what the last build saw (added, removed, changed): empty unless
        the file watcher missed an event. serve walks the site with this when idle."""
        prev = self._last_sources
        if prev is None or prev.root != root:
            return []
        from .sources import scan_posts

        seen = prev.post_stats
        now = {path: (size, mtime) for path, size, mtime in scan_posts(root)}
        return [root / path for path in sorted(seen.keys() ^ now.keys() | {p for p in now if seen.get(p) != now[p]})]

    def flush(self) -> None:
        """Write what serve's rebuilds left for later (the post index, page digests, the state):
        a later ``build`` starts from them; serve itself keeps them in memory."""
        pending, self._deferred = self._deferred, {}
        for save in pending.values():
            with contextlib.suppress(OSError):
                save()

    def _save(self, options: BuildOptions, name: str, save: Callable[[], None]) -> None:
        """``save`` now (``build``), or at the next ``flush`` (serve: not while the author waits)."""
        if options.serve:
            self._deferred[name] = save
        else:
            save()

    # --- which posts changed since the last build: sizes and times, not texts -------------------
    def _load_post_index(self, folder: Path | None) -> tuple[dict[str, tuple[int, int, str]], int]:
        """The last build's (size, mtime_ns, digest) per post and the time it began reading.

        Kept in memory by serve, in the cache folder for ``build``; without a cache every
        post is read (``--no-cache`` must not trust anything from an earlier run).
        """
        if folder is None:
            return {}, 0
        if self._post_index is None or self._index_folder != folder:
            self._index_folder = folder
            with paused_gc(freeze=self._freeze):
                self._post_index, self._index_scanned = load_post_index(folder)
        # Filesystems keep times to 1 ns .. 2 s: a file whose time is that close to (or after) the
        # last read may have changed again unseen, so it is read again (git's "racy clean" rule).
        return self._post_index, self._index_scanned - RACY_NS

    def _save_post_index(self, folder: Path | None, sources: Sources, scanned: int, options: BuildOptions) -> None:
        if folder is None:
            return
        old = self._post_index or {}
        stats = sources.post_stats
        unread = sources.unread  # after parsing: every post (texts forgotten); else the unchanged ones
        index = {
            path: (*stats[path], unread.get(path) or self._text_digest(path, text))
            for path, text in sources.posts
            if path in stats
        }
        changed = index != old
        if changed or scanned - self._index_scanned > RACY_NS:
            self._save(options, "index", partial(save_post_index, folder, index, scanned))
        self._post_index, self._index_scanned, self._index_folder = index, scanned, folder

    def _page_memo(self, options: BuildOptions, folder: Path | None) -> PageMemo:
        """The page cache for this output: kept in memory, loaded from the cache folder once."""
        from .pagecache import PageMemo

        output = options.output.resolve()
        if self._memo is None or self._memo_output != output:
            self._memo = PageMemo()
            self._memo_output = output
            if folder is not None:
                with paused_gc(freeze=self._freeze):
                    self._memo.load(_memo_path(folder, options.output))
        return self._memo

    def _start_memo(
        self,
        memo: tuple[PageMemo, str],
        site: Site,
        theme: Any,
        options: BuildOptions,
        progress: Any = None,
        sink: Any = None,
    ) -> PageMemo:
        page_memo, site_inputs = memo
        tags = [(t.key, t.slug, t.name, t.description_html, t.aliases, t.count) for t in site.tags]
        pages = [self._identity.get(id(p), "") for p in site.pages]
        base = _key(site_inputs, repr(tags), repr(pages), repr(options.drafts))
        if site.network is not None:  # the network and its rounds stand for the inputs they came from
            self._identity[id(site.network)] = "net:" + self._network_key
            for view in site.network.rounds:
                self._identity[id(view)] = f"net:{self._network_key}:{view.number}"
        identity = self._identity.get

        def ident(obj: Any) -> str | None:
            return identity(id(obj))

        known = getattr(sink, "old", None)  # the manifest the write stage read (once per build)
        old = known if known is not None else read_manifest(options.output) if options.output.is_dir() else {}
        page_memo.start(base, ident, site.is_unpublished, _templates_read_posts(theme), options.output, old)
        page_memo.on_page = None
        if progress is not None:
            total = _estimate_pages(site)

            def on_page(done: int) -> None:
                progress.update("pages", min(done, total), total)

            page_memo.on_page = on_page
        return page_memo

    def _remember(
        self,
        options: BuildOptions,
        folder: Path | None,
        used: set[str],
        fingerprint: str,
        pages: int,
        warnings: tuple[SiteError, ...],
        quick: str | None = None,
        scanned: int = 0,
    ) -> None:
        """Save the content cache and the stamp of this build (best effort: failures only cost time)."""
        self._content.keep_only(used)
        if not options.serve or not self._saved_once:  # serve: re-pickling 10k posts per save would be slow
            self._content.save()
            self._saved_once = True
        valid_until = self._valid_until.isoformat() if self._valid_until else None
        write_stamp(
            folder,
            options.output,
            {
                "fingerprint": fingerprint,
                "quick": quick,
                "scanned": scanned,
                "valid_until": valid_until,
                "manifest": _manifest_digest(options.output),
                "pages": pages,
                "warnings": [[w.path, w.line, w.message, w.hint] for w in warnings],
            },
        )


def _parse_again(root: Path, tz_name: str, base_path: str, engine: str, key: str, path: str) -> tuple[str, str]:
    """(html, toc_html) of a post or page whose cached body was damaged: its source parsed again.

    Only if the file still holds the text the key was made from (else the metadata already
    used in this build and the body would disagree: the build stops and asks to be run again).
    """
    from .parallel import parse_one, to_errors
    from .sources import read_text

    kind = key.rpartition(":")[2]
    try:
        text = read_text(root, path)
    except OSError:
        text = None
    if text is None or _key(path, text) + ":" + kind != key:
        raise SiteError(path, None, "changed while the site was being built", "build again")
    outcome = parse_one(kind, path, text, tz_name, base_path, engine)
    if outcome[0] != "ok":
        raise SiteErrors(to_errors(outcome))
    body = outcome[1].body
    return body.html, body.toc_html


def _estimate_pages(site: Site) -> int:
    """Roughly how many templates a build renders (for the progress bar only)."""
    per = max(1, site.config.paginate)
    listings = sum(-(-tag.count // per) + 1 for tag in site.tags) + -(-len(site.posts) // per)
    rounds = len(site.network.rounds) if site.network is not None else 0
    return len(site.posts) + len(site.pages) + listings + rounds + 8


def _memo_path(folder: Path, output: Path) -> Path:
    return folder / f"pages-{hash_parts(str(output.resolve()))[:16]}.pickle"


def _relative_to(path: Path, folder: Path) -> str | None:
    """``path`` below (or at: "") ``folder`` as a POSIX string, compared literally, then resolved."""
    for a, b in ((path, folder), (path.resolve(), folder.resolve())):
        try:
            rel = a.relative_to(b).as_posix()
        except ValueError:
            continue
        return "" if rel == "." else rel
    return None


def _plan_path(folder: Path, output: Path) -> Path:
    memo = _memo_path(folder, output)
    return memo.with_name(memo.stem + "-plan.pickle")


def _templates_read_posts(theme: Any) -> bool:
    """True when a template reads ``.posts`` of anything but ``feed`` (then tags are hashed deeply)."""
    import re

    pattern = re.compile(r"(?<!feed)\.posts\b")
    for folder in theme.template_dirs:
        for path in Path(folder).rglob("*"):
            if path.is_file() and pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                return True
    return False


def _manifest_digest(output: Path) -> str | None:
    try:
        return hash_parts((output / MANIFEST).read_bytes())
    except OSError:
        return None


def _stamp_holds(stamp: dict[str, Any], fingerprint: Any, now: datetime, output: Path) -> bool:
    """Same inputs, no post gone live since, and the output folder is still the one we wrote."""
    if not isinstance(fingerprint, str) or stamp.get("fingerprint") != fingerprint:
        return False
    valid_until = stamp.get("valid_until")
    if valid_until is not None and now >= datetime.fromisoformat(valid_until):
        return False
    if stamp.get("manifest") is None or stamp.get("manifest") != _manifest_digest(output):
        return False
    from .write import present_files  # one stat per file the manifest lists, not a walk of every folder

    manifest = read_manifest(output)
    return len(present_files(str(output), manifest)) == len(manifest)


def read_assets(theme: Any, sources: Sources) -> dict[str, bytes]:
    """Theme static files, then the site's own static/ (which wins), plus Pygments CSS."""
    assets: dict[str, bytes] = {}
    for folder in theme.static_dirs:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    assets["static/" + path.relative_to(folder).as_posix()] = _file_bytes(path)
    for out_path, path in sources.static:
        assets[out_path] = _file_bytes(path)
    assets["static/css/pygments.css"] = pygments_css()
    return assets


_FILES: dict[str, tuple[int, int, int, bytes]] = {}  # path -> (inode, size, mtime_ns, bytes): serve rereads


def _file_bytes(path: Path) -> bytes:
    """A static file's bytes; read again only when its inode, size or time changed (serve reads
    the theme's ~30 files, D3 among them, on every rebuild)."""
    key = str(path)
    st = os.stat(key)
    found = _FILES.get(key)
    if found is not None and found[:3] == (st.st_ino, st.st_size, st.st_mtime_ns):
        return found[3]
    data = path.read_bytes()
    settled = time.time_ns() - st.st_mtime_ns > RACY_NS  # (a file saved just now may change again unseen)
    if settled and len(_FILES) < 4096 and len(data) < 4 * 1024 * 1024:
        _FILES[key] = (st.st_ino, st.st_size, st.st_mtime_ns, data)
    return data


@functools.cache
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
        raise SiteError(
            str(options.output),
            None,
            "the output folder contains the site's sources",
            "choose another --output, e.g. public/",
        )
    if output.is_dir() and any(output.iterdir()) and not (output / MANIFEST).is_file():
        raise SiteError(
            str(options.output),
            None,
            "output folder exists and was not written by netjournal",
            "empty it, delete it, or choose another --output",
        )
