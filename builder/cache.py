"""The persistent build cache (``.netjournal-cache/`` in the site folder).

Two things live here, both safe to delete at any time:

- ``content-<settings>.pickle``: parsed and rendered posts/pages keyed by a hash of
  (code fingerprint, settings, path, text), so a warm build skips Markdown;
- ``stamp-<output>.json``: the fingerprint of every input of the last successful
  build into one output folder, so a build with nothing changed can stop early.

A cache file that cannot be read (truncated, from another Python, tampered with)
is ignored and rebuilt: the cache only ever saves time, never decides content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable
from functools import cache, partial
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

from .model import NEWOBJ, Rendered  # (stdlib only: cheap to import)
from .nogc import paused_gc

CACHE_DIR = ".netjournal-cache"
KEEP_PER_OUTPUT = 8
FORMAT = 2  # 2: post bodies in their own files (bodies-*.bin), read when needed
PACKAGE = Path(__file__).resolve().parent
# Modules whose code decides what a parsed post or page contains.
CONTENT_MODULES = ("content.py", "markup.py", "model.py", "yamlsrc.py", "errors.py")
CONTENT_PACKAGES = ("Markdown", "Pygments", "python-slugify", "PyYAML")


def hash_parts(*parts: str | bytes) -> str:
    """One hex digest of several strings, unambiguous about where each ends."""
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503, as dist-info folder names are matched


@cache
def _installed_versions() -> dict[str, str]:
    """{normalised name: version} from the ``NAME-VERSION.dist-info`` folders on ``sys.path``,
    first found wins (as imports do): one listing per path entry, no metadata file parsed."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                dist, _, version = folder[: -len(".dist-info")].partition("-")
                if version:
                    found.setdefault(_normalise(dist), version)
    return found


def _package_version(name: str) -> str:
    """The installed version of ``name``: read from its dist-info folder's name (importing
    ``importlib.metadata`` and parsing METADATA cost ~30 ms per build), else asked the slow way."""
    version = _installed_versions().get(_normalise(name))
    if version is not None:
        return version
    from importlib import metadata  # e.g. an egg-info install

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


@cache
def code_fingerprint(modules: tuple[str, ...] = CONTENT_MODULES, packages: tuple[str, ...] = CONTENT_PACKAGES) -> str:
    """Hash of our own source files and the versions of the libraries they use.

    The version number alone is not enough: during development the code changes
    while ``__version__`` does not, and a stale cache would hide the change.
    """
    parts: list[str | bytes] = [str(FORMAT)]
    for name in modules:
        path = PACKAGE / name
        parts.append(path.read_bytes() if path.is_file() else b"-")
    parts.extend(_package_version(p) for p in packages)
    return hash_parts(*parts)


@cache
def builder_fingerprint() -> str:
    """Hash of every module of the package (anything may change the output)."""
    modules = tuple(sorted(p.name for p in PACKAGE.glob("*.py")))
    return code_fingerprint(modules, (*CONTENT_PACKAGES, "Jinja2", "MarkupSafe", "networkx"))


def tree_fingerprint(folders: Iterable[Path]) -> str:
    """Names, sizes and modification times of every file under ``folders`` (cheap: no reading)."""
    return tree_stats(folders)[0]


def tree_stats(folders: Iterable[Path]) -> tuple[str, int, dict[str, list[tuple[str, int, int]]]]:
    """(``tree_fingerprint``, the newest modification time in ns, the files found per folder as
    (path relative to it, size, mtime_ns)): one ``scandir`` walk, no reading. The listing lets
    the build find changed posts without a second walk.

    Hashed as one ``repr`` of the listing: a string and a hash update per file were half the
    cost of walking 10,000 posts.
    """
    listing: dict[str, list[tuple[str, int, int]]] = {}

    def walk(folder: str, prefix: str, found: list[tuple[str, int, int]]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=_NAME)
        except OSError:
            return
        subdirs = []
        add = found.append
        for entry in entries:
            if entry.is_dir():
                subdirs.append(entry)
                continue
            try:
                st = entry.stat()
            except OSError:  # removed while we looked
                continue
            add((prefix + entry.name, st.st_size, st.st_mtime_ns))
        for entry in subdirs:
            walk(entry.path, f"{prefix}{entry.name}/", found)

    for folder in folders:
        found = listing.setdefault(str(folder), [])
        if folder.is_dir():
            walk(str(folder), "", found)
    newest = max((mtime for files in listing.values() for _, _, mtime in files), default=0)
    return hash_parts(repr(sorted(listing.items()))), newest, listing


