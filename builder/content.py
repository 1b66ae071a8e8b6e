"""Posts and pages: split front matter, validate it, render the body.

Pure functions from (path, text, settings) to Post/Page; every mistake becomes a
SiteError naming the file and the line of the offending key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from pathlib import PurePosixPath
from typing import Any

from slugify import slugify

from .errors import ErrorList, SiteError, SiteErrors
from .markup import plain_text, render_markdown
from .model import Page, Post, Rendered
from .yamlsrc import load_yaml_fast

FRONT_MATTER_END = re.compile(r"^---\s*$", re.M)
KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.M)
DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}-")
POST_KEYS = {"title", "date", "tags", "summary", "draft", "slug", "updated", "round", "with", "description"}


@dataclass(frozen=True)
class FrontMatter:
    """Front matter as data, the line of each top-level key, and where the body starts."""

    data: dict[str, Any]
    key_lines: dict[str, int]
    body: str
    body_line: int


def split_front_matter(text: str, path: str) -> FrontMatter:
    """``---`` YAML ``---`` then the body; a missing or unclosed block is an error."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    if not text.startswith("---"):
        raise SiteError(path, 1, "missing front matter", "start the file with a '---' line, then title: and date:")
    end = FRONT_MATTER_END.search(text, 4)
    if not end or text[: end.start()].count("\n") < 1:
        raise SiteError(path, 1, "front matter is not closed", "add a line '---' after the front matter")
    yaml_text = text[4 : end.start()]
    data = load_yaml_fast(yaml_text, path, first_line=2)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SiteError(path, 2, "front matter must be key: value lines", "e.g. title: My post")
    key_lines = {m.group(1): 2 + yaml_text.count("\n", 0, m.start()) for m in KEY_LINE.finditer(yaml_text)}
    body_line = text.count("\n", 0, end.end()) + 2
    return FrontMatter(data, key_lines, text[end.end() + 1 :], body_line)


def to_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """A YAML date/datetime/ISO string -> an aware datetime (site zone when none is given)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def parse_tag_list(value: Any) -> tuple[str, ...] | None:
    """A list of names, or one comma-separated string; None when neither."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part for part in (p.strip() for p in value.split(",")) if part)
    if isinstance(value, list) and all(isinstance(item, (str, int, float)) for item in value):
        return tuple(str(item).strip() for item in value if str(item).strip())
    return None


def slug_from_path(path: str) -> str:
    """``content/posts/2019-03-02-Not Yet.md`` -> ``not-yet``."""
    stem = PurePosixPath(path).stem
    return slugify(DATE_PREFIX.sub("", stem)) or "post"


