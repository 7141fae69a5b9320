"""The checks the analyses' config classes run on their own fields.

Every threshold can come from a TOML file (:mod:`evaluation.config`), so every
config class refuses a value no analysis can use, in its ``__post_init__``,
with a one-line :class:`ValueError` that names the field and says what is
wrong (``flood_threshold must be a whole number of at least 1, not 0``); a value
of the wrong type is a ValueError too, one error type for every bad value. The
loader adds the file and the table in front. Lists become tuples and tables
:class:`FrozenMap`, so a config stays hashable (pages cache on it).
"""
from __future__ import annotations

import math
from collections.abc import Mapping


class FrozenMap(dict):
    """A read-only dict that can be hashed (a table of a frozen config class)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __reduce__(self):
        return (FrozenMap, (dict(self),))

    def _read_only(self, *_a, **_k):
        raise TypeError("a config table cannot be changed; make a new config")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _read_only


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v) -> bool:
    return (_int(v) or isinstance(v, float)) and math.isfinite(v)


def _bounds(least=None, most=None, above=None, below=None) -> str:
    parts = []
    if least is not None:
        parts.append(f"at least {least:g}")
    if above is not None:
        parts.append(f"above {above:g}")
    if most is not None:
        parts.append(f"at most {most:g}")
    if below is not None:
        parts.append(f"below {below:g}")
    if not parts:
        return ""
    return (" of " if parts[0].startswith("at") else " ") + " and ".join(parts)


def _within(v, least=None, most=None, above=None, below=None) -> bool:
    return ((least is None or v >= least) and (most is None or v <= most)
            and (above is None or v > above) and (below is None or v < below))


def whole(obj, name: str, least: int | None = None, most: int | None = None,
          optional: bool = False) -> None:
    """``obj.name`` is a whole number within the bounds (or None when ``optional``)."""
    v = getattr(obj, name)
    if optional and v is None:
        return
    if not (_int(v) and _within(v, least, most)):
        raise ValueError(f"{name} must be a whole number{_bounds(least, most)}, not {v!r}")


def number(obj, name: str, least=None, most=None, above=None, below=None) -> None:
    """``obj.name`` is a finite number (whole or not) within the bounds."""
    v = getattr(obj, name)
    if not (_num(v) and _within(v, least, most, above, below)):
        raise ValueError(f"{name} must be a number{_bounds(least, most, above, below)}, not {v!r}")


def flag(obj, name: str) -> None:
    """``obj.name`` is true or false."""
    v = getattr(obj, name)
    if not isinstance(v, bool):
        raise ValueError(f"{name} must be true or false, not {v!r}")


def items(obj, name: str, kind: str, ok, allow_empty: bool = True) -> None:
    """``obj.name`` is a list (made a tuple) whose items all pass ``ok``; ``kind`` names
    them in the error (``texts``, ``whole numbers from 1 to 5``)."""
    v = getattr(obj, name)
    if isinstance(v, (list, tuple)) and all(ok(x) for x in v) and (allow_empty or v):
        object.__setattr__(obj, name, tuple(v))
        return
    raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}list of {kind}, "
                     f"not {v!r}")


def table(obj, name: str, kind: str, ok, keys: Mapping | None = None) -> None:
    """``obj.name`` is a table (made a :class:`FrozenMap`) whose values pass ``ok``
    (``kind`` names them); with ``keys``, only those keys are allowed and the ones
    left out take their value there."""
    v = getattr(obj, name)
    if not isinstance(v, Mapping) or not all(isinstance(k, str) and k for k in v):
        raise ValueError(f"{name} must be a table of {kind} by name, not {v!r}")
    if keys is not None:
        unknown = sorted(set(v) - set(keys))
        if unknown:
            raise ValueError(f"{name} has no key {unknown[0]!r}; expected some of "
                             f"{', '.join(keys)}")
        v = {**keys, **v}
    bad = [k for k, x in v.items() if not ok(x)]
    if bad:
        raise ValueError(f"{name}.{bad[0]} must be {kind}, not {v[bad[0]]!r}")
    object.__setattr__(obj, name, FrozenMap(v))


def is_text(v) -> bool:
    return isinstance(v, str) and bool(v.strip())


def is_whole(least: int | None = None, most: int | None = None):
    """A test for :func:`items` / :func:`table`: a whole number within the bounds."""
    return lambda v: _int(v) and _within(v, least, most)


def is_number(least=None, most=None):
    """A test for :func:`items` / :func:`table`: a finite number within the bounds."""
    return lambda v: _num(v) and _within(v, least, most)


__all__ = ["FrozenMap", "flag", "is_number", "is_text", "is_whole", "items", "number", "table",
           "whole"]
