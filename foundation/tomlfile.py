"""Reading TOML files into validated pydantic models, with errors that name the file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

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


def error_location(loc: tuple[int | str, ...]) -> str:
    """('partners', 0, 'mou', 'expires') -> 'partners[0].mou.expires'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validate_model(model: type[ModelT], data: Any, source: str, *, prefix: str = "") -> ModelT:
    """Validate `data`; on failure raise one ConfigError listing every bad key with its rule."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            key = error_location(tuple(err["loc"]))
            if prefix:
                key = f"{prefix}.{key}" if key else prefix
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{key}: {message}" if key else message)
        raise ConfigError("; ".join(problems), file=source) from None
