"""One-line messages for schema errors, shared by experiment, sweep and target files.

A pydantic error names a location as a tuple of keys; the YAML reader knows the line of each
key path. The message names the file, the line, the dotted key and what is accepted, for the
first error only (and counts the rest), so a typo is one line and never a traceback.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from pydantic import ValidationError

from ..yamlio import KeyPath, line_of

#: (file name, line of every key path in that file, where that file's keys sit in the schema)
Where = Sequence[tuple[str, dict[KeyPath, int], KeyPath]]


def format_validation_error(
    exc: ValidationError, where: Where, unknown: Optional[str] = None,
    key_path: Callable[[KeyPath], KeyPath] = lambda loc: loc,
) -> str:
    """``file:line: dotted.key: what is wrong`` for the first error of ``exc``.

    ``unknown`` replaces the text after "unknown key" (default: the model's name);
    ``key_path`` maps pydantic's location to the key path of the file (e.g. it drops the tag
    of a discriminated union).
    """
    errors = exc.errors()
    err = errors[0]
    loc = key_path(tuple(err["loc"]))
    key = ".".join(str(p) for p in loc) or "(top level)"
    source, line = where[-1][0], None
    for src, lines, prefix in where:
        if loc[: len(prefix)] == prefix and loc[len(prefix):] in lines:
            source, line = src, lines[loc[len(prefix):]]
            break
    if line is None:
        source, lines, _ = where[0]
        line = line_of(lines, loc)
    tail = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    where_txt = f"{source}:{line}" if line else source
    return f"{where_txt}: {key}: {describe(err, exc.title, unknown)}{tail}"


def describe(err: Any, model: str, unknown: Optional[str] = None) -> str:
    """What is wrong, with the value that was given where that helps."""
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown key" + (unknown if unknown is not None else f" (not part of {model})" if model else "")
    if err["type"] == "missing":
        return "missing field"
    if err["type"] == "value_error":
        return msg.removeprefix("Value error, ")
    if err["type"] == "literal_error":
        return f"got {err.get('input')!r}; {msg[0].lower()}{msg[1:]}"
    if "input" in err and not isinstance(err["input"], (dict, list)):
        return f"{msg} (got {err['input']!r})"
    return msg
