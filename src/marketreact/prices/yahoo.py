"""Yahoo Finance prices through yfinance, with a local cache.

Facts about yfinance 1.x this adapter relies on (checked on 1.7):

* ``yf.download`` returns two-level columns (``Price``, ``Ticker``) even for
  one ticker; with ``auto_adjust=False`` the ``Adj Close`` column is kept.
* ``end`` is exclusive; the daily index is tz-naive exchange-local midnight.
* A bad ticker never raises: its columns are all-NaN (or the frame has no rows
  when every ticker failed) and the error is only logged on the ``yfinance``
  logger, e.g. ``['XYZ']: YFRateLimitError('Too Many Requests...')``. A
  network error while looking up the ticker's time zone (DNS, refused
  connection, time-out from curl_cffi) is logged as ``Failed to get ticker
  'XYZ' reason: ...`` and then summarised as ``possibly delisted; no timezone
  found``: the first line holds the real reason.
* yfinance memoises GET answers for past spans in the process, error pages
  included: they are forgotten before each retry.

So failures are detected from the data (all-NaN columns) and their reasons
read from the log. Rate limits and transient network faults (see
:func:`classify_failure`) are retried with exponential backoff; other failures
(unknown or delisted tickers, no data in the span) are not.

Without a network every request fails to resolve or reach Yahoo's host (curl
errors 6 and 7). With ``offline_after`` set (the command line sets 1), an
attempt in which every ticker failed that way, before any ticker ever came back,
declares the network down: the source stops retrying, fails every other ticker at once with
the same one reason (``no network: cannot reach Yahoo Finance (...)``, without
yfinance's misleading "possibly delisted"), and asks Yahoo nothing more.

Each ticker that still fails is reported with its reason. Only frames that came back with prices
are written to the cache, merged under the ticker's lock: nothing from a failed
fetch reaches it.

Imports: the ground floor and the other ``prices`` modules (frames, store) only;
yfinance is imported when a download is made.
"""

from __future__ import annotations

import ast
import logging
import re
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from marketreact.prices.frames import PriceFetch, standard_frame
from marketreact.prices.store import CachedPrices, PriceStore
from marketreact.progress import track

log = logging.getLogger(__name__)

_YF_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
               "Adj Close": "adj_close", "Volume": "volume"}
_ERROR_LINE = re.compile(r"^(\[.*?\]):\s*(.*)$", re.DOTALL)
_TICKER_LINE = re.compile(r"^Failed to get ticker '([^']+)' reason:\s*(.*)$", re.DOTALL)
_RATE_LIMIT = re.compile(r"rate ?limit|too many requests|\b429\b", re.IGNORECASE)
_TRANSIENT = re.compile(
    r"resolve host|DNSError|ConnectionError|failed to connect|connection (?:reset|refused|"
    r"aborted|closed)|timed? ?out|Timeout|curl: \((?:5|6|7|28|35|52|55|56)\)|SSLError|"
    r"will be right back|currently down|HTTP Error 5\d\d|\b50[0234]\b|Internal Server Error|"
    r"Bad Gateway|Service Unavailable|Expecting value|JSONDecodeError", re.IGNORECASE)
#: A host that cannot be resolved or reached: the machine is offline (or Yahoo unreachable).
_UNREACHABLE = re.compile(
    r"resolve host|DNSError|curl: \((?:6|7)\)|failed to connect|connection refused|"
    r"Name or service not known|Temporary failure in name resolution|Network is unreachable|"
    r"No address associated", re.IGNORECASE)
_CURL_MESSAGE = re.compile(r"curl: \(\d+\)[^()\n]*")
#: How every failure reads once the network is found down.
NO_NETWORK = "no network: cannot reach Yahoo Finance"
_NO_DATA = ("Yahoo returned no prices (unknown or delisted ticker, or no data in the span)")

Downloader = Callable[..., pd.DataFrame]


def classify_failure(reason: str) -> str:
    """Sort a failure reason into ``rate-limit``, ``transient`` or ``permanent``.

    Rate limits (HTTP 429, ``YFRateLimitError``) and transient faults (DNS,
    refused or reset connections, time-outs, Yahoo being down, HTTP 5xx, an
    answer that is not JSON) are worth retrying; anything else (unknown or
    delisted ticker, no data: Yahoo says so in JSON) is not.
    """
    if _RATE_LIMIT.search(reason):
        return "rate-limit"
    if _TRANSIENT.search(reason):
        return "transient"
    return "permanent"


