"""An offline stand-in for Yahoo's HTTP API, served through curl_cffi.

Patching ``curl_cffi.requests.Session.request`` runs the real yfinance code (cookie and
crumb, time-zone lookup, chart download, its error handling and logging) against canned
chart JSON. Each ticker has a script of behaviours, one per chart request, the last one
repeating: ``ok``, ``ratelimit`` (HTTP 429), ``dns`` / ``connect`` / ``timeout`` (curl_cffi
exceptions), ``missing`` (Yahoo's 404 "No data found, symbol may be delisted"), ``empty``
(a chart without rows), ``down`` (Yahoo's "Will be right back" page), ``http500``.

The JSON follows the v8 chart format (``chart.result[0]`` with ``meta``, ``timestamp``,
``indicators.quote`` and ``indicators.adjclose``), with daily bars stamped at the session
open in UTC, as Yahoo does.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
from curl_cffi import requests as curl_requests
from curl_cffi.requests import exceptions as curl_exc
from curl_cffi.requests.models import Response

JAKARTA_OFFSET = 7 * 3600  # WIB, no daylight saving


def synthetic_prices(start: str = "2023-01-02", periods: int = 120, seed: int = 0,
                     level: float = 1000.0) -> pd.DataFrame:
    """Daily bars on weekdays: the canned data the fake serves (and tests compare with)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=periods)
    close = np.round(level * np.cumprod(1 + rng.normal(0, 0.01, periods)), 2)
    frame = pd.DataFrame({
        "open": close * 0.99, "high": close * 1.01, "low": close * 0.98, "close": close,
        "adj_close": np.round(close * 0.97, 4), "volume": rng.integers(1_000, 1_000_000, periods)
        .astype(float)}, index=dates)
    frame.index.name = "date"
    return frame


def _response(url: str, status: int, body: bytes | str,
              content_type: str = "application/json") -> Response:
    r = Response()
    r.url = url
    r.status_code = status
    r.ok = status < 400
    r.reason = "OK" if status < 400 else "Error"
    r.content = body.encode() if isinstance(body, str) else body
    r.headers["content-type"] = content_type
    return r


def _chart_json(symbol: str, frame: pd.DataFrame) -> dict[str, Any]:
    ts = [int((d - pd.Timestamp("1970-01-01")).total_seconds()) + 9 * 3600 - JAKARTA_OFFSET
          for d in frame.index]
    period = {"timezone": "WIB", "start": ts[-1] if ts else 0, "end": ts[-1] if ts else 0,
              "gmtoffset": JAKARTA_OFFSET}
    meta = {
        "currency": "IDR", "symbol": symbol, "exchangeName": "JKT",
        "fullExchangeName": "Jakarta", "instrumentType": "EQUITY",
        "firstTradeDate": ts[0] if ts else 0, "regularMarketTime": ts[-1] if ts else 0,
        "hasPrePostMarketData": False, "gmtoffset": JAKARTA_OFFSET, "timezone": "WIB",
        "exchangeTimezoneName": "Asia/Jakarta",
        "regularMarketPrice": float(frame["close"].iloc[-1]) if len(frame) else None,
        "chartPreviousClose": float(frame["close"].iloc[0]) if len(frame) else None,
        "priceHint": 2,
        "currentTradingPeriod": {"pre": period, "regular": period, "post": period},
        "dataGranularity": "1d", "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    result: dict[str, Any] = {"meta": meta}
    if len(frame):
        result["timestamp"] = ts
        result["indicators"] = {
            "quote": [{c: frame[c].tolist() for c in ("open", "high", "low", "close", "volume")}],
            "adjclose": [{"adjclose": frame["adj_close"].tolist()}],
        }
    else:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    return {"chart": {"result": [result], "error": None}}


_MISSING = {"chart": {"result": None, "error": {
    "code": "Not Found", "description": "No data found, symbol may be delisted"}}}


@dataclass
class FakeYahoo:
    """Canned prices and a script of faults per ticker."""

    prices: dict[str, pd.DataFrame] = field(default_factory=dict)
    scripts: dict[str, list[str]] = field(default_factory=dict)
    chart_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    log: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def behaviour(self, symbol: str) -> str:
        with self.lock:
            n = self.chart_calls[symbol]
            self.chart_calls[symbol] += 1
        script = self.scripts.get(symbol, ["ok"])
        return script[min(n, len(script) - 1)]

    def handle(self, method: str, url: str, params: dict[str, Any] | None) -> Response:
        params = dict(params or {})
        with self.lock:
            self.log.append((method, url))
        if "fc.yahoo.com" in url:
            return _response(url, 404, "<html>not here</html>", "text/html")
        if "getcrumb" in url:
            return _response(url, 200, "fake-crumb", "text/plain")
        if "quoteSummary" in url:  # yfinance asks here for a time zone it could not find
            symbol = unquote(url.rsplit("/", 1)[-1].split("?")[0])
            return _response(url, 404, json.dumps({"quoteSummary": {"result": None, "error": {
                "code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}}}))
        if "/v8/finance/chart/" not in url:
            return _response(url, 404, json.dumps({"finance": {"result": None, "error": {
                "code": "Not Found", "description": "Quote not found for symbol"}}}))
        symbol = unquote(url.rsplit("/", 1)[-1].split("?")[0])
        what = self.behaviour(symbol)
        if what == "ratelimit":
            return _response(url, 429, "Too Many Requests", "text/plain")
        if what == "dns":
            raise curl_exc.DNSError(f"Failed to perform, curl: (6) Could not resolve host: "
                                    f"query2.finance.yahoo.com ({symbol})")
        if what == "connect":
            raise curl_exc.ConnectionError("Failed to perform, curl: (7) Failed to connect to "
                                           "query2.finance.yahoo.com port 443")
        if what == "timeout":
            raise curl_exc.Timeout("Failed to perform, curl: (28) Operation timed out")
        if what == "down":
            return _response(url, 200, "<html>Will be right back</html>", "text/html")
        if what == "http500":
            return _response(url, 500, "Internal Server Error", "text/plain")
        if what == "missing" or symbol not in self.prices:
            return _response(url, 404, json.dumps(_MISSING))
        frame = self.prices[symbol]
        if what == "empty":
            frame = frame.iloc[:0]
        if "period1" in params:
            lo = pd.Timestamp(int(params["period1"]), unit="s") + pd.Timedelta(hours=7)
            hi = pd.Timestamp(int(params["period2"]), unit="s") + pd.Timedelta(hours=7)
            frame = frame.loc[(frame.index >= lo.normalize()) & (frame.index < hi)]
        elif params.get("range") == "1d":
            frame = frame.iloc[-1:]
        return _response(url, 200, json.dumps(_chart_json(symbol, frame)))

    @contextmanager
    def serving(self) -> Iterator[FakeYahoo]:
        """Patch curl_cffi so every yfinance request is answered here."""
        fake = self

        def request(session: Any, method: str, url: str, params: Any = None,
                    **kwargs: Any) -> Response:
            return fake.handle(method, url, params)

        original = curl_requests.Session.request
        curl_requests.Session.request = request  # type: ignore[method-assign]
        try:
            yield self
        finally:
            curl_requests.Session.request = original  # type: ignore[method-assign]
