"""Many price frames as one stacked table, cleaned in one vectorised pass.

A study over thousands of tickers spends most of its set-up time in pandas
overhead when each frame is cleaned and lined up on the sessions one at a time.
:class:`PriceTable` stacks the rows of every frame into flat arrays (dates,
adjusted price, volume, with each ticker's rows contiguous) and applies the
cleaning rules of :func:`~marketreact.prices.frames.clean_prices` to all of them
at once; :meth:`PriceTable.panel` then fills an
:class:`~marketreact.panel.ExchangePanel` with one scatter. The results are
identical to cleaning each frame and calling
:func:`~marketreact.panel.build_panel` (the tests check it).

A table is also a read-only mapping from ticker to its cleaned standard frame,
built on demand, so code written for a dict of frames keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.calendar import TradingSessions
from marketreact.errors import InputProblem
from marketreact.panel import (
    ExchangePanel,
    ReturnKind,
    RowSource,
    panel_from_matrix,
    panel_from_returns,
)

_NEEDED = ("close", "adj_close", "volume")


_NS = np.dtype("datetime64[ns]")


def _date_ns(index: pd.Index) -> np.ndarray:
    if isinstance(index, pd.DatetimeIndex) and index.dtype == _NS:
        return index.asi8
    return pd.DatetimeIndex(index).tz_localize(None).as_unit("ns").asi8


def _columns(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``close, adj_close, volume`` of a frame as float arrays (NaN where absent)."""
    try:
        at = [frame.columns.get_loc(col) for col in _NEEDED]
    except KeyError:
        at = []
    if all(isinstance(i, int) for i in at) and len(at) == len(_NEEDED):
        try:
            values = frame.to_numpy(dtype=float)
        except (TypeError, ValueError):
            pass
        else:
            return values[:, at[0]], values[:, at[1]], values[:, at[2]]
    out = []
    for col in _NEEDED:
        out.append(pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
                   if col in frame else np.full(len(frame), np.nan))
    return out[0], out[1], out[2]