_NAME = attrgetter("name")


def prepare_folder(folder: Path) -> None:
    """Create the cache folder, telling git (and backup tools) to leave it alone."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        with contextlib.suppress(OSError):
            ignore.write_text("# written by netjournal: a cache, safe to delete\n*\n", encoding="utf-8")


def prune(folder: Path, keep: int = KEEP_PER_OUTPUT) -> None:
    """Per-output files (stamps, page digests) of outputs built long ago are dropped: newest ``keep`` stay."""
    for prefix in ("stamp-", "pages-"):
        files = sorted(folder.glob(prefix + "*"), key=lambda p: p.stat().st_mtime, reverse=True)
        outputs: list[str] = []  # one output has several files (pages-<id>.pickle, -blocks, -plan)
        for path in files:
            output = path.name[len(prefix) : len(prefix) + 16]
            if output not in outputs:
                outputs.append(output)
            if outputs.index(output) >= keep:
                with contextlib.suppress(OSError):
                    path.unlink()


def _atomic_write(path: Path, data: bytes | Callable[[IO[bytes]], None]) -> None:
    """Write ``data`` (bytes, or a function writing to the open file) to ``path`` atomically."""
    prepare_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)  # streamed: no second copy of a 70 MB pickle in memory
            else:
                handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


SHARDS = "0123456789abcdef"  # cache keys are hex digests: their first digit picks the shard
BODY_MAGIC = b"netjournal-bodies\n"
TOKEN_BYTES = 16


class BodyUnavailable(Exception):
    """A cached body could not be read back intact and there is no way to parse it again."""


class BodyFile:
    """One shard's body file, opened once when its index is loaded.

    Reads go through this descriptor, so they see the file as it was when the index was
    read: another build replacing it (atomically) leaves this one on the old file. The
    token in its header must match the index's, or the pair was not written together.
    """

    def __init__(self, path: Path, token: bytes) -> None:
        self.fd = -1
        fd = os.open(path, os.O_RDONLY)
        header = os.pread(fd, len(BODY_MAGIC) + TOKEN_BYTES, 0)
        if header != BODY_MAGIC + token:
            os.close(fd)
            raise ValueError(f"{path}: not the body file of this index")
        self.fd = fd

    def read(self, offset: int, length: int, crc: int) -> bytes | None:
        """The record's bytes, or None when short or not what was written (a damaged file)."""
        try:
            data = os.pread(self.fd, length, offset)
        except OSError:
            return None
        return data if len(data) == length and zlib.crc32(data) == crc else None

    def __del__(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


# (file, offset, length of the html in bytes, length of the toc in bytes, crc32 of both)
BodyRef = tuple[BodyFile, int, int, int, int]


def _shard(key: str) -> str:
    first = key[:1]
    return first if first and first in SHARDS else "0"


def _body_of(value: Any) -> Rendered | None:
    body = getattr(value, "body", None)
    return body if type(body) is Rendered else None


class _IndexPickler(pickle.Pickler):
    """Pickles posts and pages with their bodies' html and toc left out (they go to the body file)."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Rendered:
            return NEWOBJ, (Rendered,), obj.state(with_texts=False)
        return NotImplemented


class ContentCache:
    """{key: parsed Post/Page} kept in memory, loaded from and saved to 16 shards of two files.

    Split by the key's first hex digit so that a build after one edit rewrites the one or two
    shards that changed instead of all of them. Each shard is an index (``content-*.pickle``:
    every post without the html and toc of its body) and a body file (``bodies-*.bin``: those
    texts, each with a CRC). A build loads every index but reads a body only when a page
    shows it (``Rendered.html``): at 10,000 posts the indexes are ~10 MB of 75.
    A body that cannot be read back intact is parsed again from its source through
    ``fallback(key, source path) -> (html, toc_html)`` (the Builder's), never guessed.
    ``folder=None`` keeps it in memory only (``--no-cache``).
    """

    def __init__(self, folder: Path | None, name: str = "content") -> None:
        self.folder = folder
        self.name = name
        self.entries: dict[str, Any] = {}
        self.fallback: Callable[[str, str], tuple[str, str]] | None = None
        self._refs: dict[str, BodyRef] = {}  # keys whose body is still in a body file
        self._files: dict[str, BodyFile] = {}  # shard -> its body file as loaded (appended to by save)
        self._loaded_from: str | None = None
        self._dirty: set[str] = set()

    def path(self, settings: str, shard: str = "0") -> Path | None:
        return None if self.folder is None else self.folder / f"{self.name}-{settings[:16]}-{shard}.pickle"

    def body_path(self, settings: str, shard: str = "0") -> Path | None:
        return None if self.folder is None else self.folder / f"bodies-{settings[:16]}-{shard}.bin"

    def load(self, settings: str) -> None:
        """Read the indexes for these settings once (a bad or missing shard is an empty one)."""
        if self._loaded_from == settings:
            return
        self._loaded_from = settings
        self.entries = {}
        self._refs = {}
        self._files = {}
        self._dirty = set()
        if self.folder is None:
            return
        with paused_gc():  # 10,000 posts of small objects, no cycles: collections would only walk them
            for shard in SHARDS:
                self._load_shard(settings, shard)

    def _load_shard(self, settings: str, shard: str) -> None:
        path, body_path = self.path(settings, shard), self.body_path(settings, shard)
        assert path is not None and body_path is not None
        try:
            with path.open("rb") as handle:
                data = pickle.load(handle)  # noqa: S301 - our own file in the site's cache folder
            if not (isinstance(data, dict) and data.get("format") == FORMAT and data.get("settings") == settings):
                return
            items, refs = data["items"], data["refs"]
            bodies = BodyFile(body_path, data["token"]) if refs else None
        except Exception:  # missing or corrupt: those posts are parsed again
            return
        if bodies is not None:
            self._files[shard] = bodies
        load = self._load_body
        for key, value in items.items():
            ref = refs.get(key)
            if ref is not None:
                body = _body_of(value)
                if body is None or bodies is None:
                    continue
                full: BodyRef = (bodies, *ref)
                self._refs[key] = full
                body.lazy(partial(load, key, str(getattr(value, "source", key)), full))  # (no cycle via value)
            self.entries[key] = value

    def _load_body(self, key: str, source: str, ref: BodyRef) -> tuple[str, str]:
        """(html, toc_html) of one cached body: from its file, else parsed again (and saved anew)."""
        bodies, offset, html_len, toc_len, crc = ref
        data = bodies.read(offset, html_len + toc_len, crc)
        if data is not None:
            return data[:html_len].decode("utf-8", "surrogatepass"), data[html_len:].decode("utf-8", "surrogatepass")
        if self.fallback is None:
            if self._refs.get(key) is ref:  # never saved again: left out when its shard is written
                del self._refs[key]
                self._dirty.add(_shard(key))
            raise BodyUnavailable(f"cached body of {source} is damaged")
        html, toc = self.fallback(key, source)
        if self._refs.get(key) is ref:  # rewrite its shard with the good body (when saved)
            del self._refs[key]
            self._dirty.add(_shard(key))
        return html, toc

    def get(self, key: str) -> Any | None:
        return self.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = value
        self._refs.pop(key, None)
        self._dirty.add(_shard(key))

    def keep_only(self, keys: set[str]) -> None:
        """Forget entries the last build did not use (deleted or edited sources)."""
        stale = [k for k in self.entries if k not in keys]
        for key in stale:
            del self.entries[key]
            self._refs.pop(key, None)
            self._dirty.add(_shard(key))

    def save(self) -> bool:
        """Write the shards that changed; True when any was written. Failure to write is not an error."""
        if self.folder is None or not self._dirty or self._loaded_from is None:
            return False
        settings = self._loaded_from
        by_shard: dict[str, dict[str, Any]] = {shard: {} for shard in self._dirty}
        for key, value in self.entries.items():
            items = by_shard.get(_shard(key))
            if items is not None:
                items[key] = value
        written = False
        for shard, items in sorted(by_shard.items()):
            try:
                self._save_shard(settings, shard, items)
            except OSError:
                return written
            written = True
        self._dirty = set()
        return written

    def _save_shard(self, settings: str, shard: str, items: dict[str, Any]) -> None:
        """The body file first, then the index naming its token: a reader never pairs an index
        with a body file written for another. New bodies are appended to the body file this
        build loaded when most of it is still in use (one edit: ~25 KB instead of a 4 MB file)."""
        if self._append_shard(settings, shard, items):
            return
        token = os.urandom(TOKEN_BYTES)
        chunks: list[bytes] = [BODY_MAGIC + token]
        offset = len(chunks[0])
        kept: dict[str, Any] = {}
        refs: dict[str, tuple[int, int, int, int]] = {}
        for key, value in items.items():
            body = _body_of(value)
            if body is None:
                kept[key] = value
                continue
            ref = self._refs.get(key) if not body.loaded else None
            if ref is None and not body.loaded:
                continue  # its record was found damaged (and not parsed again): left out
            if ref is not None:  # still in the old file: its bytes are copied, checked, not decoded
                data = ref[0].read(ref[1], ref[2] + ref[3], ref[4])
                if data is None:
                    continue  # damaged: left out, so the next build parses it again
                html_len, toc_len = ref[2], ref[3]
            else:
                html = body.html.encode("utf-8", "surrogatepass")
                toc = body.toc_html.encode("utf-8", "surrogatepass")
                data, html_len, toc_len = html + toc, len(html), len(toc)
            chunks.append(data)
            refs[key] = (offset, html_len, toc_len, zlib.crc32(data))
            offset += len(data)
            kept[key] = value
        body_path, path = self.body_path(settings, shard), self.path(settings, shard)
        assert body_path is not None and path is not None

        _atomic_write(body_path, b"".join(chunks))
        _write_index(path, settings, token, refs, kept)

    def _append_shard(self, settings: str, shard: str, items: dict[str, Any]) -> bool:
        """Save a shard by appending its new bodies to the body file it was loaded from and
        writing its index anew (same token). Records already in the file stay where they are:
        an index written earlier still reads them, and a crash mid-append leaves only unused
        bytes at the end. False (nothing written) when the file is not the one loaded or would
        be less than half in use: then the caller writes the shard whole."""
        bodies = self._files.get(shard)
        body_path, path = self.body_path(settings, shard), self.path(settings, shard)
        if bodies is None or body_path is None or path is None:
            return False
        kept: dict[str, Any] = {}
        refs: dict[str, tuple[int, int, int, int]] = {}
        pending: list[tuple[str, bytes, int, int]] = []
        live = 0
        for key, value in items.items():
            body = _body_of(value)
            if body is None:
                kept[key] = value
                continue
            ref = self._refs.get(key)
            if ref is not None and ref[0] is bodies:  # already in this file (a damaged one has no ref)
                refs[key] = ref[1:]
                live += ref[2] + ref[3]
            elif not body.loaded:
                if ref is None:
                    continue  # its record was found damaged (and not parsed again): left out
                return False  # in another file (not expected): the whole shard is copied and checked
            else:
                html = body.html.encode("utf-8", "surrogatepass")
                toc = body.toc_html.encode("utf-8", "surrogatepass")
                pending.append((key, html + toc, len(html), len(toc)))
            kept[key] = value
        blob = b"".join(data for _, data, _, _ in pending)
        try:
            loaded = os.fstat(bodies.fd)
            size = loaded.st_size + len(blob)
            if 2 * (live + len(blob)) < size:
                return False  # mostly replaced bodies: compact
            if blob:
                fd = os.open(body_path, os.O_WRONLY | os.O_APPEND)
                try:
                    now = os.fstat(fd)
                    if (now.st_dev, now.st_ino) != (loaded.st_dev, loaded.st_ino):
                        return False  # replaced by another build since we loaded it
                    if os.write(fd, blob) != len(blob):
                        return False  # (the part written is unused bytes at the end)
                    end = os.lseek(fd, 0, os.SEEK_CUR)
                finally:
                    os.close(fd)
                offset = end - len(blob)
                for key, data, html_len, toc_len in pending:
                    refs[key] = (offset, html_len, toc_len, zlib.crc32(data))
                    self._refs[key] = (bodies, offset, html_len, toc_len, refs[key][3])
                    offset += len(data)
        except OSError:
            return False
        _write_index(path, settings, os.pread(bodies.fd, TOKEN_BYTES, len(BODY_MAGIC)), refs, kept)
        return True


def _write_index(
    path: Path, settings: str, token: bytes, refs: dict[str, tuple[int, int, int, int]], kept: dict[str, Any]
) -> None:
    """A shard's index, naming the token of the body file its refs point into."""

    def write(handle: IO[bytes]) -> None:
        index = {"format": FORMAT, "settings": settings, "token": token, "refs": refs, "items": kept}
        _IndexPickler(handle, protocol=pickle.HIGHEST_PROTOCOL).dump(index)

    _atomic_write(path, write)


POST_INDEX = "posts-index.pickle"


def load_post_index(folder: Path) -> tuple[dict[str, tuple[int, int, str]], int]:
    """(path -> (size, mtime_ns, digest), when that build began reading); empty when unreadable."""
    try:
        with (folder / POST_INDEX).open("rb") as handle, paused_gc():
            data = pickle.load(handle)  # noqa: S301 - our own file in the site's cache folder
    except Exception:  # missing or corrupt: every post is read
        return {}, 0
    if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("posts"), dict):
        return data["posts"], int(data.get("scanned", 0))
    return {}, 0


def save_post_index(folder: Path, index: dict[str, tuple[int, int, str]], scanned: int) -> None:
    with contextlib.suppress(OSError):
        data = {"format": FORMAT, "scanned": scanned, "posts": index}
        _atomic_write(folder / POST_INDEX, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))


