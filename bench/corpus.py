"""Deterministic benchmark site: N blog posts plus a small round data set.

The post generator follows ``../shared/bench/gen_corpus.py`` call for call (same
seed -> the same posts, byte for byte), so netjournal and the reference
generators build one corpus. Post i depends only on (seed, i). The round data
(people + rounds) is our own, also seeded, so the network pages are part of the
measured build; :func:`round_data` makes the large 5,000 x 50 set too.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# ~60 tags, ordered by intended popularity (rank 1 = most common). Multi-word
# tags, hyphenated tags and very short tags are deliberately mixed in, because
# they stress slugification and URL handling in every generator.
TAGS = [
    "leadership",
    "python",
    "system leadership",
    "teams",
    "writing",
    "yet",
    "management",
    "learning",
    "culture",
    "design",
    "strategy",
    "hiring",
    "remote work",
    "productivity",
    "open source",
    "testing",
    "feedback",
    "architecture",
    "data",
    "career",
    "coaching",
    "meetings",
    "ops",
    "incident review",
    "planning",
    "books",
    "ml",
    "web",
    "security",
    "performance",
    "mentoring",
    "onboarding",
    "roadmaps",
    "metrics",
    "documentation",
    "api design",
    "ux",
    "go",
    "rust",
    "devops",
    "product",
    "research",
    "ethics",
    "conferences",
    "notes",
    "tools",
    "automation",
    "cloud",
    "databases",
    "ai",
    "startups",
    "finance",
    "health",
    "travel",
    "misc",
    "q&a",
    "c++",
    "long-form",
    "til",
    "io",
]
assert len(TAGS) == 60 and len(set(TAGS)) == 60

ZIPF_S = 1.0  # weight of rank r is 1 / r**s
TAG_WEIGHTS = [1.0 / (r**ZIPF_S) for r in range(1, len(TAGS) + 1)]
TAG_COUNT_CHOICES = [1, 2, 3, 4, 5]
TAG_COUNT_WEIGHTS = [0.15, 0.30, 0.30, 0.15, 0.10]

DATE_START = datetime(2015, 1, 1, tzinfo=dt.UTC)
DATE_SPAN_DAYS = 3652  # ~10 years: 2015-01-01 .. 2024-12-31

WORDS = """
the of and to in is that for it as with was on be by this are or from at an
which have not they but can all we one their has more will been would there
what when up out so about into than them some could only other new time these
may then do first any now such like our over also its most way after two where
many through back well much before even must right good because each those
people very how system team work process change question answer problem
design plan build measure review learn share decision context meeting goal
project product customer value risk cost trade off signal noise pattern model
practice habit feedback loop owner budget deadline estimate scope quality
incident outage postmortem rollout release version branch commit test suite
coverage latency throughput cache queue worker thread service endpoint schema
index query table record field report dashboard metric alert threshold baseline
manager engineer leader mentor peer stakeholder partner vendor user reader
writer author editor draft outline chapter section paragraph sentence note
small large simple clear hard easy slow fast early late honest careful
deliberate explicit implicit shared local global stable fragile useful
quietly often rarely usually sometimes clearly simply mostly probably
argue explain notice suggest assume prefer avoid expect remember forget
""".split()  # noqa: SIM905 - a word list reads better as text

TECH_WORDS = """
Python Markdown Jinja2 YAML Hugo Pelican Eleventy Git Linux Postgres SQLite
Redis Kubernetes Docker Rust Go HTTP JSON TOML CSV RSS Atom
""".split()  # noqa: SIM905 - a word list reads better as text

HEADING_WORDS = """
Why How What When Notes Lessons Patterns Questions Tradeoffs Principles
Mistakes Habits Signals Costs Limits Defaults Experiments Reflections
Context Scope Ownership Feedback Decisions Priorities Risks Teams Systems
""".split()  # noqa: SIM905 - a word list reads better as text

CODE_SNIPPETS = {
    "python": [
        "def median(xs):\n    xs = sorted(xs)\n    n = len(xs)\n    mid = n // 2\n"
        "    return xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2\n",
        "from collections import Counter\n\n"
        "def top_tags(posts, k=10):\n    c = Counter(t for p in posts for t in p.tags)\n"
        "    return c.most_common(k)\n",
        "import time\n\nstart = time.perf_counter()\nbuild_site()\n"
        'print(f"built in {time.perf_counter() - start:.2f}s")\n',
    ],
    "bash": [
        '#!/bin/sh\nset -eu\nfor f in content/*.md; do\n  wc -w "$f"\ndone | sort -n | tail -5\n',
        "git log --since='1 year ago' --pretty=format:'%an' \\\n  | sort | uniq -c | sort -rn | head\n",
    ],
    "yaml": [
        "site:\n  title: Example Blog\n  paginate: 10\n  feeds:\n    - atom\n    - rss\n",
        "jobs:\n  build:\n    runs-on: linux\n    steps:\n      - run: make site\n",
    ],
    "json": [
        '{\n  "name": "example",\n  "version": "1.0.0",\n  "private": true\n}\n',
    ],
}

SLUG_RE = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    return SLUG_RE.sub("-", text.lower()).strip("-")


class PostWriter:
    """Builds one post from its own RNG; methods append Markdown blocks."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.blocks: list[str] = []
        self.words = 0
        self.footnotes: list[str] = []

    # -- inline text -----------------------------------------------------
    def _word(self) -> str:
        r = self.rng.random()
        if r < 0.03:
            return self.rng.choice(TECH_WORDS)
        return self.rng.choice(WORDS)

    def sentence(self, lo: int = 8, hi: int = 20, inline: bool = True) -> str:
        rng = self.rng
        n = rng.randint(lo, hi)
        ws = [self._word() for _ in range(n)]
        self.words += n
        if inline:
            # emphasis / strong / inline code / link on a few words
            r = rng.random()
            if r < 0.18 and n > 4:
                i = rng.randrange(1, n - 2)
                ws[i] = f"*{ws[i]}*"
            elif r < 0.30 and n > 4:
                i = rng.randrange(1, n - 3)
                ws[i] = f"**{ws[i]} {ws[i + 1]}**"
                del ws[i + 1]
            elif r < 0.36:
                i = rng.randrange(0, n)
                ws[i] = f"`{ws[i]}`"
            if rng.random() < 0.14 and n > 5:
                i = rng.randrange(0, n - 2)
                target = f"https://example.org/{slugify(ws[i + 1]) or 'page'}/{rng.randint(1, 999)}"
                ws[i] = f"[{ws[i].strip('*`')} {ws[i + 1].strip('*`')}]({target})"
                del ws[i + 1]
        s = " ".join(ws)
        s = s[0].upper() + s[1:]
        return s + rng.choice([".", ".", ".", ".", "?", "!"])

    def paragraph(self, lo: int = 3, hi: int = 6) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(lo, hi)))

    def heading_text(self) -> str:
        rng = self.rng
        n = rng.randint(2, 5)
        self.words += n
        first = rng.choice(HEADING_WORDS)
        rest = " ".join(rng.choice(WORDS) for _ in range(n - 1))
        return f"{first} {rest}"

    # -- blocks ------------------------------------------------------------
    def add_paragraph(self):
        self.blocks.append(self.paragraph())

    def add_list(self, ordered: bool):
        items = []
        for k in range(self.rng.randint(3, 6)):
            text = self.sentence(4, 12)
            items.append(f"{k + 1}. {text}" if ordered else f"- {text}")
        if not ordered and self.rng.random() < 0.25:
            # one nested level
            items.insert(1, "    - " + self.sentence(3, 8))
        self.blocks.append("\n".join(items))

    def add_blockquote(self):
        lines = self.paragraph(1, 3)
        self.blocks.append(
            "> " + lines + "\n>\n> — " + self.rng.choice(WORDS).title() + " " + self.rng.choice(WORDS).title()
        )

    def add_code(self):
        lang = self.rng.choice(sorted(CODE_SNIPPETS))
        code = self.rng.choice(CODE_SNIPPETS[lang])
        self.blocks.append(f"```{lang}\n{code}```")

    def add_table(self):
        rng = self.rng
        cols = rng.randint(3, 4)
        head = [rng.choice(WORDS).title() for _ in range(cols)]
        rows = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * (cols - 1) + ["---:"]) + "|"]
        for _ in range(rng.randint(3, 6)):
            cells = [rng.choice(WORDS) for _ in range(cols - 1)] + [str(rng.randint(1, 9999))]
            self.words += cols
            rows.append("| " + " | ".join(cells) + " |")
        self.blocks.append("\n".join(rows))

    def add_footnote_to_last_paragraph(self):
        n = len(self.footnotes) + 1
        # attach to the last plain paragraph
        for i in range(len(self.blocks) - 1, -1, -1):
            b = self.blocks[i]
            if b and b[0].isalpha():
                self.blocks[i] = b + f"[^{n}]"
                self.footnotes.append(f"[^{n}]: {self.sentence(6, 14)}")
                return


