"""The standard daily price frame and its cleaning rules.

Every source returns, per ticker, a frame indexed by ``date`` (tz-naive
``datetime64[ns]`` exchange-local session dates, ascending, unique) with float
columns ``open, high, low, close, adj_close, volume``; a column a source does
not have is all-NaN.

Cleaning rules (:func:`clean_prices`)
-------------------------------------
* Yahoo writes flat filler rows on days it has no trade for a ticker: volume 0
  and the same close as the row before. They are removed (the session becomes
  a missing price). A zero-volume row whose close moved is kept: index series
  often lack volume on real trading days.
* Rows without a positive adjusted price are removed (zero and negative
  prices are reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketreact.errors import InputProblem

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")


@dataclass(frozen=True)
class PriceFetch:
    """What a price source returned for a request.

    Attributes
    ----------
    frames : dict of str to pandas.DataFrame
        Standard price frames, by ticker.
    failures : dict of str to str
        Tickers that could not be had, with the reason.
    notes : dict of str to tuple of InputProblem
        Harmless problems found in a ticker's data and how they were handled
        (rows sorted, zero prices taken as missing, long gaps, ...).
    suspects : dict of str to tuple of PriceSuspect
        Suspect prices (unadjusted splits, bad prints): events whose windows
        contain one fail with its reason.
    """

    frames: dict[str, pd.DataFrame]
    failures: dict[str, str]
    notes: dict[str, tuple[InputProblem, ...]] = field(default_factory=dict)
    suspects: dict[str, tuple[PriceSuspect, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceSuspect:
    """A price that is probably wrong, and the sessions whose returns it spoils.

    Attributes
    ----------
    first, last : pandas.Timestamp
        First and last date whose return (from the previous row) is affected.
    problem : InputProblem
        Where it is (file, line, field, value) and why it is suspect.
    """

    first: pd.Timestamp
    last: pd.Timestamp
    problem: InputProblem


def standard_frame(data: pd.DataFrame) -> pd.DataFrame:
    """Coerce a frame with (a subset of) the standard columns to the standard shape.

    Parameters
    ----------
    data : pandas.DataFrame
        Indexed by date; columns named as in :data:`PRICE_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        Float columns in the standard order, ``datetime64[ns]`` index named ``date``.
    """
    out = pd.DataFrame(index=pd.DatetimeIndex(data.index).tz_localize(None).normalize()
                       .astype("datetime64[ns]"))
    for col in PRICE_COLUMNS:
        out[col] = (pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
                    if col in data else np.nan)
    if out["adj_close"].isna().all():
        out["adj_close"] = out["close"]
    out.index.name = "date"
    return out


def price_column(frame: pd.DataFrame) -> pd.Series:
    """Return the adjusted close, falling back to the close where it is missing."""
    return frame["adj_close"].fillna(frame["close"])


def clean_prices(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list[InputProblem]]:
    """Apply the cleaning rules to a standard frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        A standard price frame, sorted by date with unique dates.
    source : str
        Name used in the notes.

    Returns
    -------
    frame : pandas.DataFrame
        The cleaned frame.
    notes : list of InputProblem
        What was removed and why (one note per kind of removal).
    """
    notes: list[InputProblem] = []
    price = price_column(frame)
    drop = ~(price > 0).to_numpy()  # missing, zero or negative
    nonpositive = (price <= 0).to_numpy()
    if nonpositive.any():
        first = frame.index[nonpositive][0]
        notes.append(InputProblem(source, None, "adj_close", None,
                                  f"{int(nonpositive.sum())} row(s) with a zero or negative "
                                  f"price taken as missing (first {first.date()})"))
    if drop.any():
        frame = frame.loc[~drop]
        price = price.loc[~drop]
    volume = frame["volume"]
    if volume.notna().any():
        filler = ((volume == 0) & (price == price.shift(1))).to_numpy()
        if filler.any():
            notes.append(InputProblem(source, None, "volume", None,
                                      f"{int(filler.sum())} flat zero-volume filler row(s) "
                                      "treated as missing"))
            frame = frame.loc[~filler]
    return frame, notes