def _state_path(folder: Path) -> Path:
    return folder / "state.pickle"


def load_state(folder: Path, code: str) -> dict[str, Any]:
    """Derived values the last build kept (related posts, the network); empty if from other code."""
    try:
        with _state_path(folder).open("rb") as handle, paused_gc():
            data = pickle.load(handle)  # noqa: S301 - our own file in the site's cache folder
    except Exception:  # missing or corrupt (or a class that no longer exists): start afresh
        return {}
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("code") == code:
        state = data.get("state")
        return state if isinstance(state, dict) else {}
    return {}


def save_state(folder: Path, code: str, state: dict[str, Any]) -> None:
    with contextlib.suppress(OSError, pickle.PicklingError, TypeError, AttributeError):
        data = pickle.dumps({"format": FORMAT, "code": code, "state": state}, protocol=pickle.HIGHEST_PROTOCOL)
        _atomic_write(_state_path(folder), data)


def stamp_path(folder: Path, output: Path) -> Path:
    return folder / f"stamp-{hash_parts(str(output.resolve()))[:16]}.json"


def read_stamp(folder: Path | None, output: Path) -> dict[str, Any] | None:
    """The fingerprint record of the last build into ``output``, or None."""
    if folder is None:
        return None
    try:
        data = json.loads(stamp_path(folder, output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def write_stamp(folder: Path | None, output: Path, stamp: dict[str, Any]) -> None:
    if folder is None:
        return
    with contextlib.suppress(OSError):
        _atomic_write(stamp_path(folder, output), json.dumps({"format": FORMAT, **stamp}, sort_keys=True).encode())
        prune(folder)


def clear_stamp(folder: Path | None, output: Path) -> None:
    if folder is not None:
        with contextlib.suppress(OSError):
            stamp_path(folder, output).unlink()
