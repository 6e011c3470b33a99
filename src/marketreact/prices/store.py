"""A local Parquet cache of daily prices.

One file per ticker (``<cache>/<namespace>/<TICKER>.parquet``) holding a
standard price frame and, in the Parquet metadata, the span already asked of
the source (so a stock that listed late is not asked again for years it did
not trade). Writes go to a temporary file in the same folder, are flushed to
disk and renamed over the old file, under a per-ticker file lock: a crash
mid-write leaves the previous version readable and two processes writing one
ticker cannot interleave.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock

from marketreact._typing import StrPath
from marketreact.prices.frames import PRICE_COLUMNS, standard_frame

_META_KEY = b"marketreact"


def default_cache_dir() -> Path:
    """Return the user's cache folder for marketreact (platformdirs)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("marketreact"))


def _safe_name(ticker: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-_" else f"%{ord(ch):02X}" for ch in ticker)


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
            meta = self._meta(p)
            out.append(meta.get("ticker", p.stem) if meta else p.stem)
        return out

    @staticmethod
    def _meta(path: Path) -> dict[str, str]:
        schema = pq.read_schema(path)
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
        if not path.exists():
            return None
        table = pq.read_table(path)
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
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
