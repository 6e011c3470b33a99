"""Settings files (``--config FILE.toml``) and the command line a run records.

A settings file holds a command's options by name, as TOML::

    model = "market-adjusted"
    window = "-10:252"
    car = ["0:0", "0:252"]
    bootstrap = 999
    clean-estimation = true

Keys are the options' long names, with ``-`` or ``_`` (``min-estimation``,
``min_estimation``), optionally under a table named after the command (``[study]``).
A flag takes ``true``/``false``, a repeatable option a list (or one value), a choice
one of its values. An unknown key or a bad value is refused in one line naming the file
and the key. An option given on the command line wins over the file. The arguments and
the required options (``--out``; ``backtest --entry``) stay on the command line.

:func:`command_line` rebuilds the command line of the running command from what was
given on it (global options, command, options, arguments), for ``summary.json`` and
``marketreact replay``.
"""

from __future__ import annotations

import functools
import tomllib
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, TypeVar

import typer
from typer._click.core import ParameterSource
from typer._click.globals import get_current_context

from marketreact.errors import InputError, InputProblem

F = TypeVar("F", bound=Callable[..., Any])

#: Options a settings file may not set (they say where the file is, or are per-run).
NOT_IN_CONFIG = frozenset({"config"})

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="TOML file of options (keys are option names: model = \"ff3\", "
    "car = [\"0:0\", \"0:20\"], clean-estimation = true); options on the command line "
    "override it [default: none].")]


def _bare(hint: Any) -> Any:
    """The type inside ``Annotated[...]`` and ``X | None``."""
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) in (typing.Union, UnionType):
        args = [a for a in typing.get_args(hint) if a is not NoneType]
        if len(args) == 1:
            return _bare(args[0])
    return hint


def _convert(value: Any, kind: Any) -> Any:
    """``value`` from TOML as ``kind``; ValueError with what was expected."""
    if typing.get_origin(kind) is list:
        (inner,) = typing.get_args(kind) or (str,)
        items = value if isinstance(value, list) else [value]
        return [_convert(v, _bare(inner)) for v in items]
    if isinstance(value, list | dict):
        raise ValueError("expected one value, not a list or table")
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected a whole number")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("expected a number")
        return float(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        choices = [m.value for m in kind]
        if value not in choices:
            raise ValueError(f"choose from {', '.join(map(str, choices))}")
        return kind(value)
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return Path(value) if kind is Path else value


def _option_names(command: Any) -> dict[str, str]:
    """Key as a file may write it -> the parameter's name."""
    names: dict[str, str] = {}
    for param in command.params:
        if param.name in NOT_IN_CONFIG or not getattr(param, "opts", None):
            continue
        if type(param).__name__ == "TyperArgument":
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                names[opt[2:]] = param.name
                names[opt[2:].replace("-", "_")] = param.name
        names[param.name] = param.name
    return names


def read_config(path: Path, func: Callable[..., Any], ctx: Any) -> dict[str, tuple[str, Any]]:
    """The options a settings file sets: parameter name -> (key as written, value).

    Raises
    ------
    InputError
        One line naming the file and the key of an unknown key or a bad value.
    """
    source = str(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError([InputProblem(source, None, None, None,
                                       f"not a readable TOML file ({exc})")]) from None
    command = ctx.command
    name = ctx.info_name or ""
    if set(doc) == {name} and isinstance(doc[name], dict):
        doc = doc[name]
    names = _option_names(command)
    hints = typing.get_type_hints(getattr(func, "__wrapped__", func), include_extras=True)
    out: dict[str, tuple[str, Any]] = {}
    for key, value in doc.items():
        param = names.get(key)
        if param is None:
            close = sorted(k for k in names if "_" not in k and k[:3] == key[:3].lower())
            hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
            raise InputError([InputProblem(source, None, key, None,
                                           f"unknown option {key!r} for {name}{hint}")])
        if param in out:
            raise InputError([InputProblem(source, None, key, None,
                                           f"option given twice (also as {out[param][0]!r})")])
        try:
            out[param] = (key, _convert(value, _bare(hints.get(param, str))))
        except ValueError as exc:
            raise InputError([InputProblem(source, None, key, _shown(value),
                                           str(exc))]) from None
    return out


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def with_config(func: F) -> F:
    """Let a command read its options from ``--config FILE.toml`` (see the module docstring).

    The command must have a ``config`` parameter. Options given on the command line
    keep their value; a problem a setting from the file causes later (an unknown model)
    is reported as the file's key.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        path = kwargs.get("config")
        if path is None:
            return func(*args, **kwargs)
        ctx = get_current_context()
        from_file: dict[str, str] = {}
        for name, (key, value) in read_config(Path(path), func, ctx).items():
            if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
                kwargs[name] = value
                from_file[name] = key
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            raise _blame_file(exc, Path(path), from_file, ctx.command) from None

    return wrapper  # type: ignore[return-value]


#: Study settings whose command-line option has another name.
_OPTION_OF = {"car_windows": "car", "n_boot": "bootstrap", "boot_streams": "bootstrap_streams"}


def _blame_file(exc: InputError, path: Path, from_file: dict[str, str],
                command: Any) -> InputError:
    """Problems caused by a setting from the file name the file and its key."""
    flags = {opt: p.name for p in command.params for opt in getattr(p, "opts", ())}
    problems = []
    for problem in exc.problems:
        field = problem.field or ""
        if problem.source in ("settings", "command line"):
            name = flags.get(field) or _OPTION_OF.get(field, field)
            name = flags.get("--" + name.replace("_", "-"), name)
            if name in from_file:
                problem = InputProblem(str(path), None, from_file[name], problem.value,
                                       problem.message)
        problems.append(problem)
    return InputError(problems)


def _words(param: Any, value: Any) -> list[str]:
    if value is None:
        return []
    if getattr(param, "is_flag", False) and not getattr(param, "count", False):
        if value:
            return [max((o for o in param.opts if o.startswith("--")), key=len,
                        default=param.opts[0])]
        return list(param.secondary_opts[:1])
    values = list(value) if isinstance(value, list | tuple) else [value]
    flag = max((o for o in param.opts if o.startswith("--")), key=len, default=param.opts[0])
    out: list[str] = []
    for v in values:
        out += [flag, str(v.value if isinstance(v, Enum) else v)]
    return out


def command_line(ctx: Any = None) -> list[str]:
    """The running command as arguments (no program name), from what was given on it.

    Options set by a settings file or left at their default are not listed (``--config``
    is); the global options (``--raw-csv``) come first, then the command, its options
    and its arguments. Empty outside a command (no click context).
    """
    ctx = ctx or get_current_context(silent=True)
    chain = []
    while ctx is not None:
        chain.append(ctx)
        ctx = ctx.parent
    words: list[str] = []
    for c in reversed(chain):
        if c.parent is not None:
            words.append(c.info_name)
        arguments: list[str] = []
        for param in c.command.params:
            if getattr(param, "is_eager", False) or param.name not in c.params:
                continue
            if c.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
                continue
            value = c.params[param.name]
            if type(param).__name__ == "TyperArgument":
                values = list(value) if isinstance(value, list | tuple) else [value]
                arguments += [str(v) for v in values]
            else:
                words += _words(param, value)
        words += arguments
    return words