def no_network_reason(reason: str) -> str:
    """The one line said for every ticker when Yahoo cannot be reached.

    The curl message (``curl: (6) Could not resolve host: ...``) is kept; yfinance's
    "possibly delisted; no timezone found" around it is dropped.
    """
    found = _CURL_MESSAGE.search(reason)
    detail = found.group().strip() if found else reason.rsplit(": ", 1)[-1].strip()
    return f"{NO_NETWORK} ({detail})" if detail else NO_NETWORK


def _forget_yfinance_responses() -> None:
    """Drop the answers yfinance memoised in this process before a retry.

    yfinance 1.7 memoises GET answers for past spans (``YfData.cache_get``, an
    ``lru_cache``), including an error page such as Yahoo's "Will be right
    back", which would make every retry fail the same way.
    """
    try:
        from yfinance.data import YfData

        YfData.cache_get.cache_clear()
    except (ImportError, AttributeError):  # another yfinance: nothing to forget
        pass


class _CaptureErrors(logging.Handler):
    """Collect per-ticker error messages that yfinance logs instead of raising."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: dict[str, str] = {}
        self.details: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        detail = _TICKER_LINE.match(message)
        if detail:
            self.details[detail.group(1).upper()] = detail.group(2).strip()
            return
        match = _ERROR_LINE.match(message)
        if not match:
            return
        try:
            tickers = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return
        for ticker in tickers:
            self.errors[str(ticker).upper()] = match.group(2).strip()

    def reason(self, ticker: str) -> str | None:
        """Return the most telling reason logged for ``ticker`` (the network error, if any)."""
        key = ticker.upper()
        summary, detail = self.errors.get(key), self.details.get(key)
        if detail and (summary is None or classify_failure(summary) == "permanent"):
            return f"{summary}: {detail}" if summary else detail
        return summary


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
        Standard frames of the tickers that returned data (rows without a
        price dropped, dates unique and ascending).
    missing : list of str
        Tickers with no data at all (all-NaN columns, absent, or no rows).
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
        frame = standard_frame(sub)
        priced = np.isfinite(frame["close"].to_numpy()) | np.isfinite(frame["adj_close"]
                                                                      .to_numpy())
        frame = frame.loc[priced]
        frame = frame.loc[~frame.index.duplicated(keep="last")].sort_index()
        frames[ticker] = frame
    return frames, missing


class YahooSource:
    """Daily prices from Yahoo Finance, cached locally.

    Parameters
    ----------
    store : PriceStore, optional
        Cache; None disables caching.
    retries : int, default 3
        Further attempts for tickers that hit a rate limit or a transient
        network fault.
    backoff : float, default 2.0
        Seconds before the first retry; doubled on each further one.
    max_backoff : float, default 60.0
        Longest wait between attempts.
    download : callable, optional
        Stand-in for ``yfinance.download`` (tests pass frames shaped like its output).
    sleep : callable, optional
        Stand-in for ``time.sleep`` (looked up when needed by default).
    offline_after : int, optional
        Declare the network down after this many attempts in a row in which every
        ticker failed to reach Yahoo (DNS failure, refused connection) and none came
        back; then stop retrying and fail every ticker still asked for with one reason
        (:attr:`offline`). None (the default) never does: such faults are retried.

    Attributes
    ----------
    offline : str or None
        Why the network was declared down (the same for every ticker), once it was.
    """

    name = "yahoo"
    #: Most tickers asked of Yahoo in one request (progress advances per request).
    batch_size = 25

    def __init__(self, store: PriceStore | None = None, *, retries: int = 3,
                 backoff: float = 2.0, max_backoff: float = 60.0,
                 download: Downloader | None = None,
                 sleep: Callable[[float], None] | None = None,
                 offline_after: int | None = None) -> None:
        self.store = store
        self.offline_after = offline_after
        self.offline: str | None = None
        self._reached = False  # some ticker came back: Yahoo is reachable, faults are not
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._download = download
        self._sleep = sleep

    def _call(self, tickers: list[str], start: pd.Timestamp,
              end: pd.Timestamp) -> tuple[pd.DataFrame | None, dict[str, str]]:
        capture = _CaptureErrors()
        yf_log = logging.getLogger("yfinance")
        yf_log.addHandler(capture)
        propagate = yf_log.propagate
        yf_log.propagate = False  # its errors come back as per-ticker failures instead
        quiet = warnings.catch_warnings()
        quiet.__enter__()
        # pandas deprecation warnings raised inside yfinance are not the user's business
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"yfinance")
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
            quiet.__exit__(None, None, None)
            yf_log.removeHandler(capture)
            yf_log.propagate = propagate
        reasons = {t.upper(): why for t in tickers if (why := capture.reason(t)) is not None}
        for t, why in reasons.items():
            log.debug("yfinance: %s: %s", t, why)
        return data, reasons

    def download(self, tickers: Sequence[str], start: pd.Timestamp,
                 end: pd.Timestamp) -> PriceFetch:
        """Download ``tickers`` from Yahoo (no cache), retrying rate limits and network faults.

        Returns
        -------
        PriceFetch
            Frames of the tickers that came back; failures with Yahoo's reason
            (and the number of attempts, when retried).
        """
        pending = list(dict.fromkeys(tickers))
        frames: dict[str, pd.DataFrame] = {}
        failures: dict[str, str] = {}
        if self.offline is not None:  # found down before: ask nothing more
            return PriceFetch({}, dict.fromkeys(pending, self.offline))
        unreachable = 0
        for attempt in range(self.retries + 1):
            try:
                data, errors = self._call(pending, pd.Timestamp(start), pd.Timestamp(end))
                got, missing = frames_from_download(data, pending)
            except Exception as exc:  # a malformed answer: the whole batch failed this time
                log.warning("Yahoo download failed (%s: %s)", type(exc).__name__, exc)
                got, missing = {}, list(pending)
                errors = {t.upper(): f"unreadable answer from Yahoo ({type(exc).__name__}: "
                                     f"{exc})" for t in pending}
            frames.update(got)
            self._reached = self._reached or bool(got)
            if (self.offline_after is not None and not self._reached and missing
                    and all(_UNREACHABLE.search(errors.get(t.upper(), "")) for t in missing)):
                unreachable += 1
                if unreachable >= self.offline_after:
                    self.offline = no_network_reason(errors[missing[0].upper()])
                    failures.update(dict.fromkeys(missing, self.offline))
                    log.info("%s", self.offline)
                    break
            else:
                unreachable = 0
            retry = []
            for t in missing:
                reason = errors.get(t.upper(), _NO_DATA)
                kind = classify_failure(reason)
                if kind != "permanent" and attempt < self.retries:
                    retry.append(t)
                    continue
                label = {"rate-limit": "Yahoo rate limit", "transient": "network fault"}
                failures[t] = (f"{label[kind]}: {reason} (gave up after {attempt + 1} attempts)"
                               if kind != "permanent" else reason)
            pending = retry
            if not pending:
                break
            delay = min(self.backoff * 2**attempt, self.max_backoff)
            kinds = sorted({classify_failure(errors.get(t.upper(), "")) for t in pending})
            log.warning("Yahoo: %s (%s); retrying in %.1fs (attempt %d of %d)",
                        ", ".join(pending), " / ".join(kinds), delay, attempt + 2,
                        self.retries + 1)
            (time.sleep if self._sleep is None else self._sleep)(delay)
            if self._download is None:
                _forget_yfinance_responses()
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
        cached: dict[str, CachedPrices | None] = {}
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
                merged: pd.DataFrame | None = None
                if self.store is not None:
                    try:
                        merged = self.store.merge(t, frame, lo, hi).frame
                    except Exception as exc:  # a cache that cannot be written is no failure
                        log.warning("could not write the cache entry for %s (%s: %s)", t,
                                    type(exc).__name__, exc)
                if merged is None:
                    hit = cached.get(t)
                    merged = frame if hit is None else pd.concat(
                        [hit.frame.loc[~hit.frame.index.isin(frame.index)], frame]).sort_index()
                cached[t] = None
                frames[t] = merged
        for t in wanted:
            if t in failures or t in frames:
                continue
            hit = cached.get(t)
            if hit is not None:
                frames[t] = hit.frame
        out = {t: f.loc[(f.index >= start) & (f.index <= end)] for t, f in frames.items()}
        for t in list(failures):
            hit = cached.get(t)
            if t not in out and hit is not None:
                part = hit.frame.loc[(hit.frame.index >= start) & (hit.frame.index <= end)]
                if not part.empty:
                    # Part of the span failed but cached data covers the rest: keep it, say so.
                    log.warning("%s: %s; using cached prices", t, failures.pop(t))
                    out[t] = part
        return PriceFetch(out, failures)
