"""The ``netjournal`` command line: maps SiteError to ``file:line: message`` and exit 1.

Usage errors exit 2 (argparse's convention). ``--debug`` shows tracebacks.
Heavy modules are imported inside the commands so ``--help`` starts fast.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__
from .errors import SiteError, SiteErrors

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2


def _source(value: str) -> Path:
    return Path(value)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netjournal", description="A static-site generator for a network journal.")
    parser.add_argument("--version", action="version", version=f"netjournal {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--source", type=_source, default=Path("."), metavar="DIR", help="site folder (default: .)")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors")
        p.set_defaults(func=func)
        return p

    p = command("init", "scaffold a new site with a starter post and one round", cmd_init)
    p.add_argument("directory", type=Path, help="folder to create")

    p = command("new", "write a new draft post", cmd_new)
    p.add_argument("kind", choices=["post"], help="what to create")
    p.add_argument("title", help="the post title")
    p.add_argument("--tags", default="", help="comma-separated tags")

    p = command("build", "build the site into an output folder", cmd_build)
    p.add_argument("--output", type=Path, default=None, metavar="DIR", help="output folder (default: SOURCE/public)")
    p.add_argument("--drafts", action="store_true", help="include drafts")
    p.add_argument("--future", action="store_true", help="include posts dated in the future")
    p.add_argument("--base-url", default=None, metavar="URL", help="override base_url from site.yaml")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the build cache")
    p.add_argument(
        "--cache-dir", type=Path, default=None, metavar="DIR", help="cache folder (default: SOURCE/.netjournal-cache)"
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=_positive,
        default=None,
        metavar="N",
        help="processes for Markdown and pages on cold builds (default: all cores)",
    )

    p = command("serve", "preview with live reload (drafts shown)", cmd_serve)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--output", type=Path, default=None, metavar="DIR", help="output folder (default: a temporary one)")
    p.add_argument("--no-drafts", action="store_true", help="hide drafts")
    p.add_argument("--future", action="store_true", help="show posts dated in the future")

    command("check", "validate everything; exit 1 with file:line messages on errors", cmd_check)

    p = command("network", "print the per-round network metrics", cmd_network)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = command("match", "propose the pairs for a round", cmd_match)
    p.add_argument("--round", type=int, required=True, dest="round_number", metavar="N")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--write", action="store_true", help="save data/rounds/round-N.yaml")
    p.add_argument("--exclude", default="", help="comma-separated ids to leave out this round")
    return parser


def print_errors(errors: Sequence[SiteError]) -> None:
    for error in errors:
        print(error.format(), file=sys.stderr)


def cmd_build(args: argparse.Namespace) -> int:
    from .build import Builder, BuildOptions
    from .progress import Progress

    output = args.output or args.source / "public"
    options = BuildOptions(
        args.source,
        output,
        drafts=args.drafts,
        future=args.future,
        base_url=args.base_url,
        cache=not args.no_cache,
        cache_dir=args.cache_dir,
        jobs=args.jobs,
    )
    with Progress(enabled=not args.quiet) as progress:
        result = Builder().build(options, progress=progress)
    print_errors(result.warnings)
    if not args.quiet:
        print(
            f"Built {result.pages} pages ({len(result.written)} files written, {len(result.removed)} removed) "
            f"in {result.seconds:.2f} s -> {output}"
        )
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from .check import check_site

    problems, warnings = check_site(args.source)
    print_errors(warnings)
    print_errors(problems)
    if problems:
        print(f"{len(problems)} error(s).", file=sys.stderr)
        return EXIT_CONTENT
    print("No errors found.")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import main_serve

    return int(main_serve(args) or 0)


def cmd_network(args: argparse.Namespace) -> int:
    from .check import load_network
    from .network import format_metrics_table, metrics_json

    network = load_network(args.source)
    if network is None:
        print("No round data (data/rounds/*.yaml) in this site.", file=sys.stderr)
        return EXIT_CONTENT
    print(metrics_json(network) if args.json else format_metrics_table(network))
    return EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    from .match import main_match

    return int(main_match(args) or 0)


def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import init_site

    init_site(args.directory)
    print(f"Created a new site in {args.directory}. Next: netjournal serve --source {args.directory}")
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import new_post

    path = new_post(args.source, args.title, args.tags)
    print(f"Created {path} (a draft: set draft: false to publish)")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    # numpy's OpenBLAS starts a thread per core that spins after use; netjournal makes no BLAS
    # calls worth threading (sparse products only), and the cores are wanted for parsing and
    # rendering processes, which are forked and must not inherit half of a BLAS thread pool.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return int(args.func(args))
    except SiteErrors as exc:
        if debug:
            raise
        print_errors(exc.errors)
        return EXIT_CONTENT
    except SiteError as exc:
        if debug:
            raise
        print_errors([exc])
        return EXIT_CONTENT
    except KeyboardInterrupt:
        return 130


def run() -> NoReturn:
    """The ``netjournal`` command: ``main``, then exit without tearing the interpreter down.

    A build of 10,000 posts leaves millions of objects alive; CPython frees them one by one at
    exit, which took ~0.2 s after every one-edit build (a fifth of it). Exit handlers still run
    and the output is flushed; every file a build writes is closed (and renamed) before ``main``
    returns, so nothing is lost.
    """
    code = main()
    getattr(atexit, "_run_exitfuncs")()  # noqa: B009 - what a normal exit runs first
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # e.g. a closed pipe: as Python itself reports it
        code = code or 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
