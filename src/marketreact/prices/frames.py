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
* Rows without a positive adjusted price are removed and reported.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    frames: dict[str, pd.DataFrame]
    failures: dict[str, str]


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
    nonpositive = ~(price > 0)
    if nonpositive.any():
        first = frame.index[nonpositive.to_numpy()][0]
        notes.append(InputProblem(source, None, "adj_close", None,
                                  f"{int(nonpositive.sum())} row(s) without a positive price "
                                  f"removed (first {first.date()})"))
        frame = frame.loc[~nonpositive.to_numpy()]
        price = price.loc[~nonpositive.to_numpy()]
    volume = frame["volume"]
    if volume.notna().any():
        filler = ((volume == 0) & (price == price.shift(1))).to_numpy()
        if filler.any():
            notes.append(InputProblem(source, None, "volume", None,
                                      f"{int(filler.sum())} flat zero-volume filler row(s) "
                                      "treated as missing"))
            frame = frame.loc[~filler]
    return frame, notes
