"""Yahoo Finance prices through yfinance, with a local cache.

Facts about yfinance 1.x this adapter relies on (checked on 1.7):

* ``yf.download`` returns two-level columns (``Price``, ``Ticker``) even for
  one ticker; with ``auto_adjust=False`` the ``Adj Close`` column is kept.
* ``end`` is exclusive; the daily index is tz-naive exchange-local midnight.
* A bad ticker never raises: its columns are all-NaN (or the frame has no rows
  when every ticker failed) and the error is only logged on the ``yfinance``
  logger, e.g. ``['XYZ']: YFRateLimitError('Too Many Requests...')``.

So failures are detected from the data (all-NaN columns) and their reasons
read from the log; rate-limited tickers are retried with exponential backoff.
Nothing from a failed fetch is written to the cache.
"""

from __future__ import annotations

import ast
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from marketreact.prices.frames import PriceFetch, standard_frame
from marketreact.prices.store import PriceStore
from marketreact.progress import track

log = logging.getLogger(__name__)

_YF_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
               "Adj Close": "adj_close", "Volume": "volume"}
_ERROR_LINE = re.compile(r"^(\[.*?\]):\s*(.*)$", re.DOTALL)
_RATE_LIMIT = re.compile(r"rate ?limit|too many requests", re.IGNORECASE)

Downloader = Callable[..., pd.DataFrame]


class _CaptureErrors(logging.Handler):
    """Collect per-ticker error messages that yfinance logs instead of raising."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = _ERROR_LINE.match(record.getMessage())
        if not match:
            return
        try:
            tickers = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return
        for ticker in tickers:
            self.errors[str(ticker).upper()] = match.group(2).strip()


def frames_from_download(data: pd.DataFrame | None,
                         tickers: Sequence[str]) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Split a ``yf.download`` result into standard frames per ticker.

    Parameters
    ----------
    data : pandas.DataFrame or None
        What ``yf.download(..., auto_adjust=False)`` returned: columns
        ``(Price, Ticker)``; all-NaN columns for a failed ticker; possibly no rows.
    tickers : sequence of str
        The tickers asked for.

    Returns
    -------
    frames : dict of str to pandas.DataFrame
        Standard frames of the tickers that returned data.
    missing : list of str
        Tickers with no data at all.
    """
    frames: dict[str, pd.DataFrame] = {}
    missing: list[str] = []
    if data is None or data.empty or not isinstance(data.columns, pd.MultiIndex):
        return frames, list(tickers)
    level = "Ticker" if "Ticker" in (data.columns.names or []) else 1
    present = {str(t).upper(): t for t in data.columns.get_level_values(level)}
    for ticker in tickers:
        key = present.get(ticker.upper())
        if key is None:
            missing.append(ticker)
            continue
        sub = pd.DataFrame(data.xs(key, axis=1, level=level))
        sub = sub.rename(columns=_YF_COLUMNS)
        sub = sub.loc[:, [c for c in sub.columns if c in _YF_COLUMNS.values()]]
        sub = sub.dropna(how="all")
        if sub.empty or sub.get("close", pd.Series(dtype=float)).isna().all():
            missing.append(ticker)
            continue
        frames[ticker] = standard_frame(sub)
    return frames, missing


