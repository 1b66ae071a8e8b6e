"""YAML loading that keeps line numbers, so errors can say ``file:line``.

Mappings load as :class:`LineDict` and sequences as :class:`LineList`; both
remember the (1-based) line where they start and the line of each key/item.
"""

from __future__ import annotations

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
