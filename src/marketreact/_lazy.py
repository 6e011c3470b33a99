"""Dataclass fields that may be computed on first access.

Some parts of a result are large and not always needed (the long table of
abnormal returns, the estimation residuals of a million events). A field made
deferred with :func:`deferred` accepts either its value or a :class:`Thunk`
that computes it; the thunk runs on first access and its value is kept.
"""

from __future__ import annotations

from typing import Any


class Thunk:
    """A zero-argument computation of a deferred field's value."""

    def __call__(self) -> Any:
        """Compute the value."""
        raise NotImplementedError


class _Deferred:
    def __init__(self, name: str) -> None:
        self.name = name
        self.slot = f"_deferred_{name}"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if isinstance(value, Thunk):
            value = value()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


def deferred(cls: type, *names: str) -> None:
    """Let fields ``names`` of the dataclass ``cls`` be given as :class:`Thunk`.

    Call it after the dataclass is created: the generated ``__init__`` then
    stores values through the descriptor, and frozen instances stay frozen.
    """
    for name in names:
        setattr(cls, name, _Deferred(name))


def is_pending(obj: Any, name: str) -> bool:
    """Whether deferred field ``name`` of ``obj`` has not been computed yet."""
    return isinstance(obj.__dict__.get(f"_deferred_{name}"), Thunk)


def pending_value(obj: Any, name: str) -> Thunk | None:
    """The thunk of deferred field ``name`` of ``obj`` while it is not computed, else None."""
    value = obj.__dict__.get(f"_deferred_{name}")
    return value if isinstance(value, Thunk) else None
