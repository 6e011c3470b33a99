"""A local Parquet cache of daily prices.

One file per ticker (``<cache>/<namespace>/<TICKER>.parquet``) holding a
standard price frame and, in the Parquet metadata, the span already asked of
the source (so a stock that listed late is not asked again for years it did
not trade). Writes go to a temporary file in the same folder, are flushed to
disk and renamed over the old file, under a per-ticker file lock: a crash
mid-write leaves the previous version readable and two processes writing one
ticker cannot interleave. :meth:`PriceStore.merge` re-reads the entry under the
lock before merging, so that concurrent updates of one ticker are not lost, and
:meth:`PriceStore.verify` checks every entry.

Imports: the ground floor and :mod:`marketreact.prices.frames` only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from marketreact._atomic import atomic_open
from marketreact._textio import check_regular_file
from marketreact._typing import StrPath
from marketreact.prices.frames import PRICE_COLUMNS, standard_frame

_META_KEY = b"marketreact"
_TEMP_GLOB = ".*.parquet.*.tmp"
log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Return the user's cache folder for marketreact (platformdirs)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("marketreact"))


#: Largest cache entry read (one ticker's daily prices take well under 1 MB).
MAX_ENTRY_BYTES = 256 * 1024**2


def _safe_name(ticker: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-_" else f"%{ord(ch):02X}" for ch in ticker)


def _read_table(path: Path) -> pa.Table:
    """Read a Parquet file through ONE open handle.

    Given a path, pyarrow may open the file more than once (footer, then
    pages); a writer replacing the file in between would mix two versions.
    One handle keeps reading the version it opened.
    """
    # a FIFO, a device (a symlink to /dev/zero) or an outsized file is refused unread
    size = check_regular_file(path, "cache entry", max_bytes=MAX_ENTRY_BYTES)
    with open(path, "rb") as fh:
        raw = fh.read(size + 1)
    if len(raw) > size:
        raise OSError(f"{path}: changed size while read")
    return pq.read_table(pa.BufferReader(raw))


@dataclass(frozen=True)
class CacheCheck:
    """The state of one cache file.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    ticker : str or None
        The ticker it holds (from its metadata, else its name).
    status : str
        ``ok``, ``damaged`` (unreadable or inconsistent: it will be fetched
        again) or ``stale`` (a temporary file left by an interrupted write).
    problem : str
        What is wrong (empty when ``ok``).
    rows : int
        Rows of prices (0 when unreadable).
    first, last : pandas.Timestamp or None
        First and last date held.
    """

    path: Path
    ticker: str | None
    status: str
    problem: str = ""
    rows: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None


@dataclass(frozen=True)
class CachedPrices:
    """A cached price frame with the span already fetched from the source."""

    frame: pd.DataFrame
    fetched_start: pd.Timestamp
    fetched_end: pd.Timestamp


class PriceStore:
    """Parquet cache of standard price frames.

    Parameters
    ----------
    root : str or path-like, optional
        Cache folder; the platform's user cache folder by default.
    namespace : str, default "yahoo"
        Sub-folder, one per source.
    """

    def __init__(self, root: StrPath | None = None, namespace: str = "yahoo") -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.folder = self.root / namespace

    def path(self, ticker: str) -> Path:
        """File that holds ``ticker``."""
        return self.folder / f"{_safe_name(ticker.upper())}.parquet"

    def lock(self, ticker: str) -> FileLock:
        """Inter-process lock guarding writes of ``ticker``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.path(ticker)) + ".lock", timeout=120)

    def tickers(self) -> list[str]:
        """Tickers present in the cache."""
        if not self.folder.is_dir():
            return []
        out = []
        for p in sorted(self.folder.glob("*.parquet")):
            try:
                meta = self._meta(p)
            except Exception:  # a damaged entry (see verify)
                meta = {}
            out.append(meta.get("ticker", p.stem) if meta else p.stem)
        return out

    @staticmethod
    def _meta(path: Path) -> dict[str, str]:
        schema = _read_table(path).schema
        raw = (schema.metadata or {}).get(_META_KEY)
        return json.loads(raw) if raw else {}

    def read(self, ticker: str) -> CachedPrices | None:
        """Return the cached prices of ``ticker``, or None when not cached.

        Raises
        ------
        OSError, pyarrow.ArrowInvalid
            When the file exists but cannot be read (a damaged entry).
        """
        path = self.path(ticker)
        if not path.exists() and not path.is_symlink():
            return None
        table = _read_table(path)
        meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
        frame = table.to_pandas()
        frame = standard_frame(frame.set_index("date"))
        return CachedPrices(frame, pd.Timestamp(meta["fetched_start"]),
                            pd.Timestamp(meta["fetched_end"]))

    def write(self, ticker: str, frame: pd.DataFrame, fetched_start: pd.Timestamp,
              fetched_end: pd.Timestamp) -> Path:
        """Atomically replace the cached prices of ``ticker``.

        The caller should hold :meth:`lock` when merging with what was there.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        frame = standard_frame(frame)
        table = pa.Table.from_pandas(frame.reset_index()[["date", *PRICE_COLUMNS]],
                                     preserve_index=False)
        meta = {"ticker": ticker.upper(), "fetched_start": str(pd.Timestamp(fetched_start).date()),
                "fetched_end": str(pd.Timestamp(fetched_end).date()), "format": "1"}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               _META_KEY: json.dumps(meta).encode()})
        target = self.path(ticker)
        with atomic_open(target, "wb") as fh:
            pq.write_table(table, fh)
        return target

    def merge(self, ticker: str, frame: pd.DataFrame, fetched_start: pd.Timestamp,
              fetched_end: pd.Timestamp) -> CachedPrices:
        """Merge freshly fetched prices into the cache entry of ``ticker``, under its lock.

        The entry is read again once the lock is held, so that what another
        process wrote meanwhile is kept. Rows of ``frame`` replace cached rows of
        the same date. When the cached span and the new one neither overlap nor
        touch, or the entry is damaged, the new data replace the entry (a span
        is never claimed as fetched when it was not).

        Returns
        -------
        CachedPrices
            What the entry holds now.
        """
        lo, hi = pd.Timestamp(fetched_start).normalize(), pd.Timestamp(fetched_end).normalize()
        frame = standard_frame(frame)
        with self.lock(ticker):
            try:
                current = self.read(ticker)
            except Exception as exc:  # damaged entry: replaced below
                log.warning("cache entry for %s is damaged (%s); replacing it", ticker, exc)
                current = None
            if current is not None and (current.fetched_start <= hi + pd.Timedelta(days=1)
                                        and lo <= current.fetched_end + pd.Timedelta(days=1)):
                old = current.frame.loc[~current.frame.index.isin(frame.index)]
                frame = pd.concat([old, frame]).sort_index()
                lo, hi = min(lo, current.fetched_start), max(hi, current.fetched_end)
            self.write(ticker, frame, lo, hi)
        return CachedPrices(frame, lo, hi)

    def verify(self, *, remove_damaged: bool = False) -> list[CacheCheck]:
        """Check every entry of the cache (and leftovers of interrupted writes).

        An entry is damaged when it cannot be read as Parquet, lacks
        marketreact's metadata, has other columns, holds another ticker than
        its name says, has dates that are not unique and ascending or lie
        outside its fetched span, or has prices that are negative or not finite.

        Parameters
        ----------
        remove_damaged : bool, default False
            Delete damaged entries (they are fetched again when next needed) and
            temporary files no writer holds the lock of.

        Returns
        -------
        list of CacheCheck
            One per file, damaged ones first.
        """
        if not self.folder.is_dir():
            return []
        checks = [self._check(p) for p in sorted(self.folder.glob("*.parquet"))]
        for tmp in sorted(self.folder.glob(_TEMP_GLOB)):
            name = tmp.name[1:].split(".parquet.", 1)[0]
            checks.append(CacheCheck(tmp, name, "stale",
                                     "temporary file left by an interrupted write"))
        if remove_damaged:
            for check in checks:
                if check.status == "ok":
                    continue
                stem = check.path.name.lstrip(".").split(".parquet")[0]
                lock = FileLock(str(self.folder / f"{stem}.parquet.lock"), timeout=0)
                try:
                    with lock:
                        check.path.unlink(missing_ok=True)
                except Timeout:  # a writer is busy with this ticker: leave it alone
                    log.warning("%s is locked by a writer; not removed", check.path)
        order = {"damaged": 0, "stale": 1, "ok": 2}
        return sorted(checks, key=lambda c: (order[c.status], str(c.path)))

    def _check(self, path: Path) -> CacheCheck:
        def damaged(problem: str, ticker: str | None = None, rows: int = 0) -> CacheCheck:
            return CacheCheck(path, ticker or path.stem, "damaged", problem, rows)

        try:
            table = _read_table(path)
        except Exception as exc:
            return damaged(f"cannot be read as Parquet ({type(exc).__name__}: {exc})")
        raw = (table.schema.metadata or {}).get(_META_KEY)
        try:
            meta = json.loads(raw) if raw else None
            ticker = meta["ticker"] if meta else None
            start = pd.Timestamp(meta["fetched_start"]) if meta else None
            end = pd.Timestamp(meta["fetched_end"]) if meta else None
        except (ValueError, KeyError, TypeError) as exc:
            return damaged(f"metadata cannot be read ({type(exc).__name__}: {exc})")
        if meta is None or start is None or end is None or ticker is None:
            return damaged("no marketreact metadata (ticker and fetched span)")
        rows = table.num_rows
        if table.column_names != ["date", *PRICE_COLUMNS]:
            return damaged(f"columns are {table.column_names}", ticker, rows)
        if f"{_safe_name(str(ticker).upper())}.parquet" != path.name:
            return damaged(f"holds {ticker!r}, not the ticker its name says", ticker, rows)
        try:
            frame = table.to_pandas()
            dates = pd.DatetimeIndex(frame["date"])
            values = frame[list(PRICE_COLUMNS)].to_numpy(dtype=float)
        except Exception as exc:
            return damaged(f"values cannot be read ({type(exc).__name__}: {exc})", ticker, rows)
        if start > end:
            return damaged(f"fetched span is inverted ({start.date()} > {end.date()})", ticker,
                           rows)
        if not dates.is_unique or not dates.is_monotonic_increasing:
            return damaged("dates are not unique and ascending", ticker, rows)
        if rows and (dates.min() < start or dates.max() > end):
            return damaged(f"dates {dates.min().date()}..{dates.max().date()} lie outside the "
                           f"fetched span {start.date()}..{end.date()}", ticker, rows)
        if np.isinf(values).any():
            return damaged("infinite values", ticker, rows)
        if (values[:, :5] < 0).any() or (values[:, 5] < 0).any():
            return damaged("negative prices or volume", ticker, rows)
        return CacheCheck(path, str(ticker), "ok", "", rows,
                          dates.min() if rows else None, dates.max() if rows else None)
