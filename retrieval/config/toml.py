"""A build's config as TOML: written by ``retrieval config show DIR``, read by ``retrieval build --config FILE``.

Top-level fields (``metric``, ``train_sample``) come first, then one table per
section (``[autoencoder]``, ``[train]``, …). TOML has no null: a field that is
unset (None) is written as a comment, and a file leaves out what it does not set.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import get_type_hints

from retrieval.errors import RetrievalError


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's string escapes are TOML's basic string escapes
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_value(item)}" for key, item in value.items() if item is not None) + " }"
    raise RetrievalError(f"a config value of type {type(value).__name__} has no TOML form: {value!r}")


def _lines(values: dict) -> list[str]:
    return [f"{key} = {_value(value)}" if value is not None else f"# {key} is unset" for key, value in values.items()]


def to_toml(config: dict) -> str:
    """``config`` (a ``BuildConfig.to_dict()`` or a manifest's ``config``) as TOML text."""
    lines = _lines({key: value for key, value in config.items() if not isinstance(value, dict)})
    for name, section in config.items():
        if isinstance(section, dict):
            lines += ["", f"[{name}]", *_lines(section)]
    return "\n".join(lines) + "\n"


def read_toml(path: Path, config_type) -> dict:
    """The sections and top-level fields a TOML file sets, checked against ``config_type``'s fields (a
    BuildConfig or ImageConfig dataclass): RetrievalError naming the file and the first unknown name."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise RetrievalError(f"cannot read the config file {path}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise RetrievalError(f"{path} is not valid TOML: {err}") from None
    hints = get_type_hints(config_type)
    known = {f.name: hints[f.name] for f in fields(config_type)}
    for name, value in data.items():
        if name not in known:
            raise RetrievalError(f"{path}: no config field or section named {name!r} (known: {', '.join(known)})")
        section = known[name]
        if is_dataclass(section):
            if not isinstance(value, dict):
                raise RetrievalError(f"{path}: {name} is a section; write it as a table, [{name}]")
            names = {f.name for f in fields(section)}
            unknown = [key for key in value if key not in names]
            if unknown:
                raise RetrievalError(
                    f"{path}: [{name}] has no field {unknown[0]!r} (known: {', '.join(sorted(names))})"
                )
            data[name] = {key: tuple(item) if isinstance(item, list) else item for key, item in value.items()}
        elif isinstance(value, dict):
            raise RetrievalError(f"{path}: {name} is a single value, not a table")
    return data
