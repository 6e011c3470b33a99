"""The ``marketreact`` command line.

Commands only parse options, call the library and print. Exit codes: 0 when
everything asked was done, 1 when results were written but some events or
tickers failed, 2 for bad usage or input, 3 for an unexpected internal error.
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
from rich.text import Text
from typer.core import TyperGroup

from marketreact._version import __version__
from marketreact.errors import InputError, InputProblem, MarketReactError
from marketreact.output.files import guard_formulas

#: Commands in the order of the pipeline, as ``--help`` lists them.
COMMAND_ORDER = ("news", "study", "extract", "verify", "backtest", "score", "regress", "report",
                 "export", "validate", "prices")


class _PipelineOrder(TyperGroup):
    """Lists commands in :data:`COMMAND_ORDER`, whatever order their modules register in."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(help="Measure how markets react to news: event studies and backtests.",
                  cls=_PipelineOrder, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
prices_app = typer.Typer(help="Fetch, cache and inspect daily prices.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")

EXIT_OK, EXIT_PARTIAL, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
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


#: Most problems printed for one bad input (the rest are counted).
MAX_PROBLEMS = 20


#: Study settings whose command-line option has another name.
_OPTION_OF = {"car_windows": "car", "n_boot": "bootstrap"}


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


