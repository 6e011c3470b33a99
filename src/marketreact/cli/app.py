"""The ``marketreact`` command line.

Commands only parse options, call the library and print. Exit codes: 0 when
everything asked was done, 1 when results were written but some events or
tickers failed, 2 for bad usage or input, 3 for an unexpected internal error,
4 when nothing could be studied (every event failed, e.g. no network for Yahoo).

Every command built here is *polished* once (:func:`polish`): help text is shown
literally (rich markup never swallows ``[default: ...]``), flags carry no
``<bool>`` metavar, arguments read ``EVENTS`` in the usage line, an option given
twice is refused, and click's usage errors print as the same one-line
``error: ...`` form as every other error.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape as _escape_markup
from rich.text import Text
from typer._click.exceptions import ClickException as _ClickException
from typer._click.exceptions import UsageError as _UsageError
from typer.core import TyperArgument, TyperGroup, TyperOption

from marketreact._version import __version__
from marketreact.errors import InputError, InputProblem, MarketReactError
from marketreact.output.files import guard_formulas

#: Commands in the order of the pipeline, as ``--help`` lists them.
COMMAND_ORDER = ("news", "study", "calendar-time", "intraday", "extract", "verify",
                 "backtest", "score", "regress", "report", "export", "replay", "validate", "prices")


EXIT_OK, EXIT_PARTIAL, EXIT_INPUT, EXIT_INTERNAL, EXIT_NOTHING = 0, 1, 2, 3, 4

#: The exit codes, as the top-level ``--help`` and docs/errors.md state them.
EXIT_CODES_HELP = (
    "Exit codes: 0 everything asked was done; 1 results written but some events or tickers "
    "failed; 2 bad usage or input (nothing written); 3 internal error (MARKETREACT_DEBUG=1 "
    "shows the traceback); 4 nothing studied (every event failed, e.g. no network for "
    "--prices yahoo); 130 interrupted (Ctrl-C; earlier results stay as they were).")

#: Help of well-known options that a command left without one.
_STOCK_HELP = {"quiet": "Print nothing on success (errors are still printed)."}


def _usage_name(param: Any) -> str:
    """An argument as the usage line shows it: ``EVENTS``, ``[EVENTS]``, ``PATHS...``."""
    name = param.metavar or param.name.upper()
    name = name if param.required else f"[{name}]"
    return name + ("..." if param.nargs != 1 else "")


def _refuse_repeats(command: Any) -> None:
    """Make ``command`` refuse a single-valued option given more than once."""
    parse = command.parse_args

    def parse_args(ctx: Any, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            _, _, order = command.make_parser(ctx).parse_args(args=list(args))
            seen: dict[str, int] = {}
            for param in order:
                if (isinstance(param, TyperOption) and not param.multiple and not param.count
                        and not param.is_eager):
                    seen[param.name] = seen.get(param.name, 0) + 1
            for param in order:
                if seen.get(param.name, 0) > 1:
                    flag = max(param.opts, key=len)
                    raise _UsageError(f"option {flag} given {seen[param.name]} times; "
                                      "give it once", ctx=ctx)
        return parse(ctx, args)

    command.parse_args = parse_args


def _polish_param(param: Any) -> None:
    if getattr(param, "_marketreact_polished", False):
        return
    param._marketreact_polished = True
    if isinstance(param, TyperOption):
        if not param.help and param.name in _STOCK_HELP:
            param.help = _STOCK_HELP[param.name]
        if param.is_flag and not param.count:
            param.metavar = ""
    elif isinstance(param, TyperArgument):
        param.metavar = param.metavar or param.name.upper()
        param._usage_display_name = functools.partial(_usage_name, param)
    if isinstance(param.help, str):
        param.help = _escape_markup(param.help)


def polish(command: Any) -> Any:
    """Polish ``command`` and its sub-commands in place (see the module docstring).

    Help text is escaped, so that rich shows ``[default: -250:-11]`` and
    ``marketreact[dask]`` as written; flags lose the ``<bool>`` metavar; arguments
    read ``EVENTS``; well-known options without help get one; a repeated
    single-valued option is a usage error. Idempotent; returns ``command``.
    """
    if not getattr(command, "_marketreact_polished", False):
        command._marketreact_polished = True
        for attr in ("help", "epilog", "short_help"):
            text = getattr(command, attr, None)
            if isinstance(text, str):
                setattr(command, attr, _escape_markup(text))
        _refuse_repeats(command)
        help_option = command.get_help_option

        def get_help_option(ctx: Any) -> Any:
            option = help_option(ctx)
            if option is not None:
                _polish_param(option)
            return option

        command.get_help_option = get_help_option
    for param in command.params:  # again: typer adds the completion options later
        _polish_param(param)
    for sub in (getattr(command, "commands", None) or {}).values():
        polish(sub)
    return command


def _one_line(exc: _ClickException) -> str:
    """A click error as one line, naming the command and where its help is."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and isinstance(exc, _UsageError):
        return f"{ctx.command_path}: {message} (see {ctx.command_path} --help)"
    return message


