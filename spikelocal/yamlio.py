"""YAML reading with numbers as users write them and line numbers for error messages.

PyYAML's ``safe_load`` follows YAML 1.1 and reads ``1e-3`` as a string; the loader here adds
the YAML 1.2 float forms so ``lr: 1e-3`` is a number. It also records, for every key path,
the line it stands on, so a validation error can say ``experiments/x.yaml:7``.

It is also the guard against hostile or broken files: a file over :data:`MAX_BYTES` or not
valid UTF-8 is refused before parsing; anchors and aliases are refused (a "billion laughs"
file expands nested aliases exponentially); nesting deeper than :data:`MAX_DEPTH` is refused
before PyYAML's recursive composer overflows; a key given twice in one mapping is an error
naming both lines (the last one would otherwise win silently). The file is parsed once.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


#: experiment, model and sweep files are a few KiB; anything this large is not one
MAX_BYTES = 64 * 1024
#: experiments nest about five levels deep
MAX_DEPTH = 50


class _Refused(yaml.YAMLError):
    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads YAML 1.2 floats such as ``1e-3`` and refuses aliases,
    deep nesting and duplicate keys while composing."""

    _depth = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused("anchors and aliases (&name, *name) are not accepted; write the values out",
                           event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor):  # type: ignore[no-untyped-def]
        node = super().compose_mapping_node(anchor)
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused("a key must be a plain value, not a list or a mapping", key_node.start_mark)
        return node

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                raise _Refused(f"{key_node.value!r} cannot be a key", key_node.start_mark) from None
            if first is not None:
                raise _Refused(f"key {key_node.value!r} given twice (lines {first} and {line})", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))

KeyPath = tuple[Any, ...]


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines)


def _load(text: str) -> tuple[Any, yaml.Node | None]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML text; return the data and a map from key path to line number."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{source}: {len(text)} characters; a config file may have at most {MAX_BYTES}")
    try:
        data, node = _load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. a date like 2020-13-45
        raise ConfigError(f"{source}: not valid YAML: {type(exc).__name__}: {exc}") from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def load_yaml(path: Path) -> tuple[Any, dict[KeyPath, int]]:
    """Read a YAML file; a missing, unreadable, oversized or non-UTF-8 file is a one-line ConfigError."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // 1024} KiB; a config file is a few KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                          "save the file as UTF-8") from None
    return parse_yaml(text, str(path))


def parse_value(text: str) -> Any:
    """Parse one ``--set key=value`` value as YAML (so ``1e-3``, ``true``, ``[1, 2]`` work)."""
    try:
        return _load(text[:MAX_BYTES])[0]
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        return text


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of the longest prefix of ``path`` that the file has."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
