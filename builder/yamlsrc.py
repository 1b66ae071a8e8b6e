"""YAML loading that keeps line numbers, so errors can say ``file:line``.

Mappings load as :class:`LineDict` and sequences as :class:`LineList`; both
remember the (1-based) line where they start and the line of each key/item.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml

from .errors import SiteError

try:  # the C loader is ~10x faster; fall back to pure Python where it is missing
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _BaseLoader = yaml.SafeLoader


class LineDict(dict):  # type: ignore[type-arg]
    """A dict that knows the line it starts on and the line of every key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):  # type: ignore[type-arg]
    """A list that knows the line it starts on and the line of every item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def _lenient_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """A date-shaped scalar that is no real date (``2020-13-45``) stays a string.

    PyYAML raises a bare ValueError (no line) for those; as a string the caller
    can report "'date' is not a date" at the key's line instead of a traceback.
    """
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


class _FastLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The C loader with lenient timestamps."""


_FastLoader.add_constructor("tag:yaml.org,2002:timestamp", _lenient_timestamp)


class _LineLoader(yaml.SafeLoader):
    """Safe loader building LineDict/LineList with marks (used when lines matter)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark
            ) from None
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _lenient_timestamp)


def marked_error(exc: yaml.MarkedYAMLError, path: str, first_line: int = 1) -> SiteError:
    """A PyYAML error as ``file:line``, pointing where the author must look.

    An unclosed quote or bracket is only noticed at the end of the file (or on a
    later line); the line where it was opened (PyYAML's context mark) is named too,
    and used as the error line when the problem is "end of stream".
    """
    problem = exc.problem or exc.context or "invalid YAML"
    mark = exc.problem_mark or exc.context_mark
    line = (mark.line + first_line) if mark else first_line
    hint = "check indentation, quotes and colons"
    context_mark = exc.context_mark
    if exc.context and context_mark is not None and exc.problem_mark is not None:
        opened = context_mark.line + first_line
        if "end of stream" in problem or "<stream end>" in problem:
            line, problem = opened, f"{exc.context}, {problem}"
            hint = "a quote or bracket opened on this line is never closed"
        elif opened != line:
            problem = f"{problem} ({exc.context} that starts on line {opened})"
    return SiteError(path, line, f"invalid YAML: {problem}", hint)


def load_yaml(text: str, path: str, first_line: int = 1) -> Any:
    """Parse ``text`` keeping lines; ``first_line`` offsets embedded YAML (front matter).

    Raises :class:`SiteError` with the file and line of the problem.
    """
    data = _parse(text, _LineLoader, path, first_line)
    if first_line != 1:
        _shift_lines(data, first_line - 1)
    return data


def _shift_lines(data: Any, offset: int) -> None:
    if isinstance(data, LineDict):
        data.line += offset
        data.key_lines = {k: v + offset for k, v in data.key_lines.items()}
        for value in data.values():
            _shift_lines(value, offset)
    elif isinstance(data, LineList):
        data.line += offset
        data.item_lines = [v + offset for v in data.item_lines]
        for value in data:
            _shift_lines(value, offset)


def line_of(container: Any, key: Any, default: int | None = None) -> int | None:
    """Line of ``key`` in a LineDict/LineList, or ``default`` for plain containers."""
    if isinstance(container, (LineDict, LineList)):
        return container.line_of(key)
    return default


def load_yaml_fast(text: str, path: str, first_line: int = 1) -> Any:
    """Parse ``text`` with the C loader into plain dicts/lists (no line marks).

    For hot paths such as post front matter; callers find key lines themselves.
    """
    return _parse(text, _FastLoader, path, first_line)


def _parse(text: str, loader: Any, path: str, first_line: int) -> Any:
    """yaml.load with every YAML failure turned into a located SiteError (one place for both loaders)."""
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - both loaders are safe loaders
    except yaml.MarkedYAMLError as exc:
        raise marked_error(exc, path, first_line) from None
    except yaml.YAMLError as exc:
        raise SiteError(path, first_line, f"invalid YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. "!!int abc": constructors raise unmarked
        raise SiteError(path, first_line, f"invalid YAML value: {exc}", "check explicit !!tags") from None


# --- a fast path for regular, machine-written files --------------------------------------
#
# Round files of large schemes are thousands of lines like ``  - [p00017, p00342]``. Even
# libyaml's composer spends most of its time building Python node objects for them, so
# files made only of the simple shapes below are read line by line with regular
# expressions. Anything else (quotes, anchors, comments after a value, multi-line
# scalars, deeper nesting, a YAML error...) is left to :func:`load_yaml`, so results
# and error messages never depend on which path read the file.


class _Unsupported(Exception):
    """The text uses YAML the line reader does not handle: let the full loader read it."""


# A plain scalar without the characters that would need YAML's full rules here.
_SCALAR = r"[^\s#:,\[\]{}\-?&*!|>'\"%@`~][^#:,\[\]{}]*?"
_KEY_LINE = re.compile(rf"(?P<indent> *)(?P<key>{_SCALAR}):(?: +(?P<value>\S.*?))? *")
_ITEM_LINE = re.compile(r"(?P<indent> *)- +(?P<value>\S.*?) *")
_SKIP_LINE = re.compile(r" *(?:#.*)?")
_FLOW_PAIR = re.compile(rf" *({_SCALAR}): +(\[[^\[\]{{}}]*\]|{_SCALAR}) *(?:,|$)")
_WHOLE_SCALAR = re.compile(_SCALAR)
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
# Line breaks YAML knows besides "\n", tabs and a BOM: rare in these files, so not handled.
_AWKWARD = re.compile("[\r\t\x85\u2028\u2029\ufeff]")
_RESOLVER = yaml.resolver.Resolver()
_TAG = "tag:yaml.org,2002:"


@functools.lru_cache(maxsize=1 << 16)
def _plain_value(token: str) -> Any:
    """What the safe loader makes of a plain scalar; memoised (ids repeat in every round)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, token, (True, False))
    if tag == _TAG + "str":
        return token
    if tag == _TAG + "int" and _DECIMAL.fullmatch(token):
        return int(token)
    if tag == _TAG + "bool":
        return token.lower() in ("yes", "true", "on")
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "timestamp":
        loader = _FastLoader("")
        return _lenient_timestamp(loader, yaml.ScalarNode(tag, token))
    raise _Unsupported