def make_post(seed: int, index: int) -> dict:
    rng = random.Random(f"{seed}:{index}")
    w = PostWriter(rng)

    title_words = [rng.choice(WORDS) for _ in range(rng.randint(3, 7))]
    title = " ".join(title_words).capitalize()
    if rng.random() < 0.2:
        title = f"{rng.choice(HEADING_WORDS)}: {title.lower()}"
    slug = f"{index:05d}-{slugify(title)[:48].strip('-')}"

    date = DATE_START + timedelta(seconds=rng.randrange(DATE_SPAN_DAYS * 86400))
    k = rng.choices(TAG_COUNT_CHOICES, TAG_COUNT_WEIGHTS)[0]
    tags: list[str] = []
    while len(tags) < k:
        t = rng.choices(TAGS, TAG_WEIGHTS)[0]
        if t not in tags:
            tags.append(t)
    summary = w.sentence(12, 24, inline=False)

    target = rng.randint(600, 900)
    has_code = rng.random() < 0.25
    has_table = rng.random() < 0.20
    has_footnote = rng.random() < 0.30
    quote_at = rng.randint(1, 3)  # section index that gets the blockquote

    w.add_paragraph()  # intro
    section = 0
    while w.words < target or section < 3:
        section += 1
        w.blocks.append("## " + w.heading_text())
        w.add_paragraph()
        r = rng.random()
        if r < 0.35:
            w.add_list(ordered=False)
        elif r < 0.55:
            w.add_list(ordered=True)
        if section == quote_at:
            w.add_blockquote()
        if has_code and section == 2:
            w.add_code()
        if has_table and section == 3:
            w.add_table()
        if rng.random() < 0.5 and w.words < target:
            w.blocks.append("### " + w.heading_text())
            w.add_paragraph()
        if w.words < target:
            w.add_paragraph()
        if has_footnote and section == 1:
            w.add_footnote_to_last_paragraph()
        if section > 12:  # safety net
            break

    body = "\n\n".join(w.blocks)
    if w.footnotes:
        body += "\n\n" + "\n".join(w.footnotes)

    fm = "\n".join(
        [
            "---",
            f"title: {json.dumps(title)}",
            f"date: {date.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "tags: [" + ", ".join(json.dumps(t) for t in tags) + "]",
            f"summary: {json.dumps(summary)}",
            "---",
        ]
    )
    return {
        "slug": slug,
        "title": title,
        "date": date,
        "tags": tags,
        "words": w.words,
        "text": fm + "\n\n" + body + "\n",
        "has_code": has_code,
        "has_table": has_table,
        "has_footnote": has_footnote,
    }