class YahooSource:
    """Daily prices from Yahoo Finance, cached locally.

    Parameters
    ----------
    store : PriceStore, optional
        Cache; None disables caching.
    retries : int, default 3
        Further attempts for rate-limited tickers.
    backoff : float, default 2.0
        Seconds before the first retry; doubled on each further one.
    download : callable, optional
        Stand-in for ``yfinance.download`` (tests pass frames shaped like its output).
    sleep : callable, optional
        Stand-in for ``time.sleep``.
    """

    name = "yahoo"
    #: Most tickers asked of Yahoo in one request (progress advances per request).
    batch_size = 25

    def __init__(self, store: PriceStore | None = None, *, retries: int = 3,
                 backoff: float = 2.0, download: Downloader | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.retries = retries
        self.backoff = backoff
        self._download = download
        self._sleep = sleep

    def _call(self, tickers: list[str], start: pd.Timestamp,
              end: pd.Timestamp) -> tuple[pd.DataFrame | None, dict[str, str]]:
        capture = _CaptureErrors()
        yf_log = logging.getLogger("yfinance")
        yf_log.addHandler(capture)
        try:
            if self._download is not None:
                download = self._download
            else:
                import yfinance as yf

                download = yf.download
            kwargs: dict[str, Any] = dict(start=start.strftime("%Y-%m-%d"),
                                          end=(end + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                                          auto_adjust=False, actions=False, progress=False,
                                          multi_level_index=True, threads=True)
            try:
                data = download(tickers, **kwargs)
            except Exception as exc:  # yfinance raises only for whole-request failures
                return None, {t.upper(): f"{type(exc).__name__}: {exc}" for t in tickers}
        finally:
            yf_log.removeHandler(capture)
        return data, capture.errors

    def download(self, tickers: Sequence[str], start: pd.Timestamp,
                 end: pd.Timestamp) -> PriceFetch:
        """Download ``tickers`` from Yahoo (no cache), retrying rate limits.

        Returns
        -------
        PriceFetch
            Frames of the tickers that came back; failures with Yahoo's reason.
        """
        pending = list(dict.fromkeys(tickers))
        frames: dict[str, pd.DataFrame] = {}
        failures: dict[str, str] = {}
        for attempt in range(self.retries + 1):
            data, errors = self._call(pending, pd.Timestamp(start), pd.Timestamp(end))
            got, missing = frames_from_download(data, pending)
            frames.update(got)
            limited = [t for t in missing if _RATE_LIMIT.search(errors.get(t.upper(), ""))]
            for t in missing:
                if t not in limited or attempt == self.retries:
                    reason = errors.get(t.upper(), "Yahoo returned no prices (unknown or "
                                                   "delisted ticker, or no data in the span)")
                    failures[t] = reason + (f" (after {attempt + 1} attempts)" if t in limited
                                            else "")
            pending = limited
            if not pending or attempt == self.retries:
                break
            delay = self.backoff * 2**attempt
            log.warning("Yahoo rate limit for %s; retrying in %.1fs", ", ".join(pending), delay)
            self._sleep(delay)
        return PriceFetch(frames, failures)

    def fetch(self, tickers: Sequence[str], start: pd.Timestamp | None = None,
              end: pd.Timestamp | None = None) -> PriceFetch:
        """Prices of ``tickers`` between ``start`` and ``end``, from the cache where it has them.

        Only the part of the span not fetched before is downloaded; the cache is
        updated atomically with the merged frame. Failed tickers leave the cache untouched.
        """
        start = pd.Timestamp(start) if start is not None else pd.Timestamp("1990-01-01")
        end = (pd.Timestamp(end) if end is not None
               else pd.Timestamp.today().normalize())
        frames: dict[str, pd.DataFrame] = {}
        failures: dict[str, str] = {}
        wanted = list(dict.fromkeys(tickers))
        cached: dict[str, Any] = {}
        if self.store is not None:
            for t in wanted:
                try:
                    cached[t] = self.store.read(t)
                except Exception as exc:  # damaged entry: refetch it whole
                    log.warning("cache entry for %s unreadable (%s); refetching", t, exc)
                    cached[t] = None
        # Group tickers by the span they still need, to download them together.
        needs: dict[tuple[pd.Timestamp, pd.Timestamp], list[str]] = {}
        for t in wanted:
            hit = cached.get(t)
            if hit is not None and hit.fetched_start <= start and hit.fetched_end >= end:
                continue
            lo = start if hit is None or start < hit.fetched_start else hit.fetched_end
            hi = end if hit is None or end > hit.fetched_end else hit.fetched_start
            if hit is not None and start < hit.fetched_start and end > hit.fetched_end:
                lo, hi = start, end
            needs.setdefault((lo, hi), []).append(t)
        batches = [(span, group[k:k + self.batch_size]) for span, group in needs.items()
                   for k in range(0, len(group), self.batch_size)]
        for (lo, hi), group in track(batches, "Downloading prices from Yahoo",
                                     total=sum(len(g) for _, g in batches),
                                     size=lambda item: len(item[1])):
            got = self.download(group, lo, hi)
            failures.update(got.failures)
            for t, frame in got.frames.items():
                hit = cached.get(t)
                merged = frame
                fetched_start, fetched_end = lo, hi
                if hit is not None:
                    merged = pd.concat([hit.frame.loc[~hit.frame.index.isin(frame.index)], frame])
                    merged = merged.sort_index()
                    fetched_start = min(lo, hit.fetched_start)
                    fetched_end = max(hi, hit.fetched_end)
                if self.store is not None:
                    with self.store.lock(t):
                        self.store.write(t, merged, fetched_start, fetched_end)
                cached[t] = None
                frames[t] = merged
        for t in wanted:
            if t in failures or t in frames:
                continue
            hit = cached.get(t)
            if hit is not None:
                frames[t] = hit.frame
        out = {t: f.loc[(f.index >= start) & (f.index <= end)] for t, f in frames.items()}
        for t in list(out):
            if t in failures and not out[t].empty:
                # Part of the span failed but cached data covers the rest: keep it, say so.
                log.warning("%s: %s; using cached prices", t, failures.pop(t))
        return PriceFetch(out, failures)
