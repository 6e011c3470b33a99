"""The command line: parse options, call the library, print (floor: top; imports anything).

:mod:`marketreact.cli.app` holds the Typer app, the shared options, exit codes and the
error handler; every other module here defines commands on that app. Importing this
package registers them all; nothing below the CLI imports it.
"""

from marketreact.cli import (  # noqa: F401  (each module registers its commands)
    articles,
    backtest,
    cache,
    regress,
    report,
    validate,
)
from marketreact.cli.app import app

__all__ = ["app"]
