"""The YAML reference of the manual, generated from the experiment schema at build time.

Every key of an experiment file is a field of :class:`spikelocal.config.ExperimentConfig` or
of a model nested in it; this module walks those models and writes one Markdown table per
section (key, type, default, accepted range, description), so the reference cannot fall
behind the schema. The rule options are documented per rule: the options model of each
``rule.name`` (from the schema's rule union where the schema has one, else from the rule
registry, whose classes name their options model).

Run as a script to print the Markdown; the Sphinx extension writes it before the build.
"""
from __future__ import annotations

import enum
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Iterator, Union

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

NONE_TYPE = type(None)


def _unwrap(annotation: Any) -> Any:
    """Drop ``Annotated[...]`` wrappers."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [_unwrap(a) for a in typing.get_args(annotation)]
    return [annotation]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def type_name(annotation: Any) -> str:
    """A short, YAML-minded name of a type: ``int``, ``'a' | 'b'``, ``list of int``, ``null``."""
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(annotation))
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if annotation is NONE_TYPE:
        return "null"
    if annotation is typing.Any:
        return "any"
    if _is_model(annotation):
        return "section"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    name = getattr(annotation, "__name__", str(annotation))
    return {"str": "text", "bool": "true/false"}.get(name, name)


def default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section defaults)"
    if isinstance(value, enum.Enum):
        value = value.value
    return f"`{json.dumps(value)}`" if value is not None else "`null`"


def _bounds(metadata: list[Any]) -> list[str]:
    parts = []
    for item in metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(item, attr, None)
            if value is not None and isinstance(item, (annotated_types.BaseMetadata, annotated_types.Interval)):
                parts.append(f"{sign} {value}")
        if isinstance(item, annotated_types.MinLen):
            parts.append(f"at least {item.min_length} items")
        if isinstance(item, annotated_types.MaxLen):
            parts.append(f"at most {item.max_length} items")
    return parts


def range_text(field: FieldInfo) -> str:
    """Accepted range from the field's own constraints and those of constrained member types."""
    parts = _bounds(list(field.metadata))
    for member in _union_members(field.annotation):
        if typing.get_origin(member) is typing.Annotated:
            parts += _bounds(list(typing.get_args(member)[1:]))
    annotation = field.annotation
    while typing.get_origin(annotation) is typing.Annotated:
        args = typing.get_args(annotation)
        parts += _bounds(list(args[1:]))
        annotation = args[0]
    for member in typing.get_args(_unwrap(field.annotation)):
        if typing.get_origin(member) is typing.Annotated:
            parts += _bounds(list(typing.get_args(member)[1:]))
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return ", ".join(seen)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|") if text else ""


def _doc(model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip()
    if not doc or doc.startswith(("A base class", "Usage docs")) or model.__module__.startswith("pydantic"):
        return ""
    return doc.split("\n\n")[0]


def sections(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type[BaseModel], list[tuple[str, FieldInfo]]]]:
    """(section key, model, its scalar fields) for ``model`` and every model nested in it."""
    scalars: list[tuple[str, FieldInfo]] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        members = [m for m in _union_members(field.annotation) if m is not NONE_TYPE]
        key = f"{prefix}{name}"
        if name == "rule" and not prefix:
            continue                                   # per-rule tables, see rule_sections
        if len(members) == 1 and _is_model(members[0]):
            nested.append((key, members[0]))
            scalars.append((name, field))
            continue
        inner = [typing.get_args(_unwrap(m))[0] for m in members
                 if typing.get_origin(_unwrap(m)) is list and typing.get_args(_unwrap(m))]
        if len(inner) == 1 and _is_model(_unwrap(inner[0])):
            nested.append((f"{key}[]", _unwrap(inner[0])))
        scalars.append((name, field))
    yield prefix.rstrip(".") or "(top level)", model, scalars
    for key, sub in nested:
        yield from sections(sub, key + ".")


def rule_models() -> list[type[BaseModel]]:
    """The options model of every rule name, from the schema's union or the rule registry."""
    from spikelocal.config import ExperimentConfig

    field = ExperimentConfig.model_fields["rule"]
    models = [m for m in _union_members(field.annotation) if _is_model(m)]
    if models:
        return models
    from spikelocal.rules import RULES

    return [RULES.get(name).Options for name in sorted(RULES.names())]


def _rule_name(model: type[BaseModel]) -> str:
    field = model.model_fields.get("name")
    if field is not None and isinstance(field.default, str):
        return field.default
    from spikelocal.rules import RULES

    for name in RULES.names():
        if RULES.get(name).Options is model:
            return name
    return model.__name__


def table(rows: list[tuple[str, FieldInfo]], model: type[BaseModel]) -> list[str]:
    out = ["| key | type | default | range | description |", "|---|---|---|---|---|"]
    for name, field in rows:
        members = [m for m in _union_members(field.annotation) if m is not NONE_TYPE]
        if len(members) == 1 and _is_model(members[0]):
            kind = "section (below)"
        else:
            kind = type_name(field.annotation)
        out.append(f"| `{name}` | {kind} | {default_text(field)} | {_cell(range_text(field))} | "
                   f"{_cell(field.description or '')} |")
    return out


def render() -> str:
    from spikelocal.config import ExperimentConfig

    lines: list[str] = []
    for key, model, rows in sections(ExperimentConfig):
        if not rows:
            continue
        lines += [f"## `{key}`" if key != "(top level)" else "## Top level", ""]
        doc = _doc(model)
        if doc:
            lines += [" ".join(doc.split()), ""]
        lines += table(rows, model) + [""]
    lines += ["## `rule`", "",
              "`rule.name` picks the learning rule; each rule takes the options below and rejects "
              "any other key.", ""]
    for model in rule_models():
        name = _rule_name(model)
        rows = [(n, f) for n, f in model.model_fields.items()]
        lines += [f"### `rule.name: {name}`", ""]
        doc = _doc(model)
        if doc:
            lines += [" ".join(doc.split()), ""]
        lines += table(rows, model) + [""]
    return "\n".join(lines)


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app: Any) -> dict[str, Any]:
    def _generate(app: Any, config: Any) -> None:
        write(Path(app.srcdir) / "reference" / "_generated" / "yaml.md")

    app.connect("config-inited", _generate)
    return {"parallel_read_safe": True, "version": "1"}


if __name__ == "__main__":
    sys.stdout.write(render())
