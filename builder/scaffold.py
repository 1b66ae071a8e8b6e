"""``netjournal init`` and ``netjournal new post``: write starter files (never overwrite)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from slugify import slugify

from .errors import SiteError

STARTER_CONFIG = """\
title: My network journal
description: Notes on conversations, coaching and the people I meet.
base_url: http://localhost:8000/
language: en
author: Your Name
timezone: Europe/London
paginate: 10
network:
  labels: public
  me: me
"""

STARTER_POST = """\
---
title: Hello, network
date: {today}
tags: [yet]
---
This is the first post of a journal that is also a network. The diagram below
shows the first round of conversations:

::: network round=1 caption="Round one"

Write a post with `netjournal new post "Title"` and preview with `netjournal serve`.
"""

STARTER_PEOPLE = """\
me: {name: Your Name, organisation: Your organisation, public: true}
friend: {organisation: Another organisation}
"""

STARTER_ROUND = """\
round: 1
date: {today}
title: Round 1
pairs:
  - [me, friend]
"""

STARTER_ABOUT = """\
---
title: About
---
Who writes this journal, and why.
"""


def init_site(directory: Path, today: date | None = None) -> None:
    """Create a minimal working site; refuse to touch a non-empty folder."""
    if directory.exists() and any(directory.iterdir()):
        raise SiteError(str(directory), None, "folder is not empty", "choose a new folder name")
    day = (today or date.today()).isoformat()
    files = {
        "site.yaml": STARTER_CONFIG,
        "content/posts/" + f"{day}-hello-network.md": STARTER_POST.format(today=day),
        "content/pages/about.md": STARTER_ABOUT,
        "data/people.yaml": STARTER_PEOPLE,
        "data/rounds/round-1.yaml": STARTER_ROUND.format(today=day),
        "data/tags.yaml": "yet:\n  description: The power of *not yet*.\n",
    }
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def new_post(source: Path, title: str, tags: str = "", today: date | None = None) -> Path:
    """content/posts/YYYY-MM-DD-<slug>.md as a draft; never overwrites."""
    day = (today or date.today()).isoformat()
    slug = slugify(title) or "post"
    path = source / "content" / "posts" / f"{day}-{slug}.md"
    if path.exists():
        raise SiteError(
            path.relative_to(source).as_posix(), None, "a post with this name already exists", "choose another title"
        )
    tag_list = [t.strip() for t in tags.split(",") if t.strip()]
    # JSON strings are valid YAML double-quoted scalars: quotes, backslashes and colons stay intact
    quoted_title = json.dumps(title, ensure_ascii=False)
    tag_yaml = "[" + ", ".join(json.dumps(t, ensure_ascii=False) for t in tag_list) + "]"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\ntitle: {quoted_title}\ndate: {day}\ntags: {tag_yaml}\ndraft: true\n---\n\nWrite here.\n",
        encoding="utf-8",
    )
    return path
