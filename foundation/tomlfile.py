"""Reading TOML files into validated pydantic models, with errors that name the file and key."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from foundation.errors import ConfigError

__all__ = ["read_toml", "parse_toml", "validate_model", "error_location"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; a missing or malformed file is a ConfigError naming it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file ({exc.__class__.__name__})", file=str(path)) from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=source) from None


def _without_tags(loc: tuple[int | str, ...], data: Any) -> tuple[int | str, ...]:
    """Drop the member tag pydantic puts in the location of a discriminated union
    (('feed', 'csv', 'inbx') -> ('feed', 'inbx')): it is not a key anyone wrote."""
    out: list[int | str] = []
    node = data
    for part in loc:
        if isinstance(part, str) and isinstance(node, dict) and part not in node \
                and node.get("kind") == part:
            continue
        out.append(part)
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return tuple(out)


def error_location(loc: tuple[int | str, ...], data: Any = None) -> str:
    """('partners', 0, 'mou', 'expires') -> 'partners[cgc].mou.expires' when the 1st partner's
    id is cgc (`data` given), else 'partners[0].mou.expires'."""
    out = ""
    node = data
    for part in _without_tags(loc, data):
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = item.get("id") if isinstance(item, dict) else None
            out += f"[{label}]" if isinstance(label, str) and label else f"[{part}]"
            node = item
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _submodel(annotation: Any, value: Any) -> type[BaseModel] | None:
    """The model a field holds: through Optional, tuples/lists/dicts and discriminated unions
    (picking the member whose `kind` literal matches the value, else the first)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Annotated:
        return _submodel(args[0], value)
    models = [m for m in (_submodel(a, value) for a in args) if m is not None]
    if len(models) > 1 and isinstance(value, dict):
        for candidate in models:
            field = candidate.model_fields.get("kind")
            if field is not None and value.get("kind") in get_args(field.annotation):
                return candidate
    return models[0] if models else None


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...], data: Any) -> list[str]:
    """The keys the model allows at `loc` (the location of the container of a bad key)."""
    current: type[BaseModel] | None = model
    node = data
    annotation: Any = None
    for part in _without_tags(loc, data):
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            current = _submodel(annotation, node)
            continue
        if current is None or part not in current.model_fields:
            return []
        annotation = current.model_fields[part].annotation
        node = node.get(part) if isinstance(node, dict) else None
        current = _submodel(annotation, node)
    if current is None:
        return []
    return [name for name in current.model_fields if name not in ("source", "base_dir")]


def _plain(err: Any, model: type[BaseModel], data: Any) -> str:
    """Pydantic's message for one error, said in plain words for a person editing a TOML file."""
    kind, ctx, loc = err["type"], err.get("ctx") or {}, tuple(err["loc"])
    if kind == "extra_forbidden":
        name = str(loc[-1])
        known = _known_keys(model, loc[:-1], data)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            return f'unknown key "{name}" (did you mean "{close[0]}"?)'
        return f'unknown key "{name}"' + (f" (known keys: {', '.join(known)})" if known else "")
    if kind == "missing":
        return "missing: this key is required"
    if kind == "union_tag_invalid":
        tags = str(ctx.get("expected_tags", "")).replace("'", '"').split(", ")
        expected = " or ".join(tags) if len(tags) < 3 else ", ".join(tags[:-1]) + " or " + tags[-1]
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return f'{field} = "{ctx.get("tag")}" is not supported (use {expected})'
    if kind == "union_tag_not_found":
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return f'missing: "{field}" says which kind this is'
    if kind == "literal_error":
        given = err.get("input")
        shown = f'"{given}"' if isinstance(given, str) and len(given) <= 60 else "this value"
        expected = str(ctx.get("expected", "")).replace("'", '"')
        return f"{shown} is not one of {expected}"
    words = {
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "string_type": 'must be text in quotes, e.g. "..."',
        "date_parsing": "must be a date such as 2026-08-01",
        "date_from_datetime_parsing": "must be a date such as 2026-08-01",
        "date_type": "must be a date such as 2026-08-01",
        "model_type": "must be a table of keys, e.g. { key = value }",
        "model_attributes_type": "must be a table of keys, e.g. { key = value }",
        "dict_type": "must be a table of keys, e.g. { key = value }",
        "list_type": "must be a list, e.g. [\"a\", \"b\"]",
        "tuple_type": "must be a list, e.g. [\"a\", \"b\"]",
    }
    if kind in words:
        return words[kind]
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"must hold at {'least' if kind == 'too_short' else 'most'} {bound} item(s)"
    bounds = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
              "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}
    if kind in bounds:
        key, said = bounds[kind]
        return f"must be {said} {ctx.get(key)}"
    return str(err["msg"]).removeprefix("Value error, ")


def validate_model(model: type[ModelT], data: Any, source: str, *, prefix: str = "") -> ModelT:
    """Validate `data`; on failure raise one ConfigError listing every bad key with its rule,
    in plain words (not pydantic's), list items named by their `id` where they have one, and a
    "did you mean" for a misspelt key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            key = error_location(tuple(err["loc"]), data)
            if prefix:
                key = f"{prefix}.{key}" if key else prefix
            message = _plain(err, model, data)
            problems.append(f"{key}: {message}" if key else message)
        raise ConfigError("; ".join(problems), file=source) from None
