"""Reading EventStudyTools' three-file input (request, firm and market data).

EventStudyTools (and the CRAN ``EventStudy`` package that calls it) take three
``;``-separated files without a header, dates written ``DD.MM.YYYY``:

``01_RequestFile.csv``
    ``event id; firm; market index; event date; group; event window start;
    event window end; estimation window end; estimation window length``,
    e.g. ``75510;Adobe Systems;SP500;30.04.1997;Addition;-2;2;-11;120``.
``02_FirmData.csv``
    ``firm; date; closing price``.
``03_MarketData.csv``
    ``market index; date; closing price``.

:func:`load_eventstudytools` turns them into an event catalogue, standard
price frames and the values of the study settings that reproduce
EventStudyTools' conventions (plain strings and tuples, for
``StudySettings(**values)``; this module imports nothing above the prices):
simple returns, day 0 the first trading day on or after the event date, the
sessions being the dates of the market file (no exchange calendar), the
estimation window of ``length`` returns ending at the given day (``-11`` and
``120`` give ``[-130, -11]``), the OLS market model with ``T - 2`` degrees of
freedom, and the event window as the only CAR window.

Firm and index names are used as written apart from surrounding spaces
(``"Progressive "`` in the example files is the firm ``Progressive``); as
tickers they are upper-cased with runs of other characters replaced by ``_``
(``Adobe Systems`` -> ``ADOBE_SYSTEMS``); the original name is kept in the
``firm`` column of the events.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from marketreact._typing import StrPath
from marketreact.errors import InputError, InputProblem
from marketreact.events.catalogue import EventCatalogue, events_from_frame
from marketreact.prices.frames import standard_frame

REQUEST_FILE = "01_RequestFile.csv"
FIRM_FILE = "02_FirmData.csv"
MARKET_FILE = "03_MarketData.csv"
_REQUEST_FIELDS = ("event_id", "firm", "market", "event_date", "group", "window_start",
                   "window_end", "estimation_end", "estimation_length")


def ticker_for(name: str) -> str:
    """Ticker for an EventStudyTools firm or index name (``Adobe Systems`` -> ``ADOBE_SYSTEMS``)."""
    return re.sub(r"[^0-9A-Za-z^]+", "_", name.strip()).strip("_").upper()


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    if not path.is_file():
        raise InputError([InputProblem(str(path), None, None, None, "file not found")])
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    out = []
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=";"), start=1):
        if not row or not "".join(row).strip():
            continue
        out.append((number, row))
    if not out:
        raise InputError([InputProblem(str(path), None, None, None, "file is empty")])
    return out


def _date(text: str) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(pd.to_datetime(text.strip(), format="%d.%m.%Y"))
    except (ValueError, TypeError):
        return None


def _looks_like_header(cells: list[str]) -> bool:
    """A first request line with neither a date nor any integer window field is a header."""
    if len(cells) > 3 and _date(cells[3]) is not None:
        return False
    return not any(re.fullmatch(r"[+-]?\d+", c) for c in cells[5:9])


def _read_series(path: Path, kind: str) -> dict[str, pd.DataFrame]:
    """Read a firm or market file into standard price frames by name."""
    source = str(path)
    rows = _rows(path)
    short = [(n, r) for n, r in rows if len(r) < 3]
    if short:
        raise InputError([InputProblem(source, n, None, ";".join(r),
                                       f"expected 'name;DD.MM.YYYY;price' ({kind} file)")
                          for n, r in short[:20]])
    lines = np.array([n for n, _ in rows])
    names = pd.Series([r[0].strip() for _, r in rows])
    day_text = pd.Series([r[1].strip() for _, r in rows])
    price_text = pd.Series([r[2].strip() for _, r in rows])
    days = pd.to_datetime(day_text, format="%d.%m.%Y", errors="coerce")
    comma = price_text.str.contains(",", regex=False) & ~price_text.str.contains(".",
                                                                                regex=False)
    prices = pd.to_numeric(price_text.where(~comma, price_text.str.replace(",", ".")),
                           errors="coerce")
    keep = np.ones(len(rows), dtype=bool)
    if len(rows) and pd.isna(days.iloc[0]) and pd.isna(prices.iloc[0]):
        keep[0] = False  # a header line
    problems: list[InputProblem] = []
    for i in np.flatnonzero(keep & (names == "").to_numpy())[:5]:
        problems.append(InputProblem(source, int(lines[i]), kind, rows[i][1][0], "empty name"))
    for i in np.flatnonzero(keep & days.isna().to_numpy())[:10]:
        problems.append(InputProblem(source, int(lines[i]), "date", rows[i][1][1],
                                     "not a date in DD.MM.YYYY form"))
    for i in np.flatnonzero(keep & prices.isna().to_numpy())[:10]:
        problems.append(InputProblem(source, int(lines[i]), "price", rows[i][1][2],
                                     "not a number"))
    if problems:
        raise InputError(sorted(problems, key=lambda p: p.line or 0)[:20])
    data = pd.DataFrame({"name": names, "date": days, "close": prices}).loc[keep]
    frames = {}
    for name, group in data.groupby("name", sort=False):
        dup = group["date"].duplicated()
        if dup.any():
            first = int(group.index[dup.to_numpy()][0])
            raise InputError([InputProblem(source, int(lines[first]), "date",
                                           str(day_text.iloc[first]),
                                           f"{name}: date appears more than once")])
        frames[str(name)] = standard_frame(group.set_index("date")[["close"]].sort_index())
    return frames


def load_eventstudytools(folder: StrPath) -> tuple[EventCatalogue, dict[str, pd.DataFrame],
                                                  dict[str, Any]]:
    """Load an EventStudyTools request with its firm and market data.

    Parameters
    ----------
    folder : str or path-like
        Folder holding ``01_RequestFile.csv``, ``02_FirmData.csv`` and
        ``03_MarketData.csv``.

    Returns
    -------
    events : EventCatalogue
        One event per request line: ``event_id`` (the request's id), ``ticker``
        (see :func:`ticker_for`), ``market``, ``date`` (timing ``unknown``: day 0
        is the first session on or after it) and the attributes ``firm`` and
        ``group``.
    prices : dict of str to pandas.DataFrame
        Standard price frames of every firm and index, by ticker.
    settings : dict of str to Any
        Values of the study settings for EventStudyTools' conventions with the
        request's windows (see the module docstring): ``model``
        (``"market-model"``), ``estimation``, ``window``, ``car_windows``,
        ``min_estimation``, ``returns`` (``"simple"``), ``sessions``
        (``"market"``) and ``suspect_prices`` (``"keep"``); pass them to
        ``StudySettings(**settings)``.

    Raises
    ------
    InputError
        Bad lines (file, line, field), firms or indices without data, or
        requests whose windows differ from one another.

    Examples
    --------
    >>> events, prices, values = load_eventstudytools("SP500Example/")  # doctest: +SKIP
    >>> result = EventStudy(StudySettings(**values)).fit(events, prices)  # doctest: +SKIP
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError([InputProblem(str(folder), None, None, None,
                                       "not a folder with EventStudyTools files")])
    request = folder / REQUEST_FILE
    firms = _read_series(folder / FIRM_FILE, "firm")
    markets = _read_series(folder / MARKET_FILE, "market")
    source = str(request)
    problems: list[InputProblem] = []
    events = []
    windows = set()
    for number, row in _rows(request):
        cells = [c.strip() for c in row]
        if number == 1 and _looks_like_header(cells):
            continue
        if len(cells) < len(_REQUEST_FIELDS):
            problems.append(InputProblem(source, number, None, ";".join(row),
                                         f"expected {len(_REQUEST_FIELDS)} ';'-separated "
                                         f"fields ({', '.join(_REQUEST_FIELDS)})"))
            continue
        rec = dict(zip(_REQUEST_FIELDS, cells, strict=False))
        day = _date(rec["event_date"])
        if day is None:
            problems.append(InputProblem(source, number, "event_date", rec["event_date"],
                                         "not a date in DD.MM.YYYY form"))
        ints = {}
        for key in _REQUEST_FIELDS[5:]:
            try:
                ints[key] = int(rec[key])
            except ValueError:
                problems.append(InputProblem(source, number, key, rec[key], "not an integer"))
        if rec["firm"] not in firms:
            problems.append(InputProblem(source, number, "firm", row[1],
                                         f"no prices for this firm in {FIRM_FILE}"))
        if rec["market"] not in markets:
            problems.append(InputProblem(source, number, "market", row[2],
                                         f"no prices for this index in {MARKET_FILE}"))
        if len(ints) == 4:
            if ints["estimation_length"] < 1:
                problems.append(InputProblem(source, number, "estimation_length",
                                             rec["estimation_length"], "must be positive"))
            windows.add((ints["window_start"], ints["window_end"], ints["estimation_end"],
                         ints["estimation_length"]))
        if day is not None:
            events.append({"event_id": rec["event_id"], "ticker": ticker_for(rec["firm"]),
                           "market": ticker_for(rec["market"]),
                           "date": day.strftime("%Y-%m-%d"), "timing": "unknown",
                           "firm": rec["firm"], "group": rec["group"]})
    if problems:
        raise InputError(problems[:20])
    if len(windows) > 1:
        raise InputError(f"{source}: the requests use different windows "
                         f"({sorted(windows)}); split them into separate studies")
    tickers: dict[str, str] = {}
    for name in [*firms, *markets]:
        t = ticker_for(name)
        if tickers.setdefault(t, name) != name:
            raise InputError(f"{folder}: names {tickers[t]!r} and {name!r} both map to "
                             f"ticker {t}")
    catalogue = events_from_frame(pd.DataFrame(events), source=source)
    prices = {ticker_for(n): f for n, f in {**firms, **markets}.items()}
    w0, w1, e_end, e_len = windows.pop()
    settings: dict[str, Any] = {
        "model": "market-model",
        "estimation": (e_end - e_len + 1, e_end),
        "window": (w0, w1),
        "car_windows": ((w0, w1),),
        "min_estimation": e_len,
        "returns": "simple",
        "sessions": "market",
        # EventStudyTools studies the prices as given: its SP500 example holds unadjusted 2:1
        # splits (DANAHER 1998-06-01, LEXMARK 1999-06-11) that its numbers include.
        "suspect_prices": "keep",
    }
    return catalogue, prices, settings
