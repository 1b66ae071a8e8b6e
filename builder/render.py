"""Jinja rendering: Site -> {output path: bytes}.

Nothing here touches the disk except Jinja's template loading. Templates are
looked up in the site's own ``templates/`` first, then the theme's; the prefix
``theme:`` always names the theme's original so an override can extend it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

import jinja2
from markupsafe import Markup

from .errors import SiteError
from .markup import EMBED_PLACEHOLDER
from .model import Paginator, Post, Tag
from .plan import PagePlan, PlanEntry, StoredPlan, changed_posts, changed_since_stored
from .site import Site
from .staticsvg import render_svg
from .taxonomy import archive, fold_tag, paginate, tag_slug

FINGERPRINTED = (".css", ".js")
_SOURCE_OF = attrgetter("source")


def _builtin_themes() -> Path:
    """The themes shipped with netjournal: the repository's themes/ (editable install) or the packaged copy."""
    checkout = Path(__file__).resolve().parent.parent / "themes"
    if (checkout / "default" / "templates").is_dir():
        return checkout
    return Path(__file__).resolve().parent / "themes"


BUILTIN_THEMES = _builtin_themes()


@dataclass(frozen=True)
class Theme:
    """Where templates and static files come from."""

    template_dirs: tuple[Path, ...]  # site override first, then the theme
    theme_templates: Path
    static_dirs: tuple[Path, ...]  # theme static, then the site's own (site wins)


def find_theme(source: Path, name: str) -> Theme:
    """The site's ``themes/<name>`` if present, else the theme shipped with netjournal."""
    for base in (source / "themes", BUILTIN_THEMES):
        if (base / name / "templates").is_dir():
            theme_dir = base / name
            break
    else:
        raise SiteError(
            "site.yaml", None, f"theme '{name}' not found", "use theme: default or add themes/<name>/templates/"
        )
    overrides = source / "templates"
    dirs = (overrides, theme_dir / "templates") if overrides.is_dir() else (theme_dir / "templates",)
    return Theme(dirs, theme_dir / "templates", (theme_dir / "static",))


