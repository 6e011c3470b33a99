"""Errors and input problems.

Every problem with user input is reported as an :class:`InputProblem` naming the
file, line, field and value, so that a user can find and fix it. Library code
raises :class:`InputError` (one or many problems) for input it cannot use; the
CLI turns it into a clear message and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One problem found in an input file.

    Attributes
    ----------
    source : str
        File (or other source) the problem is in; empty when the message names it.
    line : int or None
        1-based line number in the file (the header is line 1), when known.
    field : str or None
        Column or field name.
    value : str or None
        The offending value, as written.
    message : str
        What is wrong, in words.
    """

    source: str
    line: int | None
    field: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        parts = [where] if where else []
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            parts.append(f"value {shown!r}")
        return ": ".join([", ".join(parts), self.message]) if parts else self.message


class MarketReactError(Exception):
    """Base class of marketreact's own errors."""


class InputError(MarketReactError):
    """Input that cannot be used; carries every problem found.

    Parameters
    ----------
    problems : sequence of InputProblem or str
        The problems; a plain string becomes a problem without location (printed as
        given, with no stray source prefix).
    """

    def __init__(self, problems: list[InputProblem] | tuple[InputProblem, ...] | str) -> None:
        if isinstance(problems, str):
            problems = [InputProblem("", None, None, None, problems)]
        self.problems: tuple[InputProblem, ...] = tuple(problems)
        first = str(self.problems[0]) if self.problems else "invalid input"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more problem(s))" if more > 0 else ""))


class DataSourceError(MarketReactError):
    """A price source failed for reasons other than bad user input."""
