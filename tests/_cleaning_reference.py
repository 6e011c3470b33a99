"""The cleaning rules written out one frame at a time in plain pandas: the reference.

This is ``prices.frames.clean_prices`` as it stood before the rules got their single,
vectorised implementation (``prices.cleaning.clean_rows``, used by ``clean_prices`` and
``PriceTable``). Tests check the implementation against it on hand-built and real frames.
"""

from __future__ import annotations

import pandas as pd

from marketreact.errors import InputProblem


def reference_clean_prices(frame: pd.DataFrame, source: str
                           ) -> tuple[pd.DataFrame, list[InputProblem]]:
    """Remove rows without a positive price, then flat zero-volume filler rows."""
    notes: list[InputProblem] = []
    price = frame["adj_close"].fillna(frame["close"])
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
