"""The command line: parse options, call the library, print (top floor; imports anything).

:mod:`marketreact.cli.app` holds the Typer app, the shared options, exit codes and the
error handler; every other module here defines its commands on that app. Importing this
package registers them all; nothing outside the CLI imports it.
"""

from marketreact.cli import (
    articles,
    backtest,
    calendar_time,
    export,
    intraday,
    news,
    prices,
    regress,
    replay,
    report,
    study,
    validate,
)
from marketreact.cli.app import app

#: The modules whose commands are registered on :data:`app` when they are imported.
COMMAND_MODULES = (news, study, calendar_time, intraday, articles, backtest, regress, report,
                   export, replay, validate, prices)

__all__ = ["COMMAND_MODULES", "app"]