class PriceTable(Mapping[str, pd.DataFrame]):
    """Cleaned daily prices of many tickers, stacked.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Standard price frames by ticker (sorted by date, unique dates), as
        returned by a price source, not yet cleaned.

    Attributes
    ----------
    tickers : tuple of str
        Tickers in the order given.
    offsets : numpy.ndarray
        ``(N + 1,)`` ticker ``i`` owns stacked rows ``offsets[i]:offsets[i + 1]``.
    dates : numpy.ndarray
        Every row's date as int64 nanoseconds.
    price : numpy.ndarray
        Every row's adjusted price (the close where the adjusted close is missing).
    volume : numpy.ndarray
        Every row's volume.
    keep : numpy.ndarray
        Rows that survive the cleaning rules.
    notes : tuple of InputProblem
        What the cleaning removed, per ticker, in the order of
        :func:`~marketreact.prices.frames.clean_prices`.
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        self._raw = dict(frames)
        self.tickers: tuple[str, ...] = tuple(self._raw)
        self._row: dict[str, int] = {t: i for i, t in enumerate(self.tickers)}
        n = len(self.tickers)
        dates, close, adj, vol = [], [], [], []
        lengths = np.zeros(n, dtype=np.int64)
        for i, t in enumerate(self.tickers):
            frame = self._raw[t]
            c, a, v = _columns(frame)
            dates.append(_date_ns(frame.index))
            close.append(c)
            adj.append(a)
            vol.append(v)
            lengths[i] = len(frame)
        self.offsets: IntArray = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])

        def cat(parts: list[np.ndarray], dt: type) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dt)

        self.dates: np.ndarray = cat(dates, np.int64)
        price = cat(adj, float)
        missing_adj = np.isnan(price)
        if missing_adj.any():
            price[missing_adj] = cat(close, float)[missing_adj]
        self.price: FloatArray = price
        self.volume: FloatArray = cat(vol, float)
        self.keep, notes, self._counts = _clean(self.tickers, self.offsets, self.dates,
                                                self.price, self.volume)
        self.notes: tuple[InputProblem, ...] = tuple(notes)
        self._bounds: tuple[IntArray, IntArray] | None = None
        self._midnights: bool | None = None
        self._days = (0, 0)

    # -- mapping interface -------------------------------------------------------------------
    def __getitem__(self, ticker: str) -> pd.DataFrame:
        """Return the cleaned standard frame of ``ticker`` (as ``clean_prices`` returns it)."""
        i = self._row[ticker]
        keep = self.keep[self.offsets[i]:self.offsets[i + 1]]
        raw = self._raw[ticker]
        return raw if keep.all() else raw.loc[keep]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tickers)

    def __len__(self) -> int:
        return len(self.tickers)

    def __contains__(self, ticker: object) -> bool:
        return ticker in self._row

    # -- vectorised access -------------------------------------------------------------------
    def rows(self, tickers: pd.Series | list[str] | np.ndarray) -> IntArray:
        """Return the table rows of many tickers at once (-1 for tickers not in the table)."""
        return pd.Index(self.tickers).get_indexer(pd.Index(tickers)).astype(np.int64)

    def n_rows(self, rows: IntArray) -> IntArray:
        """Return the cleaned row counts of table rows ``rows``."""
        return self._counts[rows]

    def _kept(self, row: int) -> np.ndarray:
        lo, hi = self.offsets[row], self.offsets[row + 1]
        return self.dates[lo:hi][self.keep[lo:hi]]

    def date_range(self, rows: IntArray) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """Return the first and last cleaned date over the tickers at table rows ``rows``."""
        if self._bounds is None:
            big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
            first = np.full(len(self.tickers), big)
            last = np.full(len(self.tickers), small)
            starts = self.offsets[:-1]
            some = self.offsets[1:] > starts
            if some.any():
                first[some] = np.minimum.reduceat(np.where(self.keep, self.dates, big),
                                                  starts[some])
                last[some] = np.maximum.reduceat(np.where(self.keep, self.dates, small),
                                                 starts[some])
            self._bounds = (first, last)
        rows = rows[self.n_rows(rows) > 0]
        if not len(rows):
            return None
        return (pd.Timestamp(int(self._bounds[0][rows].min())),
                pd.Timestamp(int(self._bounds[1][rows].max())))

    def index_of(self, ticker: str) -> pd.DatetimeIndex:
        """Return the cleaned dates of ``ticker``."""
        return pd.DatetimeIndex(self._kept(self._row[ticker]).astype("datetime64[ns]"))

    def panel(self, sessions: TradingSessions, tickers: list[str] | tuple[str, ...],
              kind: ReturnKind = ReturnKind.simple) -> ExchangePanel:
        """Line up ``tickers`` on ``sessions``: the same panel as ``build_panel`` on cleaned frames.

        Each ticker's rows are scattered into the ``(N, T)`` matrices and its
        returns are taken between its consecutive priced sessions, so no
        ``(N, T)`` temporaries are needed.

        Parameters
        ----------
        sessions : TradingSessions
            The session axis.
        tickers : sequence of str
            Tickers in the table, in panel row order.
        kind : ReturnKind, default simple
            Return definition.
        """
        labels = sessions.labels.as_unit("ns").asi8
        t, n = len(labels), len(tickers)
        src = np.asarray([self._row[x] for x in tickers], dtype=np.int64)
        if t == 0 or n == 0 or not len(self.dates):
            prices = np.full((n, t), np.nan)
            return panel_from_matrix(sessions, tuple(tickers), prices, prices.copy(), kind)
        returns = np.full((n, t), np.nan)
        span = np.zeros((n, t), dtype=np.int64)
        first = np.full(n, t, dtype=np.int64)
        last = np.full(n, -1, dtype=np.int64)
        log_returns = kind is ReturnKind.log
        flat_returns, flat_span = returns.ravel(), span.ravel()
        for prow, pos, px, _ in self._lined_up(src, labels, finite=True):
            if not len(pos):
                continue
            flat = prow * t + pos
            ends = np.flatnonzero(prow[1:] != prow[:-1])  # last row of each ticker but one
            first[prow[np.concatenate([[0], ends + 1])]] = pos[np.concatenate([[0], ends + 1])]
            last[prow[np.concatenate([ends, [len(pos) - 1]])]] = pos[
                np.concatenate([ends, [len(pos) - 1]])]
            if len(pos) < 2:
                continue
            gap = np.diff(pos)
            gap[ends] = 1
            if gap.min() <= 0:  # unsorted or duplicated dates: derive returns from the matrix
                prices = _Lineup(self, src, labels, "price")()
                volume = _Lineup(self, src, labels, "volume")()
                return panel_from_matrix(sessions, tuple(tickers), prices, volume, kind)
            gap[ends] = 0
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = px[1:] / px[:-1]
                r = np.log(ratio) if log_returns else np.subtract(ratio, 1.0, out=ratio)
            r[ends] = np.nan
            flat_returns[flat[1:]] = r
            flat_span[flat[1:]] = gap
        prices_src = _Lineup(self, src, labels, "price", (first, last))
        return panel_from_returns(sessions, tuple(tickers), prices_src,
                                  _Lineup(self, src, labels, "volume"), returns, span, kind)

    def _lined_up(self, src: IntArray, labels: np.ndarray, finite: bool
                  ) -> Iterator[tuple[IntArray, IntArray, FloatArray, FloatArray]]:
        """Yield, ticker block by block, the kept rows that fall on a session.

        Each item is ``(prow, pos, price, volume)``: per row its panel row
        (position in ``src``), session position, price and volume (rows of one
        ticker in table order). With ``finite``, rows whose price is not
        finite are left out (a return needs two finite prices).
        """
        locate = self._locator(labels)
        lengths = self.offsets[src + 1] - self.offsets[src]
        for b0 in range(0, len(src), _TICKER_BLOCK):
            b1 = min(b0 + _TICKER_BLOCK, len(src))
            seg, size = src[b0:b1], lengths[b0:b1]
            if not size.sum():
                continue
            rows: slice | IntArray
            if (np.diff(seg) == 1).all():  # consecutive tickers of the table: plain slices
                rows = slice(self.offsets[seg[0]], self.offsets[seg[-1] + 1])
            else:
                rows = (np.repeat(self.offsets[seg] - np.cumsum(size) + size, size)
                        + np.arange(size.sum()))
            pos = locate(self.dates[rows])
            use = self.keep[rows] & (pos >= 0)
            prow = np.repeat(np.arange(b0, b1), size)
            px, vol = self.price[rows], self.volume[rows]
            if finite:
                use &= np.isfinite(px)
            if not use.all():
                pos, prow, px, vol = pos[use], prow[use], px[use], vol[use]
            yield prow, pos, px, vol

    def _locator(self, labels: np.ndarray) -> Callable[[np.ndarray], IntArray]:
        """A function from dates (int64 ns) to session positions (-1: not a session)."""
        if self._midnights is None:
            self._days = (int(self.dates.min() // _DAY), int(self.dates.max() // _DAY))
            self._midnights = bool((self.dates % _DAY == 0).all())
        if self._midnights and not (labels % _DAY).any():
            lo, hi = self._days
            lut = np.full(hi - lo + 1, -1, dtype=np.int64)
            label_days = labels // _DAY - lo
            inside = (label_days >= 0) & (label_days <= hi - lo)
            lut[label_days[inside]] = np.flatnonzero(inside)

            def by_day(dates: np.ndarray) -> IntArray:
                return lut[dates // _DAY - lo]

            return by_day
        t = len(labels)

        def by_search(dates: np.ndarray) -> IntArray:
            pos = np.minimum(np.searchsorted(labels, dates), t - 1)
            pos[labels[pos] != dates] = -1
            return pos

        return by_search


class _Lineup(RowSource):
    """The panel's prices or volumes, scattered from the table when first needed."""

    def __init__(self, table: PriceTable, src: IntArray, labels: np.ndarray, column: str,
                 priced: tuple[IntArray, IntArray] | None = None) -> None:
        self.table, self.src, self.labels, self.column = table, src, labels, column
        self.priced = priced
        self.value: FloatArray | None = None

    def __call__(self) -> FloatArray:
        if self.value is None:
            self.value = self.rows(np.arange(len(self.src)))
        return self.value

    def rows(self, rows: IntArray) -> FloatArray:
        if self.value is not None:
            return self.value[rows]
        t = len(self.labels)
        out = np.full((len(rows), t), np.nan)
        flat_out = out.ravel()
        for prow, pos, px, vol in self.table._lined_up(self.src[rows], self.labels,
                                                       finite=False):
            flat_out[prow * t + pos] = px if self.column == "price" else vol
        return out

    def __getstate__(self) -> dict[str, object]:
        # sent elsewhere (a Dask worker, a pickle): the matrix itself, not the whole table
        state = dict(self.__dict__)
        state["value"] = self()
        state["table"] = None
        return state

    def priced_range(self) -> tuple[IntArray, IntArray]:
        if self.priced is None:
            raise ValueError("no priced range was recorded")
        return self.priced


