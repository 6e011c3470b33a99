"""Many price frames as one stacked table, cleaned in one vectorised pass.

Holds :class:`PriceTable`. A study over thousands of tickers spends most of its
set-up time in pandas overhead when each frame is cleaned and lined up on the
sessions one at a time. A table stacks the rows of every frame into flat arrays
(dates, adjusted price, volume, with each ticker's rows contiguous:
:func:`~marketreact.prices.cleaning.stack_frames`), applies the cleaning rules
to all of them at once (:func:`~marketreact.prices.cleaning.clean_rows`, the one
implementation of the rules, which :func:`~marketreact.prices.clean_prices` also
calls for one frame), and :meth:`PriceTable.panel` then fills an
:class:`~marketreact.panel.returns.ExchangePanel` block by block. The panels are
identical to :func:`~marketreact.panel.returns.build_panel` on the cleaned frames
(the tests check it).

A table is also a read-only mapping from ticker to its cleaned standard frame,
built on demand, so code written for a dict of frames keeps working. Tickers
left without a row by the cleaning are not in the mapping (:attr:`PriceTable.empty`).

Imports: the ground floor, :mod:`marketreact.calendar`, :mod:`marketreact.prices`
(the cleaning rules) and :mod:`marketreact.panel.returns`; pure computation, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from marketreact import _compiled
from marketreact._typing import BoolArray, FloatArray, IntArray
from marketreact.calendar import TradingSessions
from marketreact.errors import InputProblem
from marketreact.panel.returns import (
    ExchangePanel,
    ReturnKind,
    RowSource,
    panel_from_matrix,
    panel_from_returns,
)
from marketreact.prices.cleaning import StackedRows, clean_rows, stack_frames

_DAY = 86_400_000_000_000
#: Tickers lined up at once (keeps the temporaries small).
_TICKER_BLOCK = 128


class _Stacked:
    """The stacked rows: what lining tickers up on sessions needs, and no more."""

    def __init__(self, offsets: IntArray, dates: np.ndarray, price: FloatArray,
                 volume: FloatArray, keep: BoolArray) -> None:
        self.offsets, self.dates, self.price, self.volume, self.keep = (
            offsets, dates, price, volume, keep)
        self._midnights: bool | None = None
        self._days = (0, 0)

    def day_table(self, labels: np.ndarray) -> tuple[IntArray, int] | None:
        """``(lut, lo)`` with ``lut[date // DAY - lo]`` the session of a date (-1: none).

        Only when every date and every label is a midnight (else None: dates are then
        located by binary search).
        """
        if self._midnights is None:
            if _compiled.HAVE_NUMBA and len(self.dates):  # one pass: first, last, midnights
                facts = np.empty(3, np.int64)
                _date_facts(self.dates, facts)
                lo, hi, midnights = (int(v) for v in facts)
            else:
                lo, hi = int(self.dates.min()), int(self.dates.max())
                midnights = bool((self.dates % _DAY == 0).all())
            self._days = (lo // _DAY, hi // _DAY)
            self._midnights = bool(midnights)
        if not self._midnights or (labels % _DAY).any():
            return None
        lo, hi = self._days
        lut = np.full(hi - lo + 1, -1, dtype=np.int64)
        label_days = labels // _DAY - lo
        inside = (label_days >= 0) & (label_days <= hi - lo)
        lut[label_days[inside]] = np.flatnonzero(inside)
        return lut, lo

    def locator(self, labels: np.ndarray) -> Callable[[np.ndarray], IntArray]:
        """A function from dates (int64 ns) to session positions (-1: not a session)."""
        table = self.day_table(labels)
        if table is not None:
            lut, lo = table

            def by_day(dates: np.ndarray) -> IntArray:
                return lut[dates // _DAY - lo]

            return by_day
        t = len(labels)

        def by_search(dates: np.ndarray) -> IntArray:
            pos = np.minimum(np.searchsorted(labels, dates), t - 1)
            pos[labels[pos] != dates] = -1
            return pos

        return by_search

    def lined_up(self, src: IntArray, labels: np.ndarray, finite: bool
                 ) -> Iterator[tuple[IntArray, IntArray, FloatArray, FloatArray]]:
        """Yield, ticker block by block, the kept rows that fall on a session.

        Each item is ``(prow, pos, price, volume)``: per row its panel row
        (position in ``src``), session position, price and volume (rows of one
        ticker in table order). With ``finite``, rows whose price is not finite
        are left out (a return needs two finite prices).
        """
        if not len(self.dates):
            return
        locate = self.locator(labels)
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


def _jumpy_tickers_loop(price: FloatArray, keep: BoolArray, offsets: IntArray, factor: float,
                        out: BoolArray) -> None:  # pragma: no cover - compiled
    """Flag in ``out`` the tickers whose consecutive prices ever move by ``factor`` or more.

    ``out[k]`` becomes True when two consecutive kept, finite prices of ticker ``k``
    (rows ``offsets[k]`` to ``offsets[k + 1]``) have ``max(r, 1 / r) >= factor`` for
    ``r = p[j] / p[j - 1]``: what the numpy code of :meth:`PriceTable.jumpy` finds.
    """
    for k in range(offsets.shape[0] - 1):
        prev = np.nan
        for j in range(offsets[k], offsets[k + 1]):
            p = price[j]
            if not (keep[j] and np.isfinite(p)):
                continue
            if np.isfinite(prev):
                ratio = p / prev
                if max(ratio, 1.0 / ratio) >= factor:
                    out[k] = True
                    break
            prev = p


_jumpy_tickers = _compiled.Kernel(_jumpy_tickers_loop)


def _date_facts_loop(dates: IntArray, out: IntArray) -> None:  # pragma: no cover - compiled
    """``out = (min, max, all midnights)`` of the (non-empty) int64 dates, in one pass.

    (The day's length is the module's constant: numba compiles it in, and a division by
    a constant costs a multiplication.)
    """
    lo, hi, midnights = dates[0], dates[0], 1
    for d in dates:
        lo = min(lo, d)
        hi = max(hi, d)
        if midnights and d % _DAY != 0:
            midnights = 0
    out[0], out[1], out[2] = lo, hi, midnights


def _kept_bounds_loop(dates: IntArray, keep: BoolArray, offsets: IntArray, first: IntArray,
                      last: IntArray) -> None:  # pragma: no cover - compiled
    """Each ticker's first and last kept date, into ``first`` and ``last``.

    Left as they are for a ticker without a kept row: the ``reduceat`` of
    :meth:`PriceTable.date_range`.
    """
    for k in range(offsets.shape[0] - 1):
        for j in range(offsets[k], offsets[k + 1]):
            if keep[j]:
                first[k] = min(first[k], dates[j])
                last[k] = max(last[k], dates[j])


def _lined_returns_loop(dates: IntArray, price: FloatArray, keep: BoolArray, offsets: IntArray,
                        src: IntArray, lut: IntArray, lo: int, returns: FloatArray,
                        span: IntArray, first: IntArray,
                        last: IntArray) -> bool:  # pragma: no cover - compiled
    """Simple returns and spans of panel rows ``src`` (table rows) in one pass (compiled).

    For each ticker, its kept rows with a finite price on a session (``lut[date // DAY -
    lo]``, -1 for none) in table order: the return between consecutive ones,
    ``p_j / p_(j-1) - 1`` (the operations of :meth:`PriceTable.panel`'s numpy code), goes
    to the later one's session with the sessions it spans; ``first``/``last`` get the
    ticker's first and last such session. Returns False at dates out of order or twice on
    one session (the caller then derives the returns from the price matrix).
    """
    for prow in range(src.shape[0]):
        r = src[prow]
        prev, prev_px = -1, 0.0
        for j in range(offsets[r], offsets[r + 1]):
            px = price[j]
            if not (keep[j] and np.isfinite(px)):
                continue
            d = dates[j] // _DAY - lo
            if d < 0 or d >= lut.shape[0] or lut[d] < 0:
                continue
            pos = lut[d]
            if prev < 0:
                first[prow] = pos
            elif pos <= prev:
                return False
            else:
                returns[prow, pos] = px / prev_px - 1.0
                span[prow, pos] = pos - prev
            last[prow] = pos
            prev, prev_px = pos, px
    return True


_date_facts = _compiled.Kernel(_date_facts_loop)
_lined_returns = _compiled.Kernel(_lined_returns_loop)
_kept_bounds = _compiled.Kernel(_kept_bounds_loop)


class PriceTable(Mapping[str, pd.DataFrame]):
    """Cleaned daily prices of many tickers, stacked.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Standard price frames by ticker (sorted by date, unique dates), as
        returned by a price source, not yet cleaned.
    rows : StackedRows, optional
        ``frames`` stacked already (as :func:`~marketreact.prices.cleaning.stack_frames`
        or :func:`~marketreact.prices.cleaning.stack_standard` gives them), so that
        they are not stacked twice.

    Attributes
    ----------
    tickers : tuple of str
        Every ticker given, in order (those in :attr:`empty` included).
    offsets : numpy.ndarray
        ``(N + 1,)`` ticker ``i`` owns stacked rows ``offsets[i]:offsets[i + 1]``.
    dates : numpy.ndarray
        Every row's date as int64 nanoseconds.
    price : numpy.ndarray
        Every row's adjusted price (the close where the adjusted close is missing).
    volume : numpy.ndarray
        Every row's volume (NaN where absent or negative).
    keep : numpy.ndarray
        Rows that survive the cleaning rules.
    notes : dict of str to tuple of InputProblem
        What the cleaning removed, by ticker (tickers without notes absent), as
        :func:`~marketreact.prices.cleaning.clean_rows` words it.
    empty : tuple of str
        Tickers left without a row by the cleaning (not in the mapping).
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame], *,
                 rows: StackedRows | None = None) -> None:
        self._raw = dict(frames)
        if rows is not None and rows.tickers != tuple(self._raw):
            raise ValueError("rows must be the frames stacked, ticker for ticker")
        stacked = stack_frames(self._raw) if rows is None else rows
        self.tickers: tuple[str, ...] = stacked.tickers
        n = len(self.tickers)
        self.offsets: IntArray = stacked.offsets
        self.dates: np.ndarray = stacked.dates
        self.price: FloatArray = stacked.price
        cleaning = clean_rows(stacked)
        self.volume: FloatArray = cleaning.volume  # negative volumes made missing
        self.keep: BoolArray = cleaning.keep
        self.notes: dict[str, tuple[InputProblem, ...]] = cleaning.notes
        self._counts: IntArray = cleaning.counts
        self.empty: tuple[str, ...] = tuple(np.asarray(self.tickers, dtype=object)[
            self._counts == 0]) if n else ()
        self._row: dict[str, int] = {t: i for i, t in enumerate(self.tickers)
                                     if self._counts[i] > 0}
        self._lookup = pd.Index(self.tickers)
        self._stacked = _Stacked(self.offsets, self.dates, self.price, self.volume, self.keep)
        self._bounds: tuple[IntArray, IntArray] | None = None

    # -- mapping interface -------------------------------------------------------------------
    def __getitem__(self, ticker: str) -> pd.DataFrame:
        """Return the cleaned standard frame of ``ticker`` (as ``clean_prices`` returns it)."""
        i = self._row[ticker]
        keep = self.keep[self.offsets[i]:self.offsets[i + 1]]
        raw = self._raw[ticker]
        frame = raw if keep.all() else raw.loc[keep]
        if "volume" in frame.columns and (frame["volume"] < 0).any():
            frame = frame.copy()
            frame.loc[frame["volume"] < 0, "volume"] = np.nan
        return frame

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, ticker: object) -> bool:
        return ticker in self._row

    # -- vectorised access -------------------------------------------------------------------
    def rows(self, tickers: pd.Series | list[str] | np.ndarray) -> IntArray:
        """Return the table rows of many tickers at once (-1 for tickers not in the mapping).

        Each distinct ticker is looked up once.
        """
        codes, uniques = pd.factorize(pd.Series(tickers, dtype=object)
                                      if not isinstance(tickers, pd.Series) else tickers)
        found = self._lookup.get_indexer(pd.Index(uniques)).astype(np.int64)
        found[found >= 0] = np.where(self._counts[found[found >= 0]] > 0,
                                     found[found >= 0], -1)
        return found[codes] if len(codes) else np.empty(0, dtype=np.int64)

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
            if _compiled.HAVE_NUMBA:  # one pass, no temporaries
                _kept_bounds(self.dates, self.keep, self.offsets, first, last)
            elif some.any():
                first[some] = np.minimum.reduceat(np.where(self.keep, self.dates, big),
                                                  starts[some])
                last[some] = np.maximum.reduceat(np.where(self.keep, self.dates, small),
                                                 starts[some])
            self._bounds = (first, last)
        rows = np.asarray(rows)
        rows = rows[rows >= 0]
        rows = rows[self.n_rows(rows) > 0]
        if not len(rows):
            return None
        return (pd.Timestamp(int(self._bounds[0][rows].min())),
                pd.Timestamp(int(self._bounds[1][rows].max())))

    def kept_prices(self, ticker: str) -> tuple[np.ndarray, FloatArray]:
        """The cleaned dates (``datetime64[ns]``) and prices of ``ticker``, without a frame.

        The prices are those of ``price_column(self[ticker])``: the adjusted close, the
        close where it is missing.
        """
        i = self._row[ticker]
        lo, hi = self.offsets[i], self.offsets[i + 1]
        keep = self.keep[lo:hi]
        return self.dates[lo:hi][keep].astype("datetime64[ns]"), self.price[lo:hi][keep]

    def index_of(self, ticker: str) -> pd.DatetimeIndex:
        """Return the cleaned dates of ``ticker``."""
        return pd.DatetimeIndex(self._kept(self._row[ticker]).astype("datetime64[ns]"))

    def jumpy(self, factor: float) -> list[str]:
        """Tickers whose consecutive cleaned (finite) prices ever move by ``factor`` or more.

        Only these can hold suspect prices in the sense of
        :func:`~marketreact.prices.checks.find_suspects` (which looks at jumps of at
        least its ``JUMP_FACTOR``); the others need no closer look.
        """
        if _compiled.HAVE_NUMBA:  # one pass, no temporaries; the same tickers
            flagged = np.zeros(len(self.tickers), np.bool_)
            _jumpy_tickers(self.price, self.keep, self.offsets, float(factor), flagged)
            return [self.tickers[i] for i in np.flatnonzero(flagged)]
        use = self.keep & np.isfinite(self.price)
        p = self.price[use]
        if len(p) < 2:
            return []
        n = len(self.tickers)
        starts = self.offsets[:-1]
        some = self.offsets[1:] > starts
        counts = np.zeros(n, dtype=np.int64)
        if some.any():
            counts[some] = np.add.reduceat(use, starts[some])
        first = np.cumsum(counts) - counts  # where each ticker's rows start in p
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = p[1:] / p[:-1]
            big = np.maximum(ratio, 1.0 / ratio) >= factor
        big[first[(first > 0) & (first < len(p))] - 1] = False  # never across tickers
        at = np.flatnonzero(big) + 1  # rare: look their tickers up one by one
        owner = np.searchsorted(first, at, side="right") - 1
        return [self.tickers[i] for i in np.unique(owner)]

    def panel(self, sessions: TradingSessions, tickers: list[str] | tuple[str, ...],
              kind: ReturnKind = ReturnKind.simple) -> ExchangePanel:
        """Line up ``tickers`` on ``sessions``: the same panel as ``build_panel`` on cleaned frames.

        Returns and spans are taken between each ticker's consecutive priced
        sessions, block by block; the prices and volumes themselves are
        scattered into their ``(N, T)`` matrices only when first used.

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
        prices_src = _Lineup(self._stacked, src, labels, "price", (first, last))
        volume_src = _Lineup(self._stacked, src, labels, "volume")
        day_table = self._stacked.day_table(labels) if _compiled.HAVE_NUMBA else None
        if day_table is not None and not log_returns:  # one compiled pass over the rows
            st = self._stacked
            if _lined_returns(st.dates, st.price, st.keep, st.offsets, src, day_table[0],
                              day_table[1], returns, span, first, last):
                return panel_from_returns(sessions, tuple(tickers), prices_src, volume_src,
                                          returns, span, kind)
            # unsorted or duplicated dates: derive returns from the matrix
            return panel_from_matrix(sessions, tuple(tickers), prices_src(), volume_src(), kind)
        for prow, pos, px, _ in self._stacked.lined_up(src, labels, finite=True):
            if not len(pos):
                continue
            flat = prow * t + pos
            ends = np.flatnonzero(prow[1:] != prow[:-1])  # last row of each ticker but one
            starts = np.concatenate([[0], ends + 1])
            stops = np.concatenate([ends, [len(pos) - 1]])
            first[prow[starts]] = pos[starts]
            last[prow[stops]] = pos[stops]
            if len(pos) < 2:
                continue
            gap = np.diff(pos)
            gap[ends] = 1
            if gap.min() <= 0:  # unsorted or duplicated dates: derive returns from the matrix
                return panel_from_matrix(sessions, tuple(tickers), prices_src(), volume_src(),
                                         kind)
            gap[ends] = 0
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = px[1:] / px[:-1]
                r = np.log(ratio) if log_returns else np.subtract(ratio, 1.0, out=ratio)
            r[ends] = np.nan
            flat_returns[flat[1:]] = r
            flat_span[flat[1:]] = gap
        return panel_from_returns(sessions, tuple(tickers), prices_src, volume_src, returns,
                                  span, kind)


class _Lineup(RowSource):
    """The panel's prices or volumes, scattered from the stacked rows when first needed."""

    def __init__(self, stacked: _Stacked, src: IntArray, labels: np.ndarray, column: str,
                 priced: tuple[IntArray, IntArray] | None = None) -> None:
        self.stacked: _Stacked | None = stacked
        self.src, self.labels, self.column, self.priced = src, labels, column, priced
        self.value: FloatArray | None = None

    def __call__(self) -> FloatArray:
        if self.value is None:
            self.value = self.rows(np.arange(len(self.src)))
        return self.value

    def rows(self, rows: IntArray) -> FloatArray:
        if self.value is not None:
            return self.value[rows]
        assert self.stacked is not None
        t = len(self.labels)
        out = np.full((len(rows), t), np.nan)
        flat_out = out.ravel()
        for prow, pos, px, vol in self.stacked.lined_up(self.src[rows], self.labels,
                                                        finite=False):
            flat_out[prow * t + pos] = px if self.column == "price" else vol
        return out

    def __getstate__(self) -> dict[str, object]:
        # sent elsewhere (a Dask worker, a pickle): the matrix itself, not the stacked rows
        state = dict(self.__dict__)
        state["value"] = self()
        state["stacked"] = None
        return state

    def priced_range(self) -> tuple[IntArray, IntArray]:
        if self.priced is None:
            raise ValueError("no priced range was recorded")
        return self.priced
