"""Config dataclasses built from user values, with every type checked up front and errors that name the field.

Hydra hands an app plain values (command-line overrides arrive as strings, ints or floats as the
user typed them). :func:`build` turns a mapping into a config dataclass: unknown fields are named,
each value is checked against its field's annotation (``int``, ``float``, ``bool``, ``str``,
``tuple[str, ...]``, ``X | None``, a nested dataclass, or a mapping), and the dataclass's own
``__post_init__`` then checks ranges. ``sim.turn_angle=abc`` gives
``sim.turn_angle must be a number, got 'abc'``, not a TypeError deep inside a backend.

Checks of ranges use :func:`require`, so that every config states its limits the same way.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value of the wrong type or out of range; the message names the field and the fix."""


def require(condition: bool, field: str, what: str, value: Any) -> None:
    """Raise :class:`ConfigError` ``"<field> must be <what>, got <value>"`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"{field} must be {what}, got {value!r}")


def _check(field: str, kind: Any, value: Any) -> Any:
    """``value`` checked (and, for whole floats and tuples, normalised) against the annotation ``kind``."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(field, option, value)
            except ConfigError as e:
                errors.append(str(e).split(" must be ", 1)[-1].rsplit(", got ", 1)[0])
        optional = " or null" if type(None) in options else ""
        raise ConfigError(f"{field} must be {' or '.join(errors)}{optional}, got {value!r}")
    if kind is Any:
        return value
    if dataclasses.is_dataclass(kind):
        if isinstance(value, kind):
            return value
        require(isinstance(value, Mapping), field, f"a mapping of {kind.__name__} fields", value)
        return build(kind, value, field)
    if kind is bool:
        require(isinstance(value, bool), field, "true or false", value)
        return value
    if kind is int:
        require(isinstance(value, int) and not isinstance(value, bool), field, "an integer", value)
        return value
    if kind is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        require(number and math.isfinite(value), field, "a number", value)
        return float(value)
    if kind is str:
        require(isinstance(value, str), field, "a string", value)
        return value
    if origin is tuple or origin is list:
        args = typing.get_args(kind)
        require(isinstance(value, (list, tuple)), field, "a list", value)
        item = args[0] if args else Any
        items = [_check(f"{field}[{i}]", item, v) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or kind in (dict, Mapping):
        require(isinstance(value, Mapping), field, "a mapping", value)
        return dict(value)
    return value


def build(cls: type[T], values: Mapping[str, Any], prefix: str = "", ignore: tuple[str, ...] = ()) -> T:
    """An instance of the dataclass ``cls`` from ``values``: unknown keys (other than ``ignore``) and values of
    the wrong type raise :class:`ConfigError` naming ``<prefix>.<field>``; missing keys keep their defaults."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix or cls.__name__} must be a mapping of fields, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - known - set(ignore))
    label = prefix or cls.__name__
    if unknown:
        raise ConfigError(f"{label}: unknown field(s) {unknown}; known fields are {sorted(known)}")
    kwargs = {name: _check(f"{prefix}.{name}" if prefix else name, hints[name], value)
              for name, value in values.items() if name in known}
    return cls(**kwargs)


__all__ = ["ConfigError", "build", "require"]
