"""Tags (themes), pagination, archives and related posts.

Tags fold case and white space (``Yet``, `` yet `` -> one tag); their slugs are
ASCII. Everything here is linear in the number of posts (or posts x tags).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any

from slugify import slugify

from .errors import ErrorList, SiteError, did_you_mean
from .markup import render_inline
from .model import Paginator, Post, Tag
from .yamlsrc import LineDict, load_yaml

TAGS_FILE = "data/tags.yaml"
_NEWEST_KEY = attrgetter("date", "source")
TAG_INFO_KEYS = {"title", "description", "aliases"}


def fold_tag(name: str) -> str:
    """The comparison key of a tag: case-folded, inner white space collapsed."""
    return " ".join(name.split()).casefold()


@lru_cache(maxsize=65536)
def tag_slug(name: str) -> str:
    """(Memoised: python-slugify costs ~10 µs and 10,000 posts ask ~30,000 times.)
    ASCII URL slug: ``system leadership`` -> ``system-leadership``, ``#LocalGovDigital`` -> ``localgovdigital``."""
    return slugify(name) or "tag"


@dataclass(frozen=True)
class TagInfo:
    """One entry of data/tags.yaml."""

    key: str
    title: str | None
    description: str
    aliases: tuple[str, ...]
    line: int


def parse_tag_info(text: str | None, path: str = TAGS_FILE) -> dict[str, TagInfo]:
    """data/tags.yaml -> folded key -> TagInfo (titles, Markdown descriptions, aliases)."""
    if text is None:
        return {}
    data = load_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, LineDict):
        raise SiteError(
            path, 1, "tags.yaml must map each tag to its settings", "e.g. yet: {title: Yet, description: …}"
        )
    errors = ErrorList()
    infos: dict[str, TagInfo] = {}
    for name, entry in data.items():
        line = data.line_of(name)
        entry = entry or {}
        if not isinstance(entry, dict):
            errors.add(path, line, f"tag '{name}' must have title/description/aliases settings")
            continue
        for key in entry:
            if key not in TAG_INFO_KEYS:
                errors.add(
                    path,
                    _line(entry, key, line),
                    f"unknown key '{key}' for tag '{name}'",
                    did_you_mean(key, sorted(TAG_INFO_KEYS)) or "use title, description, aliases",
                )
        aliases = entry.get("aliases") or []
        if isinstance(aliases, str):
            aliases = [aliases]
        key = fold_tag(str(name))
        if key in infos:
            errors.add(path, line, f"tag '{name}' is listed twice (tags are compared ignoring case and spaces)")
        infos[key] = TagInfo(
            key, entry.get("title"), str(entry.get("description") or ""), tuple(fold_tag(a) for a in aliases), line
        )
    errors.raise_if_any()
    return infos


def _line(container: Any, key: Any, default: int) -> int:
    return container.line_of(key) if isinstance(container, LineDict) else default


def build_tags(
    posts: Sequence[Post], infos: Mapping[str, TagInfo], base_path: str, tags_path: str = TAGS_FILE
) -> tuple[Tag, ...]:
    """Group posts (newest first) by folded tag; display names, descriptions, collision checks."""
    alias_of = {alias: info.key for info in infos.values() for alias in info.aliases}
    # an alias claims its old URL, so any spelling with that slug (``#LocalGovDigital``) is the tag too
    alias_slugs = {tag_slug(alias): key for alias, key in alias_of.items()}
    members: dict[str, list[Post]] = defaultdict(list)
    first_spelling: dict[str, tuple[Any, str, str]] = {}
    for post in posts:
        seen: set[str] = set()
        for name in post.tag_names:
            folded = fold_tag(name)
            key = folded if folded in infos else alias_of.get(folded) or alias_slugs.get(tag_slug(folded), folded)
            if key in seen:
                continue
            seen.add(key)
            members[key].append(post)
            candidate = (post.date, post.source, " ".join(name.split()))
            if key not in first_spelling or candidate[:2] < first_spelling[key][:2]:
                first_spelling[key] = candidate
    errors = ErrorList()
    by_slug: dict[str, str] = {}
    tags = []
    for key in sorted(members):
        info = infos.get(key)
        name = (info.title if info and info.title else None) or first_spelling[key][2]
        slug = tag_slug(key)
        if slug in by_slug:
            other = by_slug[slug]
            errors.add(
                first_spelling[key][1],
                _tag_line(first_spelling[key][1], members[key]),
                f"tag '{name}' and tag '{other}' (in {first_spelling[other][1]}) both have the URL /tags/{slug}/",
                f"use one spelling, or make one an alias of the other in {tags_path}",
            )
            continue
        by_slug[slug] = key
        description = render_inline(info.description, base_path) if info and info.description else ""
        members[key].sort(key=_NEWEST_KEY, reverse=True)  # a C-level key: ~30,000 calls at 10,000 posts
        aliases = tuple(sorted({tag_slug(a) for a in info.aliases} - {slug})) if info else ()
        tags.append(Tag(key, slug, name, description, tuple(members[key]), aliases))
    errors.raise_if_any()
    return tuple(sorted(tags, key=lambda t: t.name.casefold()))