# --- netjournal site layout ---------------------------------------------------------------

SITE_YAML = """title: Bench Journal
description: A generated benchmark site.
base_url: https://example.org/
timezone: UTC
paginate: 10
search: false
network:
  labels: public
"""


def round_data(people: int, rounds: int, seed: int = 1, everyone: bool = False) -> tuple[str, list[str]]:
    """``(people.yaml text, [round-k.yaml text, ...])`` for a random-pairing scheme.

    ``everyone`` puts every person in every round (the 5,000 x 50 target);
    otherwise people join over time and attend about 85 % of rounds.
    """
    rng = random.Random(f"{seed}:people")
    ids = [f"p{i:05d}" for i in range(1, people + 1)]
    orgs = [f"Organisation {i + 1}" for i in range(max(2, people // 25))]
    joined = {
        pid: 1 if everyone or i < people * 6 // 10 else rng.randint(2, max(2, rounds)) for i, pid in enumerate(ids)
    }
    lines = ["# generated by bench/corpus.py"]
    for pid in ids:
        lines += [
            f"{pid}:",
            f"  name: Person {pid[1:]}",
            f"  organisation: {rng.choice(orgs)}",
            f"  public: {'true' if rng.random() < 0.2 else 'false'}",
            f"  joined: {joined[pid]}",
        ]
    texts = []
    start = dt.date(2016, 1, 20)
    for k in range(1, rounds + 1):
        present = [p for p in ids if joined[p] <= k and (everyone or joined[p] == k or rng.random() < 0.85)]
        rng.shuffle(present)
        groups = [present[i : i + 2] for i in range(0, len(present) - len(present) % 2, 2)]
        if len(present) % 2 and groups:
            groups[-1].append(present[-1])
        when = start + timedelta(days=28 * (k - 1))
        body = [f"round: {k}", f"date: {when.isoformat()}", f"title: Round {k}", "pairs:"]
        body += [f"  - [{', '.join(group)}]" for group in groups]
        texts.append("\n".join(body) + "\n")
    return "\n".join(lines) + "\n", texts


def write_rounds(site: Path, people: int, rounds: int, seed: int = 1, everyone: bool = False) -> None:
    """Write ``data/people.yaml`` and ``data/rounds/round-k.yaml`` into a site folder."""
    people_text, round_texts = round_data(people, rounds, seed, everyone)
    (site / "data" / "rounds").mkdir(parents=True, exist_ok=True)
    (site / "data" / "people.yaml").write_text(people_text, encoding="utf-8")
    for k, text in enumerate(round_texts, start=1):
        (site / "data" / "rounds" / f"round-{k}.yaml").write_text(text, encoding="utf-8")


def write_site(
    site: Path, posts: int, seed: int = 42, people: int = 40, rounds: int = 8, engine: str = "python-markdown"
) -> dict[str, Any]:
    """A complete netjournal site folder: site.yaml, N posts, a small round data set.

    ``engine`` is written into site.yaml (``markdown.engine``) unless it is the default.
    The folder must not exist or be a previous benchmark site (its content is replaced).
    """
    post_dir = site / "content" / "posts"
    if post_dir.is_dir():
        for old in post_dir.glob("*.md"):
            old.unlink()
    post_dir.mkdir(parents=True, exist_ok=True)
    engine_yaml = "" if engine == "python-markdown" else f"markdown:\n  engine: {engine}\n"
    (site / "site.yaml").write_text(SITE_YAML + engine_yaml, encoding="utf-8")
    words = 0
    for i in range(1, posts + 1):
        post = make_post(seed, i)
        (post_dir / f"{post['slug']}.md").write_text(post["text"], encoding="utf-8")
        words += post["words"]
    if rounds:
        write_rounds(site, people, rounds, seed)
    manifest = {
        "posts": posts,
        "seed": seed,
        "words_total": words,
        "people": people,
        "rounds": rounds,
        "engine": engine,
    }
    (site / "corpus.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def post_path(site: Path, index: int, seed: int = 42) -> Path:
    """The file of post ``index`` (1-based) in a site written by :func:`write_site`."""
    return site / "content" / "posts" / f"{make_post(seed, index)['slug']}.md"