class _PipelineOrder(TyperGroup):
    """The command groups: commands in :data:`COMMAND_ORDER`, polished, one-line errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        polish(self)

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Run the command; usage errors print one ``error:`` line and exit 2."""
        polish(self)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _ClickException as exc:
            _err(_one_line(exc))
            sys.exit(EXIT_INPUT if isinstance(exc, _UsageError) else exc.exit_code)
        except typer.Abort:  # Ctrl-C: nothing half-written (results folders are staged)
            _err("interrupted")
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


app = typer.Typer(help="Measure how markets react to news: event studies and backtests.",
                  epilog=EXIT_CODES_HELP, cls=_PipelineOrder, no_args_is_help=True,
                  add_completion=True, pretty_exceptions_enable=False)
prices_app = typer.Typer(help="Fetch, cache and inspect daily prices.", cls=_PipelineOrder,
                         no_args_is_help=True)
app.add_typer(prices_app, name="prices")
F = TypeVar("F", bound=Callable[..., Any])


class OutputFormat(str, Enum):
    """Table formats written by commands that take ``--format``."""

    csv = "csv"
    json = "json"


class EngineName(str, Enum):
    """Where the per-event computation of a study runs."""

    local = "local"
    dask = "dask"


#: Control characters (C0 but tab and newline, DEL, C1): shown escaped, never sent raw.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    r"""Show control characters (terminal escape sequences included) as ``\xNN`` escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class SafeConsole(Console):
    """A console for text from input: no markup is interpreted, no control code is sent.

    Every string printed (tables included) is taken literally, so ids, paths and
    tickers holding ``[red]`` or ``[/x]`` print as written, and terminal escape
    sequences in input are shown escaped instead of moving the cursor or clearing
    the screen. Styles are given with ``style=``, never as markup.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("highlight", False)
        kwargs.setdefault("soft_wrap", True)
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Render ``text`` with its control characters escaped."""
        return super().render_str(visible(text), **kwargs)


def _console(quiet: bool = False) -> Console:
    return SafeConsole(quiet=quiet)


def _err(message: str) -> None:
    SafeConsole(stderr=True).print(Text.assemble(("error:", "red"), " ", visible(message)))