def make_environment(theme: Theme, bytecode_dir: Path | None = None, auto_reload: bool = True) -> jinja2.Environment:
    """Autoescaping environment with the override chain and the ``theme:`` prefix.

    ``bytecode_dir``: where compiled templates are kept between processes (Jinja checks each
    against its source's checksum); compiling the theme costs ~0.1 s per build otherwise.
    ``auto_reload=False``: templates are not checked for changes on every use (a ``stat`` per
    page and per list item, ~30,000 at 10,000 posts); the caller then makes a new environment
    when the template folders change (``Builder.render`` does, by their names, sizes and times).
    """
    loader = jinja2.ChoiceLoader(
        [
            jinja2.PrefixLoader({"theme": jinja2.FileSystemLoader(str(theme.theme_templates))}, delimiter=":"),
            jinja2.FileSystemLoader([str(d) for d in theme.template_dirs]),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=auto_reload,
        bytecode_cache=_bytecode_cache(bytecode_dir) if bytecode_dir is not None else None,
    )
    return env


def _bytecode_cache(folder: Path) -> jinja2.BytecodeCache | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only site folder: compile in memory as before
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


def fingerprint_assets(files: Mapping[str, bytes]) -> tuple[dict[str, bytes], dict[str, str]]:
    """``static/css/style.css`` -> ``static/css/style.<hash>.css`` for CSS/JS; returns (files, url map)."""
    out: dict[str, bytes] = {}
    names: dict[str, str] = {}
    for path, data in files.items():
        target = path
        if path.endswith(FINGERPRINTED) and "/vendor/" not in path:
            digest = hashlib.sha256(data).hexdigest()[:10]
            stem, dot, ext = path.rpartition(".")
            target = f"{stem}.{digest}{dot}{ext}"
        elif "/vendor/" in path and path.endswith(".js"):
            digest = hashlib.sha256(data).hexdigest()[:10]
            target = f"{path}"  # vendored files keep their name; a query string busts caches
            names[path.removeprefix("static/")] = f"{target}?v={digest}"
            out[target] = data
            continue
        out[target] = data
        names[path.removeprefix("static/")] = target
    return out, names


class KeptPages:
    """Consecutive pages a fast pass reuses as they are, handed over at once (see parrender)."""

    __slots__ = ("data", "paths")

    def __init__(self, paths: list[str], data: list[bytes]) -> None:
        self.paths = paths
        self.data = data


class Renderer:
    """Renders every page of a Site; holds the Jinja environment and URL helpers."""

    def __init__(self, site: Site, env: jinja2.Environment, asset_names: Mapping[str, str], memo: Any = None):
        self.site = site
        self.memo = memo  # builder.pagecache.PageMemo: skips pages whose context did not change
        self.env = env
        self.config = site.config
        self.asset_names = asset_names
        self._base_path = site.config.base_path  # a property parsing base_url; url() runs ~5,000 times
        self._site_root = site.config.site_root
        self.tag_by_key = {tag.key: tag for tag in site.tags}
        for tag in site.tags:
            for alias in tag.aliases:
                self.tag_by_key.setdefault(fold_tag(alias), tag)
        self._payloads: dict[int, dict[str, Any]] = {}
        self._position = {post.source: i for i, post in enumerate(site.posts)}  # O(1) neighbours
        self._fragments: dict[tuple[str, int], tuple[Any, Markup]] = {}
        self.share: Any = None  # builder.parrender.Share while pages are rendered across processes
        self.renders = 0  # pages asked of render_keyed (in this process)
        self.fresh = 0  # ... of which were rendered, not reused from the page cache
        self._pagination: dict[str | None, list[Paginator]] = {}
        self._tag_by_exact_key = {tag.key: tag for tag in site.tags}
        # What this build renders from which posts, for the next build's fast pass (builder/plan.py):
        # kept in memory by serve, saved in the cache folder by build.
        self._plan: PagePlan | None = None
        # a fast pass: the last plan's archive months, and the sources of the edited posts
        self._unchanged_months: Mapping[tuple[int, int], tuple[tuple[str, ...], str]] | None = None
        self._changed: frozenset[str] = frozenset()
        if memo is not None and (memo.retain or memo.stores_plan) and not memo.deep_tags:
            self._plan = PagePlan(memo.base, site.posts, site.tags, site.related, site.posts_by_round, site.network)
            self._plan.now = site.now
            self._plan.track_readers = memo.retain  # build finds them in its StoredPlan
        self._recording = True
        self._noted: PlanEntry | None = None
        env.globals.update(
            url=self.url,
            abs_url=self.abs_url,
            asset=self.asset,
            site=self.site_view(),
            round_summary=round_summary,
            feed_html=self.feed_html,
            network_summary=network_summary,
            fragment=self.fragment,
            archive_month=self.archive_month,
        )
        env.filters.update(date=self.format_date, isodate=_isodate, tojson_safe=_tojson)

    # --- URL helpers -------------------------------------------------------------------------
    def url(self, path: str = "") -> str:
        """Site-relative path -> path under base_url (``posts/x/`` -> ``/journal/posts/x/``)."""
        if path.startswith(("http://", "https://", "mailto:", "#")):
            return path
        return self._base_path + path.lstrip("/")

    def abs_url(self, path: str = "") -> str:
        return self._site_root + self.url(path)

    def asset(self, path: str) -> str:
        if path not in self.asset_names:
            raise SiteError("themes", None, f"template asks for unknown asset '{path}'")
        return self.url(self.asset_names[path])

    def format_date(self, value: datetime, fmt: str | None = None) -> str:
        return value.strftime(fmt or self.config.date_format)

    def site_view(self) -> dict[str, Any]:
        c = self.config
        return {
            "title": c.title,
            "description": c.description,
            "author": c.author,
            "language": c.language,
            "base_url": c.base_url,
            "base_path": c.base_path,
            "menu": c.menu,
            "config": c,
            "show_drafts": self.site.show_drafts,
            "search": c.search,
            "has_network": self.site.network is not None,
            "tags": self.site.tags,
            "pages": self.site.pages,
        }

    # --- helpers for templates ------------------------------------------------------------
    def fragment(self, template: str, post: Any) -> Markup:
        """``template`` rendered for ``post`` once per build (list items, feed entries).

        Not for rows shown once (the archive's): a separate render per row costs more than the
        inline loop (measured: a one-edit build at 10,000 posts 1.50 s inline, 1.65 s as fragments).
        """
        key = (template, id(post))
        if self.memo is not None:  # serve keeps them across builds while the site-wide inputs match
            cached = self.memo.fragment(key, post)
            if cached is not None:
                return cast(Markup, cached)
        else:
            found = self._fragments.get(key)
            if found is not None and found[0] is post:
                return found[1]
        html = Markup(self.env.get_template(template).render(post=post, tags_of=self.tags_of))  # noqa: S704
        if self.memo is not None:
            self.memo.keep_fragment(key, post, html)
        else:
            self._fragments[key] = (post, html)
        return html

    def archive_month(self, year: int, month: int, posts: Sequence[Post]) -> Markup:
        """One month of the archive (``partials/archive_month.html``), kept by its posts' fingerprints.

        The archive lists every post: rendered whole it was ~0.1-0.2 s of a serve rebuild at
        10,000 posts, of which an edit changes one month. (A trailing newline is dropped: the
        call sits on its own line in ``archive.html``.)
        """
        template = "partials/archive_month.html"
        key = None
        plan = self._plan
        sources = tuple(map(_SOURCE_OF, posts)) if plan is not None else ()
        if self._unchanged_months is not None:  # a fast pass: the last build's key of an untouched month
            stored = self._unchanged_months.get((year, month))
            if stored is not None and stored[0] == sources and self._changed.isdisjoint(sources):
                key = stored[1]
        if key is None and self.memo is not None and not self.memo.deep_tags:
            key = self.memo.items_key(template, posts, f"{year}|{month}")
        if plan is not None and key is not None:
            plan.months[(year, month)] = (sources, key)
        if key is not None:
            cached = self.memo.block(key)
            if cached is not None:
                return cast(Markup, cached)
        html = self.env.get_template(template).render(year=year, month=month, posts=posts)
        block = Markup(html.removesuffix("\n"))  # noqa: S704 - rendered by an autoescaping template
        if key is not None:
            self.memo.keep_block(key, block)
        return block

    def tags_of(self, post: Post) -> list[Tag]:
        seen: dict[str, Tag] = {}
        for name in post.tag_names:
            folded = fold_tag(name)
            # aliases are stored as slugs, so a spelling like "#LocalGovDigital" is found by its slug
            tag = self.tag_by_key.get(folded) or self.tag_by_key.get(tag_slug(folded))
            if tag:
                seen.setdefault(tag.key, tag)
        return list(seen.values())

    def page_meta(
        self, kind: str, title: str, url: str, description: str = "", og_type: str = "website"
    ) -> dict[str, Any]:
        return {
            "kind": kind,
            "title": title,
            "url": url,
            "canonical": self.abs_url(url),
            "description": description or self.config.description,
            "og_type": og_type,
        }

    def render(self, template: str, **context: Any) -> bytes:
        key = self.memo.key(template, context) if self.memo is not None else None
        return self.render_keyed(key, template, lambda: context)

    def render_from(self, template: str, inputs: dict[str, Any], make_context: Callable[[], dict[str, Any]]) -> bytes:
        """Like ``render``, but keyed by ``inputs``: the few values the page is a pure function of
        (with what the page cache's build-wide key covers: config, theme, tags, pages, round data).

        The full context is only built when the page has to be rendered; at 10,000 posts building
        and hashing every post page's context was most of a one-edit rebuild.
        """
        key = self.memo.key(template + "#inputs", inputs) if self.memo is not None else None
        return self.render_keyed(key, template, make_context)

    def render_keyed(self, key: str | None, template: str, make_context: Callable[[], dict[str, Any]]) -> bytes:
        """Render with a page-cache key computed by the caller (None: always render)."""
        share = self.share
        if share is not None and not share.take():
            from .parrender import SKIPPED

            return SKIPPED  # another process renders this page
        self.renders += 1
        if key is not None:
            cached = self.memo.get(key)
            if cached is not None:
                return cached
        self.fresh += 1
        data = self._render(template, make_context())
        if key is not None:
            data = self.memo.put(key, data)  # the same bytes, with their digest attached
        return data

    def _render(self, template: str, context: dict[str, Any]) -> bytes:
        try:
            return self.env.get_template(template).render(**context).encode("utf-8")
        except jinja2.TemplateSyntaxError as exc:
            raise SiteError(exc.filename or template, exc.lineno, f"template syntax error: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise SiteError(
                f"templates/{template}",
                None,
                f"template error: {exc.message}",
                "see the template context in the README",
            ) from None

    def feed_html(self, post: Post, fragment: str | None = None) -> str:
        """A post body (or ``fragment``, e.g. its summary) for feed readers: absolute links,
        diagrams replaced by a link to the round page."""

        def link(match: re.Match[str]) -> str:
            number = re.search(r'round="(\d+)"', match.group(1))
            target = self.abs_url(f"network/round-{number.group(1)}/") if number else self.abs_url("network/")
            label = f"round {number.group(1)}" if number else "the network"
            return f'<p><a href="{target}">Network diagram: {label}</a></p>'

        body = EMBED_PLACEHOLDER.sub(link, post.html if fragment is None else fragment)
        base = self.config.base_path
        root = self.abs_url("")
        return body.replace(f'href="{base}', f'href="{root}').replace(f'src="{base}', f'src="{root}')

    # --- network -----------------------------------------------------------------------------
    def payload(self, up_to: int) -> dict[str, Any]:
        if up_to not in self._payloads:
            data = self._payloads[up_to] = self.site.network.diagram_data(up_to)
            ident = self.memo.identity(self.site.network) if self.memo is not None else None
            if ident is not None:  # a pure function of the network: page keys need not walk it
                self.memo.pin(data, f"payload:{ident}:{up_to}")
        return self._payloads[up_to]

    def with_diagrams(self, body: str) -> tuple[str, int]:
        """Swap embed placeholders for the diagram partial; returns (html, highest round embedded)."""
        if "<nj-embed" not in body:  # most posts: a substring scan instead of a regex one
            return body, 0
        rounds = [int(m.group(1)) for m in re.finditer(r'<nj-embed round="(\d+)"', body)]
        if not rounds or self.site.network is None:
            return body, 0
        top = max(rounds)
        payload = self.payload(top)
        partial = self.env.get_template("partials/diagram.html")

        def replace(match: re.Match[str]) -> str:
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            number = int(attrs["round"])
            return partial.render(
                round=number,
                mode=attrs["mode"],
                view=attrs["view"],
                caption=Markup(attrs["caption"]),  # noqa: S704 - escaped by markup.py
                svg=render_svg(payload, number, attrs["mode"]),
                stepper=False,
            )

        return EMBED_PLACEHOLDER.sub(replace, body), top

    # --- pages -------------------------------------------------------------------------------
    def pages(self) -> Iterator[Any]:
        """(path, bytes) of every page in order; in a fast pass, runs of reused pages as ``KeptPages``."""
        fast = self._fast_pages()
        yield from fast if fast is not None else self.listed_pages()
        for page in self.site.pages:
            yield self.standalone_page(page)
        yield from self.tags_index_pages()
        yield "archive/index.html", self.archive_page()
        yield "404.html", self.render("404.html", page=self.page_meta("404", "Page not found", "404.html"))
        if self.config.search:
            yield "search/index.html", self.render("search.html", page=self.page_meta("search", "Search", "search/"))
        yield "robots.txt", self.render("robots.txt")
        if self.site.network is not None:
            yield from self.network_pages()
        if self._plan is not None:
            self.memo.offer_plan(self._plan)

    def listed_pages(self) -> Iterator[tuple[str, bytes]]:
        """The pages made from a few posts each (listings, posts, feeds): all but ~1% of a site."""
        for pager in self._pagers(None):
            yield self.index_page(pager)
        for post in self.site.posts:
            yield self.post_page(post)
        for tag in self.site.tags:
            for pager in self._pagers(tag):
                yield self.tag_page(tag, pager)
            yield self.feed_page(tag)
        yield self.feed_page(None)

    def _pagers(self, tag: Tag | None) -> list[Paginator]:
        found = self._pagination.get(tag.key if tag else None)
        if found is None:
            posts, base = (tag.posts, tag.url) if tag else (self.site.posts, "")
            found = self._pagination[tag.key if tag else None] = paginate(posts, self.config.paginate, base)
        return found

    def index_page(self, pager: Paginator) -> tuple[str, bytes]:
        title = self.config.title if pager.number == 1 else f"Page {pager.number}"
        key = self._listing_key("index.html", pager.items, f"{pager.number}/{pager.total}")

        def context() -> dict[str, Any]:
            return {"page": self.page_meta("index", title, pager.url), "paginator": pager, "tags_of": self.tags_of}

        path = pager.url + "index.html"
        self._note(path, ("index", pager.number), key, pager.items)
        return path, self.render_keyed(key, "index.html", context)

    # --- serve: re-render only the listed pages an edit can have changed ----------------------
    def _note(self, path: str, recipe: tuple[Any, ...], key: str | None, items: Sequence[Post | None]) -> None:
        """Remember which posts a listed page was made from (serve only: see ``_fast_pages``)."""
        plan = self._plan
        if plan is None:
            return
        sources = tuple(item.source for item in items if item is not None)
        self._noted = (path, recipe, key, sources)
        if not self._recording:
            return
        index = len(plan.entries)
        plan.entries.append(self._noted)
        if not plan.track_readers:
            return
        readers = plan.readers
        for source in sources:
            found = readers.get(source)
            if found is None:
                readers[source] = [index]
            elif found[-1] != index:
                found.append(index)

    def _fast_pages(self) -> Iterator[Any] | None:
        """The listed pages from the last build's plan: those made from an edited post rendered
        again, every other one reused as it is; None when the site's shape changed (then every
        page's key is computed as usual).

        A listed page is a pure function of the build-wide key (``memo.base``: code, config,
        theme, tags and their counts, pages, round data), its recipe (which page of which
        listing) and the posts it is made from. When the base, the posts in order, each tag's
        members, each post's related posts, the posts of each round, the network and every
        post's unpublished flag are the same, and the edited posts differ only in what they
        show (text, title, description: ``shape``), a page made from no edited post has the
        same inputs, hence the same bytes. The pages made from an edited post are rendered
        by the usual code and must come out at the same path from the same posts, or the
        fast pass is abandoned.
        """
        memo, plan = self.memo, self._plan
        if memo is None or plan is None:
            return None
        old = memo.plan
        if isinstance(old, StoredPlan):  # (a serve build keeps its own plan, with every entry)
            return self._fast_pages_stored(old, plan) if not memo.retain else None
        if not isinstance(old, PagePlan):
            return None
        changed = changed_posts(old, plan)  # serve: the last build's plan, in memory
        if changed is None:
            return None
        todo: set[int] = set()
        for post in changed:
            todo.update(old.readers.get(post.source, ()))
        todo.update(i for i, entry in enumerate(old.entries) if entry[2] is None)  # never cached
        done = self._render_again(todo, old.entries.__getitem__)
        if done is None:
            return None
        entries = list(old.entries)
        for i, (noted, _page) in done.items():
            entries[i] = noted
        memo.reuse_fingerprints(old.fingerprints)  # same posts, same flags: same fingerprints
        plan.entries, plan.readers = entries, old.readers
        self._begin_fast_pass(plan, old, changed)
        paths = [entry[0] for entry in entries]
        return self._reused(paths, [entry[2] for entry in entries], done, lambda i: entries[i][1])

    def _fast_pages_stored(self, old: StoredPlan, plan: PagePlan) -> Iterator[Any] | None:
        """``_fast_pages`` for ``build``: the plan an earlier process saved; the pages not made
        from an edited post are the previous output's files, left where they are."""
        changed = changed_since_stored(old, plan, self.memo.identity)
        if changed is None:
            return None
        todo = old.readers_of(post.source for post in changed)
        todo.update(old.uncached())
        done = self._render_again(todo, old.entry)
        if done is None:
            return None
        plan.stored_from, plan.updates = old, {i: noted for i, (noted, _page) in done.items()}
        self._begin_fast_pass(plan, old, changed)
        return self._reused(old.paths, old.keys, done, old.recipes.__getitem__)

    @property
    def fast_pass(self) -> bool:
        """This build reuses the listed pages the last build's plan allows (it then never forks)."""
        return self._plan is not None and self._plan.fast

    def _begin_fast_pass(self, plan: PagePlan, old: PagePlan | StoredPlan, changed: Sequence[Post]) -> None:
        """What both fast passes keep from the last plan: the sitemap's key and the archive's
        months (the same posts on the same dates); months untouched by the edited posts keep
        their keys (with none edited, the archive is keyed as usual and may well be reused)."""
        plan.sitemap, plan.fast, plan.months = old.sitemap, True, dict(old.months)
        if changed:
            self._unchanged_months, self._changed = old.months, frozenset(post.source for post in changed)

    def _render_again(
        self, todo: set[int], entry: Callable[[int], PlanEntry]
    ) -> dict[int, tuple[PlanEntry, tuple[str, bytes]]] | None:
        """The entries ``todo`` of the last plan rendered again by their recipes: {index: (this
        build's entry, page)}; None when one no longer comes out at the same path from the same
        posts (then the fast pass is abandoned)."""
        self._recording = False  # the entries are the last build's, updated by the caller
        done: dict[int, tuple[PlanEntry, tuple[str, bytes]]] = {}
        for i in sorted(todo):
            was = entry(i)
            page = self._by_recipe(was[1])
            noted = self._noted
            if noted is None or noted[0] != was[0] or noted[3] != was[3]:
                self._recording = True
                return None
            done[i] = (noted, page)
        return done

    def _reused(
        self,
        paths: Sequence[str],
        keys: Sequence[str | None],
        done: Mapping[int, tuple[PlanEntry, tuple[str, bytes]]],
        recipe: Callable[[int], tuple[Any, ...]],
    ) -> Iterator[Any]:
        """The last plan's pages: those in ``done`` rendered again, the rest as the last build left
        them (serve: in memory; build: the previous output's files, unread), rendered if gone."""
        kept = self.memo.get_all([None if i in done else key for i, key in enumerate(keys)])
        return self._in_batches(paths, kept, {i: page for i, (_noted, page) in done.items()}, recipe)

    def _in_batches(
        self,
        paths: Sequence[str],
        kept: Sequence[bytes | None],
        fresh: Mapping[int, tuple[str, bytes]],
        recipe: Callable[[int], tuple[Any, ...]],
    ) -> Iterator[Any]:
        """The pages in order: runs of reused ones as one ``KeptPages`` each (~14,000 pages handed
        over one by one cost ~50 ms a rebuild), the others one by one (fresh, or rendered now
        when the last build's bytes are gone)."""
        if len(paths) != len(kept):
            raise ValueError("a plan's paths and pages differ in number")
        gaps = [i for i, data in enumerate(kept) if data is None] if None in kept else []
        start = 0
        for i in [*gaps, len(kept)]:
            if i > start:  # a run of reused pages between two that are not
                yield KeptPages(list(paths[start:i]), list(kept[start:i]))  # type: ignore[arg-type]
            if i < len(kept):
                yield fresh[i] if i in fresh else self._by_recipe(recipe(i))
            start = i + 1

    def _by_recipe(self, recipe: tuple[Any, ...]) -> tuple[str, bytes]:
        """One listed page of this site, by what ``_note`` recorded about it."""
        kind = recipe[0]
        if kind == "post":
            return self.post_page(self.site.posts[self._position[recipe[1]]])
        if kind == "index":
            return self.index_page(self._pagers(None)[recipe[1] - 1])
        tag = self._tag_by_exact_key[recipe[1]] if recipe[1] is not None else None
        if kind == "tag":
            assert tag is not None
            return self.tag_page(tag, self._pagers(tag)[recipe[2] - 1])
        return self.feed_page(tag)

    def archive_page(self) -> bytes:
        """``archive.html``: a pure function of the posts in order (their dates group them)."""
        posts = self.site.posts

        def context() -> dict[str, Any]:
            return {"page": self.page_meta("archive", "Archive", "archive/"), "years": archive(posts)}

        if self._unchanged_months is not None:  # a fast pass: a post it shows changed, so it is new
            return self.render_keyed(None, "archive.html", context)
        key = self._listing_key("archive.html", posts, "")
        if key is None and self.memo is not None:  # a theme reading every tag's members: walk the context
            return self.render("archive.html", **context())
        return self.render_keyed(key, "archive.html", context)

    def _listing_key(self, template: str, posts: Sequence[Post], extra: str) -> str | None:
        """Page-cache key of a listing: its posts' fingerprints and ``extra`` (what else varies per
        page: numbers, the tag); the tags and config are in the build-wide key. Themes that read
        a tag's full member list (``deep_tags``) go through the context walk instead."""
        if self.memo is None or self.memo.deep_tags:
            return None
        return self.memo.key_of_items(template, posts, extra)

    def post_page(self, post: Post) -> tuple[str, bytes]:
        newer, older = self.neighbours(post)
        related = self.site.related.get(post.source, ())
        uses_network = bool(post.body.embeds or post.round or post.with_people) and self.site.network is not None
        network = self._network_ident() if uses_network else "-"

        def context() -> dict[str, Any]:
            body, top = self.with_diagrams(post.html)
            return {
                "page": self.page_meta("post", post.title, post.url, post.description, og_type="article"),
                "post": post,
                "body": Markup(body),  # noqa: S704 - rendered Markdown
                "newer": newer,
                "older": older,
                "related": related,
                "post_tags": self.tags_of(post),
                "unpublished": self.site.is_unpublished(post),
                "network_post": self.post_network(post),
                "diagram_payload": self.payload(top) if top else None,
            }

        # What the page shows besides site-wide inputs: the post (its text and whether it is shown
        # as unpublished), its neighbours and related posts, and the network when it uses it.
        key = None
        items = (post, newer, older, *related)
        if self.memo is not None and network is not None:
            key = self.memo.key_of_items("post.html", items, f"{len(related)}|{network}")
        path = post.url + "index.html"
        self._note(path, ("post", post.source), key, items)
        return path, self.render_keyed(key, "post.html", context)

    def _network_ident(self) -> str | None:
        """The build's name for the network (None: it has none, and pages using it are not cached)."""
        return self.memo.identity(self.site.network) if self.memo is not None else None

    def neighbours(self, post: Post) -> tuple[Post | None, Post | None]:
        """(newer, older) like ``Site.neighbours``, without its linear search per post."""
        posts = self.site.posts
        index = self._position[post.source]
        return (posts[index - 1] if index > 0 else None), (posts[index + 1] if index + 1 < len(posts) else None)

    def post_network(self, post: Post) -> dict[str, Any] | None:
        """A post's place in the network: its round and the public people it names."""
        if self.site.network is None or (post.round is None and not post.with_people):
            return None
        people = self.site.round_data.people
        named = [people[p].name for p in post.with_people if p in people and people[p].public and people[p].name]
        if self.config.network.labels == "none":
            named = []
        private = len(post.with_people) - len(named)
        return {"round": post.round, "people": named, "others": private}

    def standalone_page(self, page: Any) -> tuple[str, bytes]:
        body, top = self.with_diagrams(page.html)
        meta = self.page_meta("page", page.title, page.url, page.description)
        return page.url + "index.html", self.render(
            "page.html",
            page=meta,
            doc=page,
            body=Markup(body),  # noqa: S704 - rendered Markdown
            diagram_payload=self.payload(top) if top else None,
        )

    def tags_index_pages(self) -> Iterator[tuple[str, bytes]]:
        """The tags page and the redirects from tags' old names (aliases)."""
        top = max((t.count for t in self.site.tags), default=1)
        yield (
            "tags/index.html",
            self.render(
                "tags.html",
                page=self.page_meta("tags", "Tags", "tags/", "Every theme in the journal."),
                tags=self.site.tags,
                max_count=top,
            ),
        )
        for tag in self.site.tags:
            for alias in tag.aliases:
                target = self.url(tag.url)
                yield (
                    f"tags/{alias}/index.html",
                    self.render("redirect.html", page=self.page_meta("redirect", tag.name, tag.url), target=target),
                )

    def tag_page(self, tag: Tag, pager: Paginator) -> tuple[str, bytes]:
        path = pager.url + "index.html"
        key = self._listing_key("tag.html", pager.items, repr((tag.key, pager.number, pager.total)))
        if key is None:  # no page cache, or a theme that reads every member of the tag
            return path, self.render("tag.html", **self._tag_context(tag, pager))
        self._note(path, ("tag", tag.key, pager.number), key, pager.items)
        return path, self.render_keyed(key, "tag.html", partial(self._tag_context, tag, pager))

    def _tag_context(self, tag: Tag, pager: Paginator) -> dict[str, Any]:
        title = tag.name if pager.number == 1 else f"{tag.name} (page {pager.number})"
        return {
            "page": self.page_meta("tag", title, pager.url, f"Posts about {tag.name}."),
            "tag": tag,
            "paginator": pager,
            "tags_of": self.tags_of,
        }

    def feed_page(self, tag: Tag | None) -> tuple[str, bytes]:
        """The site's feed (``tag`` None) or a tag's."""
        if tag is None:
            posts, title, alternate, path = self.site.posts, self.config.title, "", "feed.xml"
        else:
            posts, title, alternate, path = tag.posts, f"{self.config.title}: {tag.name}", tag.url, tag.url + "feed.xml"
        newest = posts[: self.config.feed_size]
        key = self._listing_key("feed.xml", newest, repr((title, alternate, path)))
        self._note(path, ("feed", tag.key if tag else None), key, newest)
        return path, self.render_keyed(key, "feed.xml", partial(self._feed_context, newest, title, alternate, path))

    def _feed_context(self, newest: Sequence[Post], title: str, alternate: str, self_url: str) -> dict[str, Any]:
        fallback = datetime(2000, 1, 1).astimezone(self.config.tz)
        updated = max((p.updated or p.date for p in newest), default=fallback)
        feed = {
            "title": title,
            "alternate": self.abs_url(alternate),
            "self": self.abs_url(self_url),
            "updated": updated,
            "posts": newest,
            "id": self.abs_url(self_url),
        }
        return {"feed": feed, "tags_of": self.tags_of}

    def network_pages(self) -> Iterator[tuple[str, bytes]]:
        network = self.site.network
        last = network.rounds[-1].number
        payload = self.payload(last)
        yield (
            "network/index.html",
            self.render(
                "network.html",
                page=self.page_meta(
                    "network", "The network", "network/", "How the UnMentoring network has grown, round by round."
                ),
                network=network,
                diagram_payload=payload,
                svg=render_svg(payload, last),
                last_round=last,
            ),
        )
        for view in network.rounds:
            k = view.number
            base = f"network/round-{k}/"
            yield (
                base + "index.html",
                self.render(
                    "round.html",
                    page=self.page_meta("round", view.title, base, f"The network after {view.title}."),
                    network=network,
                    round=view,
                    diagram_payload=self.payload(k),
                    svg=render_svg(self.payload(k), k),
                    posts=self.site.posts_by_round.get(k, ()),
                    tags_of=self.tags_of,
                ),
            )
            yield base + f"round-{k}.json", network.export_json(k).encode("utf-8")
            yield base + f"round-{k}.graphml", network.export_graphml(k).encode("utf-8")

    def sitemap(self, paths: list[str]) -> bytes:
        """Every page but redirects and 404 (``paths``), with posts' dates.

        In the fast pass (the site kept its shape: the same posts with the same dates) the
        last build's sitemap stands while it lists the same paths.
        """
        listed = frozenset(paths)
        plan = self._plan
        if plan is not None and plan.fast and plan.sitemap is not None and plan.sitemap[0] == listed:
            kept = self.memo.get(plan.sitemap[1])
            if kept is not None:
                return kept
        lastmod = {p.url: (p.updated or p.date) for p in self.site.posts}
        shown: list[tuple[str, datetime | None]] = []
        for path in sorted(paths):
            if (path.endswith("index.html") and not path.startswith("tags/")) or path == "tags/index.html":
                url = path.removesuffix("index.html")
                shown.append((url, lastmod.get(url)))
            elif path.endswith("index.html") and "/page/" not in path and path.startswith("tags/"):
                shown.append((path.removesuffix("index.html"), None))

        def context() -> dict[str, Any]:
            return {"entries": [{"loc": self.abs_url(url), "lastmod": modified} for url, modified in shown]}

        # Keyed by one string of its lines: hashing 14,000 small dicts one by one cost ~0.2 s per build.
        lines = "\n".join(f"{url}|{modified.isoformat() if modified else ''}" for url, modified in shown)
        key = self.memo.key("sitemap.xml#inputs", {"entries": lines}) if self.memo is not None else None
        if self._plan is not None and key is not None:
            self._plan.sitemap = (listed, key)
        return self.render_keyed(key, "sitemap.xml", context)


def round_summary(view: Any) -> str:
    """A sentence describing round k's cumulative network: the diagram's text alternative."""
    m = view.metrics
    share = round(m.largest_share * 100)
    verb, plural = ("is", "") if m.components == 1 else ("are", "s")
    text = (
        f"After {view.title}, {m.people} people had taken part and made {m.connections} distinct connections. "
        f"The largest connected group holds {m.largest_component} people ({share}%), "
        f"and there {verb} {m.components} separate group{plural}. "
        f"This round: {m.participants} participants, {m.newcomers} new, {m.new_connections} new connections."
    )
    if m.isolated:
        text += f" {m.isolated} {'person has' if m.isolated == 1 else 'people have'} not met anyone yet."
    return text


def network_summary(network: Any) -> str:
    """How the network grew from the first to the latest round, in one sentence."""
    first, last = network.rounds[0], network.rounds[-1]
    before, after = round(first.metrics.largest_share * 100), round(last.metrics.largest_share * 100)
    return (
        f"From {first.title} to {last.title}, the network grew from {first.metrics.people} "
        f"to {last.metrics.people} people "
        f"and from {first.metrics.connections} to {last.metrics.connections} connections; the share of people in the "
        f"largest connected group went from {before}% to {after}%."
    )


def _isodate(value: datetime) -> str:
    return value.isoformat()


def _tojson(value: Any) -> Markup:
    """JSON safe inside <script>: <, >, & and ' become \\u escapes."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
    return Markup(text)  # noqa: S704 - escaped above


def render_site(
    site: Site,
    env: jinja2.Environment,
    assets: Mapping[str, bytes],
    memo: Any = None,
    sink: Any = None,
    jobs: int = 1,
) -> dict[str, bytes]:
    """Every output file of the site, keyed by output path: in a dict, or in ``sink`` (a mapping
    such as builder.outfiles.OutputFiles, which keeps big sites' bytes out of memory).

    ``jobs``: processes that may render pages (see builder/parrender.py); the output is the same."""
    from .parrender import render_pages

    files, names = fingerprint_assets(assets)
    renderer = Renderer(site, env, names, memo=memo)
    out: dict[str, bytes] = sink if sink is not None else {}
    out.update(files)
    render_pages(renderer, out, jobs)  # across ``jobs`` processes when most pages are rendered afresh
    redirects = {f"tags/{alias}/index.html" for tag in site.tags for alias in tag.aliases}
    out["sitemap.xml"] = renderer.sitemap(
        [p for p in out if p.endswith(".html") and p not in redirects and p != "404.html"]
    )
    return out