def build_tags_memo(
    posts: Sequence[Post],
    infos: Mapping[str, TagInfo],
    base_path: str,
    memo: MutableMapping[str, Any] | None,
) -> tuple[Tag, ...]:
    """``build_tags``, reusing the last build's grouping (kept as sources) when nothing it reads
    changed: each post's source, date and tag names in order, data/tags.yaml, the base path.
    Editing a post's text or title then costs a lookup per membership instead of the grouping."""
    if memo is None:
        return build_tags(posts, infos, base_path)
    parts = [base_path, repr(sorted(infos.items()))]
    parts.extend(map(_GROUP_KEY, posts))
    key = hashlib.blake2b("\0".join(parts).encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()
    if memo.get("key") == key:
        find = dict(zip(map(_SOURCE, posts), posts, strict=True)).__getitem__
        return tuple(
            Tag(k, slug, name, description, tuple(map(find, members)), aliases)
            for k, slug, name, description, members, aliases in memo["tags"]
        )
    tags = build_tags(posts, infos, base_path)  # raises on collisions: nothing is remembered then
    memo.clear()
    memo["key"] = key
    memo["tags"] = [
        (t.key, t.slug, t.name, t.description_html, tuple(p.source for p in t.posts), t.aliases) for t in tags
    ]
    return tags


def _tag_line(source: str, posts: list[Post]) -> int | None:
    for post in posts:
        if post.source == source:
            return post.key_lines.get("tags")
    return None


def variant_warnings(tags: Sequence[Tag]) -> list[SiteError]:
    """Tags that differ only by spaces/hyphens (``localgov digital`` vs ``localgovdigital``)."""
    groups: dict[str, list[Tag]] = defaultdict(list)
    for tag in tags:
        groups[tag.slug.replace("-", "")].append(tag)
    warnings = []
    for variants in groups.values():
        if len(variants) > 1:
            names = " / ".join(f"'{t.name}'" for t in variants)
            source = min(p.source for t in variants for p in t.posts)
            warnings.append(
                SiteError(
                    source,
                    None,
                    f"warning: tags {names} look like one theme spelt differently",
                    "pick one spelling, or add an alias in data/tags.yaml",
                )
            )
    return warnings


def paginate(items: Sequence[Any], per_page: int, base: str) -> list[Paginator]:
    """Split a listing into pages; an empty listing still has one (empty) page."""
    chunks = [tuple(items[i : i + per_page]) for i in range(0, len(items), per_page)] or [()]
    return [Paginator(chunk, n, len(chunks), base) for n, chunk in enumerate(chunks, start=1)]


def archive(posts: Sequence[Post]) -> list[tuple[int, list[tuple[int, list[Post]]]]]:
    """Posts (newest first) grouped by year, then month: [(year, [(month, posts)])]."""
    years: dict[int, dict[int, list[Post]]] = defaultdict(lambda: defaultdict(list))
    for post in posts:
        years[post.date.year][post.date.month].append(post)
    return [
        (year, [(month, months[month]) for month in sorted(months, reverse=True)])
        for year, months in sorted(years.items(), reverse=True)
    ]


def related_posts(
    posts: Sequence[Post], tags: Sequence[Tag], limit: int, candidates_per_tag: int = 200, jobs: int = 1
) -> dict[str, tuple[Post, ...]]:
    """For each post, the posts sharing most tags (newest first on ties).

    Each tag contributes at most ``candidates_per_tag`` neighbours nearest in date, so
    a popular tag on 10,000 posts stays linear instead of quadratic. Counting is done by
    ``Counter.update`` on slices and ties are broken by one precomputed rank, which keeps
    the Python work per post small (this ran for seconds at 10,000 posts). ``jobs``: from
    ``RELATED_FORK_FROM`` posts the posts are split between forked processes (same result).
    """
    from .forked import map_forked

    tag_sources = {tag.key: [p.source for p in tag.posts] for tag in tags}
    position = {key: {s: i for i, s in enumerate(sources)} for key, sources in tag_sources.items()}
    post_keys = {p.source: {fold for fold in (fold_tag(n) for n in p.tag_names) if fold in tag_sources} for p in posts}
    # alias spellings: map through tags' posts membership
    membership: dict[str, list[str]] = defaultdict(list)
    for key, sources in tag_sources.items():
        for source in sources:
            membership[source].append(key)
    by_source: dict[str, Post] = {p.source: p for tag in tags for p in tag.posts}
    by_source.update((p.source, p) for p in posts)
    order = sorted(by_source, key=lambda s: (-by_source[s].date.timestamp(), s))
    rank = {s: i for i, s in enumerate(order)}  # newest first, then by source: the tie-break
    half = candidates_per_tag // 2

    def choose(sources: Sequence[str]) -> list[tuple[str, ...]]:
        """The related posts (as sources) of each of ``sources``: the work split between processes."""
        out: list[tuple[str, ...]] = []
        for source in sources:
            scores: Counter[str] = Counter()
            for key in membership.get(source, post_keys.get(source, ())):
                i = position[key][source]
                scores.update(tag_sources[key][max(0, i - half) : i + half + 1])
            scores.pop(source, None)
            chosen: list[str] = []
            if scores and limit > 0:
                for level in range(max(scores.values()), 0, -1):
                    group = [s for s, n in scores.items() if n == level]
                    group.sort(key=rank.__getitem__)
                    chosen.extend(group[: limit - len(chosen)])
                    if len(chosen) >= limit:
                        break
            out.append(tuple(chosen))
        return out

    sources = [p.source for p in posts]
    lists = map_forked(choose, sources, jobs, RELATED_FORK_FROM)
    return {source: tuple(by_source[s] for s in chosen) for source, chosen in zip(sources, lists, strict=True)}


RELATED_FORK_FROM = 2000  # posts from which related lists are worked out in two processes


def related_key(posts: Sequence[Post], tags: Sequence[Tag], limit: int, tags_key: str | None = None) -> str:
    """Everything ``related_posts`` reads: each tag's members in order, each post's date, the limit.

    A post's title or body is not in it, so editing a post's text reuses the last build's
    related lists (computing them is ~0.4 s at 10,000 posts). ``tags_key``: the key under which
    ``build_tags_memo`` made ``tags`` from these ``posts``; it already covers all of the above
    (the tags are a function of it), so the key is then made from it without another pass.
    """
    if tags_key is not None:
        return hashlib.blake2b(f"tags:{tags_key}|{limit}".encode(), digest_size=20).hexdigest()
    parts = [str(limit)]
    for tag in tags:
        parts.append("#" + tag.key)
        parts.extend(map(_SOURCE, tag.posts))
    parts.append("|")
    parts.extend(map(_GROUP_KEY, posts))
    return hashlib.blake2b("\0".join(parts).encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()


_GROUP_KEY = attrgetter("group_key")
_SOURCE = attrgetter("source")


def related_posts_memo(
    posts: Sequence[Post],
    tags: Sequence[Tag],
    limit: int,
    memo: MutableMapping[str, Any] | None,
    live: MutableMapping[str, Any] | None = None,
    tags_key: str | None = None,
    jobs: int = 1,
) -> dict[str, tuple[Post, ...]]:
    """``related_posts``, reusing the answer in ``memo`` (as sources) when ``related_key`` matches.

    ``live`` (kept in memory by serve, never saved) holds the last answer as objects, so a
    rebuild after one edit swaps the edited post into the lists that name it instead of
    rebuilding 10,000 tuples.
    """
    if memo is None:
        return related_posts(posts, tags, limit, jobs=jobs)
    key = related_key(posts, tags, limit, tags_key)
    if memo.get("key") == key:
        by_source = dict(zip(map(_SOURCE, posts), posts, strict=True))
        stored: Mapping[str, tuple[str, ...]] = memo["sources"]
        if live is not None and live.get("key") == key:
            return _patched(live, by_source, stored)
        find = by_source.__getitem__
        result = {source: tuple(map(find, chosen)) for source, chosen in stored.items()}
    else:
        result = related_posts(posts, tags, limit, jobs=jobs)
        memo.clear()
        memo["key"] = key
        memo["sources"] = {source: tuple(p.source for p in chosen) for source, chosen in result.items()}
    if live is not None:
        live.clear()
        live.update(key=key, result=result, objects={p.source: p for p in posts})
    return result


def _patched(
    live: MutableMapping[str, Any], by_source: Mapping[str, Post], stored: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[Post, ...]]:
    """The last result with replaced post objects swapped in (same key: same lists of sources)."""
    objects: dict[str, Post] = live["objects"]
    result: dict[str, tuple[Post, ...]] = live["result"]
    changed = {source for source, post in by_source.items() if objects.get(source) is not post}
    if changed:
        if "naming" not in live:  # which lists name each post: built once per key
            naming: dict[str, list[str]] = defaultdict(list)
            for source, chosen in stored.items():
                for other in chosen:
                    naming[other].append(source)
            live["naming"] = naming
        touched = set(changed)
        for source in changed:
            touched.update(live["naming"].get(source, ()))
        result = dict(result)
        for source in touched:
            result[source] = tuple(by_source[s] for s in stored[source])
        live["result"] = result
        live["objects"] = dict(by_source)
    return result