def parse_post(path: str, text: str, tz: tzinfo, base_path: str, rendered: Rendered | None = None) -> Post:
    """Validate a post's front matter and render its body (unless ``rendered`` is cached)."""
    fm = split_front_matter(text, path)
    errors = ErrorList()

    def line(key: str) -> int:
        return fm.key_lines.get(key, 2)

    title = fm.data.get("title")
    if not isinstance(title, str) or not title.strip():
        errors.add(
            path, line("title") if "title" in fm.data else 1, "missing or empty 'title'", "add title: Your title"
        )
    raw_date = fm.data.get("date")
    when = to_datetime(raw_date, tz)
    if raw_date is None:
        errors.add(path, 1, "missing 'date'", "add date: 2024-05-01 (or a datetime)")
    elif when is None:
        errors.add(
            path,
            line("date"),
            f"'date' is not a date: {raw_date!r}",
            "use ISO format, e.g. 2024-05-01 or 2024-05-01T09:30",
        )
    updated = to_datetime(fm.data.get("updated"), tz)
    if fm.data.get("updated") is not None and updated is None:
        errors.add(path, line("updated"), "'updated' is not a date", "use ISO format, e.g. 2024-06-01")
    tags = parse_tag_list(fm.data.get("tags"))
    if tags is None:
        errors.add(
            path, line("tags"), "'tags' must be a list or a comma-separated string", "e.g. tags: [yet, coaching]"
        )
    _check_types(fm, path, errors)
    slug = fm.data.get("slug")
    if slug is not None and (not isinstance(slug, str) or slugify(slug) != slug):
        hint = f"e.g. slug: {slugify(str(slug)) or 'my-post'}"
        errors.add(path, line("slug"), "'slug' must be lower-case letters, digits and hyphens", hint)
    with_people = fm.data.get("with") or []
    if isinstance(with_people, str):
        with_people = [with_people]
    if not isinstance(with_people, list) or not all(isinstance(p, str) for p in with_people):
        errors.add(path, line("with"), "'with' must be a list of participant ids", "e.g. with: [sarah-r]")
        with_people = []
    body = rendered
    if body is None:
        try:
            body = render_markdown(fm.body, path, fm.body_line, base_path)
        except SiteError as exc:
            errors.extend([exc])
    errors.raise_if_any()
    assert body is not None and when is not None and tags is not None and isinstance(title, str)
    summary = fm.data.get("summary")
    if isinstance(summary, str) and summary.strip():
        from html import escape

        body = _with_summary(body, f"<p>{escape(summary.strip())}</p>")
    meta = {k: v for k, v in fm.data.items() if k not in POST_KEYS}
    description = fm.data.get("description") or plain_text(body.summary_html, 200)
    return Post(
        source=path,
        slug=slug or slug_from_path(path),
        title=title.strip(),
        date=when,
        updated=updated,
        tag_names=tags,
        draft=fm.data.get("draft") is True,
        body=body,
        meta=meta,
        round=fm.data.get("round"),
        with_people=tuple(with_people),
        key_lines=fm.key_lines,
        description=str(description),
    )


def _with_summary(body: Rendered, summary_html: str) -> Rendered:
    return Rendered(body.html, summary_html, body.toc_html, body.words, body.embeds, body.links)


def _check_types(fm: FrontMatter, path: str, errors: ErrorList) -> None:
    expected: dict[str, tuple[type, ...]] = {
        "summary": (str,),
        "draft": (bool,),
        "round": (int,),
        "description": (str,),
    }
    for key, types in expected.items():
        value = fm.data.get(key)
        if value is not None and (not isinstance(value, types) or (key == "round" and isinstance(value, bool))):
            wanted = "true or false" if types == (bool,) else "a whole number" if key == "round" else "text"
            errors.add(path, fm.key_lines.get(key, 2), f"'{key}' must be {wanted}, not {value!r}")
    if isinstance(fm.data.get("round"), int) and fm.data["round"] < 1:
        errors.add(path, fm.key_lines.get("round", 2), "'round' must be a positive round number")


def parse_page(path: str, text: str, base_path: str, rendered: Rendered | None = None) -> Page:
    """A standalone page: needs a title; its slug comes from the file name or ``slug``."""
    fm = split_front_matter(text, path)
    title = fm.data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise SiteError(path, fm.key_lines.get("title", 1), "missing or empty 'title'", "add title: Your title")
    slug = fm.data.get("slug") or slug_from_path(path)
    if not isinstance(slug, str) or slugify(slug) != slug:
        raise SiteError(path, fm.key_lines.get("slug", 2), "'slug' must be lower-case letters, digits and hyphens")
    body = rendered or render_markdown(fm.body, path, fm.body_line, base_path)
    description = fm.data.get("description") or plain_text(body.summary_html, 200)
    meta = {k: v for k, v in fm.data.items() if k not in {"title", "slug", "description"}}
    return Page(path, slug, title.strip(), str(description), body, meta, fm.key_lines)


def parse_many(items: list[tuple[str, str]], parse: Any) -> list[Any]:
    """Parse every source, collecting every error instead of stopping at the first."""
    results, errors = [], ErrorList()
    for path, text in items:
        try:
            results.append(parse(path, text))
        except SiteError as exc:
            errors.extend([exc])
        except SiteErrors as exc:
            errors.extend(exc.errors)
    errors.raise_if_any()
    return results
