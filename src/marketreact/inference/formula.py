"""Regression formulas checked before patsy sees them (patsy evaluates them as Python).

patsy turns every name and call in a formula into Python evaluated in the caller's
namespace, so ``car ~ __import__('os').system('...')`` would run a command. A formula
given on the command line is therefore checked against this grammar first and refused,
with the reason, when it steps outside it::

    formula := NAME "~" sum
    sum     := ["-"] term (("+" | "-") term)*
    term    := factor ((":" | "*" | "/") factor)*       ("/" is patsy's nesting)
    factor  := NAME | "0" | "1" | "(" sum ")" | "C(" NAME ")" | "I(" arith ")"
    arith   := ["-"] atom (("+" | "-" | "*" | "/" | "**") atom)*
    atom    := NAME | NUMBER | "(" arith ")"

``NAME`` is a column of the table (``[A-Za-z_][A-Za-z0-9_]*``, not starting with two
underscores, not a Python keyword); ``NUMBER`` is a plain decimal. No other call, no
attribute access (``np.log``), no strings, no indexing. Formulas are at most
:data:`MAX_LENGTH` characters with parentheses nested at most :data:`MAX_DEPTH` deep.

Checking takes time linear in the formula's length and runs no code of it.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

from marketreact.errors import InputError, InputProblem

#: Longest formula accepted (characters).
MAX_LENGTH = 1000
#: Deepest nesting of parentheses accepted.
MAX_DEPTH = 20

_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]"
                    r"[A-Za-z0-9_]*)|(?P<op>\*\*|[~+\-*/:()]))")


class _Parser:
    def __init__(self, text: str, columns: frozenset[str] | None) -> None:
        self.text = text
        self.columns = columns
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                where = pos + len(text[pos:]) - len(text[pos:].lstrip())
                raise self.error(f"character {text[where]!r} at position {where + 1} is not "
                                 "allowed")
            kind = m.lastgroup or "op"
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0
        self.depth = 0

    def error(self, message: str) -> InputError:
        return InputError([InputProblem("command line", None, "--formula", self.text,
                                        message)])

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise self.error("formula ends too early" + (f" (expected {value!r})"
                                                         if value else ""))
        if value is not None and tok[1] != value:
            raise self.error(f"expected {value!r} at position {tok[2] + 1}, found {tok[1]!r}")
        self.i += 1
        return tok

    def name(self, tok: tuple[str, str, int]) -> None:
        word = tok[1]
        if tok[0] != "name":
            raise self.error(f"expected a column name at position {tok[2] + 1}, "
                             f"found {word!r}")
        if word.startswith("__") or keyword.iskeyword(word):
            raise self.error(f"{word!r} is not a column name")
        if self.columns is not None and word not in self.columns:
            raise self.error(f"unknown column {word!r} (columns: "
                             f"{', '.join(sorted(self.columns)[:12])})")

    def open(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"parentheses nested deeper than {MAX_DEPTH}")

    def formula(self) -> None:
        self.name(self.take())
        self.take("~")
        self.sum()
        tok = self.peek()
        if tok is not None:
            raise self.error(f"unexpected {tok[1]!r} at position {tok[2] + 1}")

    def sum(self) -> None:
        if (tok := self.peek()) is not None and tok[1] == "-":
            self.take()
        self.term()
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.take()
            self.term()

    def term(self) -> None:
        self.factor()
        while (tok := self.peek()) is not None and tok[1] in (":", "*", "/"):
            self.take()
            self.factor()

    def factor(self) -> None:
        tok = self.take()
        kind, word, _ = tok
        if kind == "number":
            if word not in ("0", "1"):
                raise self.error(f"number {word} outside I(...): only 0 or 1 (the intercept)")
            return
        if word == "(":
            self.open()
            self.sum()
            self.take(")")
            self.depth -= 1
            return
        if kind == "name" and (nxt := self.peek()) is not None and nxt[1] == "(":
            if word not in ("C", "I"):
                raise self.error(f"call {word}(...) not allowed: only C(column) and "
                                 "I(arithmetic)")
            self.take("(")
            self.open()
            if word == "C":
                self.name(self.take())
            else:
                self.arith()
            self.take(")")
            self.depth -= 1
            return
        self.name(tok)

    def arith(self) -> None:
        if (tok := self.peek()) is not None and tok[1] == "-":
            self.take()
        self.atom()
        while (tok := self.peek()) is not None and tok[1] in ("+", "-", "*", "/", "**"):
            self.take()
            self.atom()

    def atom(self) -> None:
        tok = self.take()
        if tok[0] == "number":
            return
        if tok[1] == "(":
            self.open()
            self.arith()
            self.take(")")
            self.depth -= 1
            return
        if (nxt := self.peek()) is not None and nxt[1] == "(":
            raise self.error(f"call {tok[1]}(...) not allowed inside I(...)")
        self.name(tok)


def check_formula(formula: str, columns: Iterable[str] | None = None) -> str:
    """Check a regression formula against the grammar of this module, running none of it.

    Parameters
    ----------
    formula : str
        A patsy formula such as ``car ~ is_goto + C(exchange) + I(size**2)``.
    columns : iterable of str, optional
        The table's columns: every name must be one of them.

    Returns
    -------
    str
        ``formula``, unchanged, once it is known to be safe to give patsy.

    Raises
    ------
    InputError
        Naming ``--formula`` and what is not allowed, or where the formula breaks.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise InputError([InputProblem("command line", None, "--formula", str(formula),
                                        "empty formula: write it as 'car ~ column + ...'")])
    if len(formula) > MAX_LENGTH:
        raise InputError([InputProblem("command line", None, "--formula", formula,
                                        f"formula longer than {MAX_LENGTH} characters")])
    parser = _Parser(formula, frozenset(map(str, columns)) if columns is not None else None)
    parser.formula()
    return formula


__all__ = ["MAX_DEPTH", "MAX_LENGTH", "check_formula"]