def failure_lines(reasons: dict[str, str] | Any, *, limit: int = 10,
                  what: str = "ticker") -> list[str]:
    """Failures grouped by reason, most frequent first: one line per reason, with a count.

    Parameters
    ----------
    reasons : mapping of str to str
        Failed item (ticker, event id) to its reason.
    limit : int, default 10
        Most reasons listed; the rest are counted on one more line.
    what : str, default "ticker"
        What an item is, for the counts.
    """
    groups: dict[str, list[str]] = {}
    for item, reason in dict(reasons).items():
        groups.setdefault(str(reason), []).append(str(item))
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    lines = []
    for reason, items in ordered[:limit]:
        if len(items) == 1:
            lines.append(f"{items[0]}: {reason}")
        else:
            shown = ", ".join(items[:5]) + (", ..." if len(items) > 5 else "")
            lines.append(f"{len(items)} {what}s ({shown}): {reason}")
    rest = ordered[limit:]
    if rest:
        lines.append(f"... and {sum(len(v) for _, v in rest)} more {what}(s) with "
                     f"{len(rest)} other reason(s)")
    return lines


#: Most problems printed for one bad input (the rest are counted).
MAX_PROBLEMS = 20


#: Study settings whose command-line option has another name.
_OPTION_OF = {"car_windows": "car", "n_boot": "bootstrap", "boot_streams": "bootstrap_streams"}


def _option_problem(problem: InputProblem) -> InputProblem:
    """Name the command-line option behind a problem with a study setting."""
    if problem.source != "settings" or problem.field is None:
        return problem
    option = _OPTION_OF.get(problem.field, problem.field).replace("_", "-")
    return replace(problem, source="command line", field=f"--{option}")


def handle_errors(func: F) -> F:
    """Turn library errors into one clear line and a meaningful exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            for problem in exc.problems[:MAX_PROBLEMS]:
                _err(str(_option_problem(problem)))
            if len(exc.problems) > MAX_PROBLEMS:
                _err(f"... and {len(exc.problems) - MAX_PROBLEMS} more problem(s)")
            raise typer.Exit(EXIT_INPUT) from None
        except MarketReactError as exc:
            _err(str(exc))
            raise typer.Exit(EXIT_INPUT) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except OSError as exc:  # a path that cannot be read or written: the user's to fix
            where = f"{exc.filename}: " if exc.filename else ""
            _err(f"{where}{exc.strerror or exc}")
            raise typer.Exit(EXIT_INPUT) from None
        except Exception as exc:
            if os.environ.get("MARKETREACT_DEBUG"):
                raise
            _err(f"internal error: {type(exc).__name__}: {exc} "
                 "(set MARKETREACT_DEBUG=1 for a traceback)")
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def version_callback(value: bool) -> None:
    """Print the version and exit."""
    if value:
        typer.echo(f"marketreact {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Show the version.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Log progress, and show the warnings of pandas, numpy, "
        "matplotlib and yfinance (hidden otherwise).")] = False,
    raw_csv: Annotated[bool, typer.Option(
        "--raw-csv", help="Write CSV text cells as they are; by default a cell starting with "
        "= + - @ gets a leading ' so spreadsheets do not run it as a formula.")] = False,
) -> None:
    """Measure how markets react to news."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not verbose:  # library warnings are for developers; the CLI reports what matters
        warnings.simplefilter("ignore")
    guard_formulas(not raw_csv)


PricesOpt = Annotated[list[str], typer.Option(
    "--prices", "-p", help="Price source: csv:DIR (a folder of per-ticker files) or yahoo. "
    "Repeat to try several in order.")]
CacheOpt = Annotated[Path | None, typer.Option(
    "--cache-dir", help="Cache folder for Yahoo prices (default: the user cache folder).")]
FactorUnitsOpt = Annotated[str, typer.Option(
    help="Units of --factors values: auto (Ken French files percent, other CSVs "
         "decimal), percent or decimal.")]


def read_factor_files(files: list[Path], units: str) -> Any:
    """Read ``--factors`` files in ``--factor-units`` (one line naming the option when bad)."""
    from marketreact.prices.factors import read_factors

    percent = {"auto": None, "percent": True, "decimal": False}
    if units not in percent:
        raise InputError([InputProblem("command line", None, "--factor-units", units,
                                       f"unknown factor units {units!r}; choose auto, "
                                       "percent or decimal")])
    return read_factors(*files, percent=percent[units])