def _scalar(token: str) -> Any:
    if _WHOLE_SCALAR.fullmatch(token) is None:
        raise _Unsupported
    return _plain_value(token)


def _flow_value(text: str, line: int) -> Any:
    """A value written on one line: ``[a, b]``, ``{k: v, k: [a, b]}`` or a plain scalar."""
    if text[0] == "[":
        return _flow_list(text, line)
    if text[0] == "{":
        return _flow_dict(text, line)
    return _scalar(text)


def _flow_list(text: str, line: int) -> LineList:
    if text[-1] != "]":
        raise _Unsupported
    body = text[1:-1]
    items = LineList(map(_flow_item, body.split(","))) if body.strip() else LineList()
    items.line = line
    items.item_lines = [line] * len(items)
    return items


@functools.lru_cache(maxsize=1 << 16)
def _flow_item(raw: str) -> Any:
    """One item of a one-line ``[...]`` list (memoised: the same ids recur in every round)."""
    token = raw.strip(" ")
    if not token or _WHOLE_SCALAR.fullmatch(token) is None:
        raise _Unsupported  # an empty item, a trailing comma, quotes, nesting...
    return _plain_value(token)


def _flow_dict(text: str, line: int) -> LineDict:
    if text[-1] != "}":
        raise _Unsupported
    body = text[1:-1]
    result = LineDict()
    result.line = line
    result.key_lines = {}
    pos, end = 0, len(body.rstrip())
    while pos < end:
        found = _FLOW_PAIR.match(body, pos)
        if found is None:
            raise _Unsupported
        key = _plain_value(found.group(1))
        if key in result:
            raise _Unsupported
        raw = found.group(2)
        result[key] = _flow_list(raw, line) if raw[0] == "[" else _plain_value(raw)
        result.key_lines[key] = line
        pos = found.end()
    if body.rstrip().endswith(","):
        raise _Unsupported
    return result


def _regular_yaml(text: str) -> LineDict:
    """Parse a mapping of scalars, one-line lists/mappings and one level of block lists/mappings."""
    if _AWKWARD.search(text) or yaml.reader.Reader.NON_PRINTABLE.search(text):
        raise _Unsupported
    top = LineDict()
    top.key_lines = {}
    block: LineDict | LineList | None = None  # the block collection under the current top-level key
    block_indent = -1
    open_key: Any = None  # a top-level key written as "key:" whose value may follow
    for number, raw in enumerate(text.split("\n"), start=1):
        item = _ITEM_LINE.fullmatch(raw)  # the common line first: "  - [p00017, p00342]"
        if item is not None:
            indent = item.end("indent")
            if block is None and open_key is not None and (indent > 0 or raw.startswith("- ")):
                block = LineList()
                block.line, block.item_lines, block_indent = number, [], indent
                top[open_key] = block
            if not isinstance(block, LineList) or indent != block_indent:
                raise _Unsupported
            value = item.group("value")
            block.append(_flow_list(value, number) if value[0] == "[" else _flow_value(value, number))
            block.item_lines.append(number)
            continue
        if _SKIP_LINE.fullmatch(raw):
            continue
        entry = _KEY_LINE.fullmatch(raw)
        if entry is None:
            raise _Unsupported
        indent = len(entry.group("indent"))
        key = _plain_value(entry.group("key"))
        value = entry.group("value")
        if indent == 0:
            if key in top:
                raise _Unsupported  # the full loader reports the duplicate with its line
            if not top.key_lines:
                top.line = number
            top[key] = None if value is None else _flow_value(value, number)
            top.key_lines[key] = number
            open_key = key if value is None else None
            block, block_indent = None, -1
            continue
        if block is None and open_key is not None:
            block = LineDict()
            block.line, block.key_lines, block_indent = number, {}, indent
            top[open_key] = block
        if not isinstance(block, LineDict) or indent != block_indent or key in block:
            raise _Unsupported
        block[key] = None if value is None else _flow_value(value, number)
        block.key_lines[key] = number
    if not top.key_lines:
        raise _Unsupported  # empty or comment-only: the full loader says what that means
    return top


def regular_yaml(text: str) -> LineDict | None:
    """What :func:`load_yaml` returns (lines included) for a regular machine-written file, else None.

    Handles a top-level mapping whose values are plain scalars, one-line ``[...]``/``{...}``
    collections, or one level of block lists/mappings of those. None means "not that
    shape, or not valid": read it with :func:`load_yaml`, which also reports any error.
    """
    try:
        return _regular_yaml(text)
    except _Unsupported:
        return None


def load_yaml_regular(text: str, path: str) -> Any:
    """:func:`load_yaml`, taking the fast line reader when the file allows it."""
    found = regular_yaml(text)
    return found if found is not None else load_yaml(text, path)