_DAY = 86_400_000_000_000
#: Tickers lined up at once (keeps the temporaries small).
_TICKER_BLOCK = 128


def _clean(tickers: tuple[str, ...], offsets: IntArray, dates: np.ndarray, price: FloatArray,
           volume: FloatArray) -> tuple[BoolArray, list[InputProblem], IntArray]:
    """Apply the rules of ``clean_prices`` to stacked rows.

    Returns the rows to keep, the notes and the kept row count per ticker.
    """
    n = len(tickers)
    starts = offsets[:-1]

    def per_ticker(rows: IntArray) -> IntArray:
        return np.bincount(np.searchsorted(offsets, rows, side="right") - 1, minlength=n)

    nonpositive = ~(price > 0)
    bad_rows = np.flatnonzero(nonpositive)
    bad_counts = per_ticker(bad_rows)
    if len(bad_rows):
        kept = np.flatnonzero(~nonpositive)
        p, v = price[kept], volume[kept]
        new_starts = starts - np.cumsum(np.concatenate([[0], bad_counts[:-1]]))
    else:
        kept, p, v, new_starts = None, price, volume, starts
    filler = np.zeros(len(p), dtype=bool)
    if len(p) > 1:
        np.equal(p[1:], p[:-1], out=filler[1:])
        filler[1:] &= v[1:] == 0
        filler[new_starts[new_starts < len(p)]] = False  # never compare across tickers
    fill_rows = np.flatnonzero(filler)
    if kept is not None:
        fill_rows = kept[fill_rows]
        keep = ~nonpositive
        keep[fill_rows] = False
    else:
        keep = ~filler
    fill_counts = per_ticker(fill_rows)
    counts = np.diff(offsets) - bad_counts - fill_counts
    notes: list[InputProblem] = []
    for i in np.flatnonzero((bad_counts > 0) | (fill_counts > 0)):
        ticker = tickers[i]
        if bad_counts[i]:
            first_row = bad_rows[np.searchsorted(bad_rows, offsets[i])]
            first = pd.Timestamp(int(dates[first_row])).date()
            notes.append(InputProblem(ticker, None, "adj_close", None,
                                      f"{int(bad_counts[i])} row(s) without a positive price "
                                      f"removed (first {first})"))
        if fill_counts[i]:
            notes.append(InputProblem(ticker, None, "volume", None,
                                      f"{int(fill_counts[i])} flat zero-volume filler row(s) "
                                      "treated as missing"))
    return keep, notes, counts
