"""The one HTTP function of the news fetchers, and bounded retries around any fetch.

:func:`http_get` is the only place a news fetcher touches the network (tests patch it).
:func:`with_retries` runs a fetch-and-parse step again after a network fault, a rate
limit (HTTP 429, honouring ``Retry-After`` up to a cap), a server error (5xx) or an empty
or malformed answer, at most ``retries`` times in all, and then raises one
:class:`FetchError` whose message is the one line printed for that ticker.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import TypeVar

from marketreact.errors import DataSourceError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds one request may take.
TIMEOUT = 30.0


class HttpStatusError(Exception):
    """A non-2xx HTTP answer.

    Attributes
    ----------
    status : int
        The HTTP status code.
    retry_after : float or None
        Seconds the server asked to wait (``Retry-After`` in seconds), if any.
    """

    def __init__(self, status: int, reason: str = "", retry_after: float | None = None) -> None:
        self.status = int(status)
        self.retry_after = retry_after
        super().__init__(f"HTTP {self.status}{' ' + reason if reason else ''}")


class MalformedResponseError(ValueError):
    """An answer that is empty or cannot be read as what was asked for."""


class FetchError(DataSourceError):
    """A fetch that failed for good (after its retries); the message is one line."""


def http_get(url: str, headers: Mapping[str, str] | None = None,
             timeout: float = TIMEOUT) -> bytes:
    """GET ``url`` and return the body.

    Parameters
    ----------
    url : str
        An ``http(s)`` URL.
    headers : mapping, optional
        Request headers (e.g. the ``User-Agent`` the SEC requires).
    timeout : float
        Seconds before the request is abandoned.

    Returns
    -------
    bytes
        The body of a 2xx answer.

    Raises
    ------
    HttpStatusError
        For any other status.
    OSError
        For network faults (DNS, refused or reset connections, time-outs).
    """
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        wait = exc.headers.get("Retry-After") if exc.headers else None
        try:
            retry_after = float(wait) if wait is not None else None
        except ValueError:  # an HTTP date: not worth parsing, the backoff applies
            retry_after = None
        raise HttpStatusError(exc.code, str(exc.reason or ""), retry_after) from None


def classify(exc: BaseException) -> str:
    """Sort a fetch failure into ``rate-limit``, ``transient`` or ``permanent``."""
    if isinstance(exc, HttpStatusError):
        if exc.status == 429:
            return "rate-limit"
        return "transient" if exc.status >= 500 or exc.status == 408 else "permanent"
    if isinstance(exc, (MalformedResponseError, OSError, TimeoutError)):
        return "transient"
    name = type(exc).__name__
    if "RateLimit" in name:
        return "rate-limit"
    text = str(exc)
    from marketreact.prices.yahoo import classify_failure

    return classify_failure(f"{name}: {text}")


def describe(exc: BaseException) -> str:
    """One line for a failure."""
    if isinstance(exc, (HttpStatusError, MalformedResponseError)):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def with_retries(step: Callable[[], T], *, what: str, retries: int = 3, backoff: float = 1.0,
                 max_backoff: float = 30.0,
                 sleep: Callable[[float], None] | None = None) -> T:
    """Run ``step`` until it succeeds, at most ``retries`` times.

    Parameters
    ----------
    step : callable
        Fetches and parses (a malformed answer should raise :class:`MalformedResponseError`).
    what : str
        What is fetched, for the message (``"AAPL: yahoo"``).
    retries : int
        Tries in all (at least 1).
    backoff, max_backoff : float
        Seconds before the second try, doubled each time, capped; a rate limit's
        ``Retry-After`` is honoured up to ``max_backoff``.
    sleep : callable, optional
        ``time.sleep`` by default (tests pass a recorder).

    Raises
    ------
    FetchError
        After the last try, or at once for a permanent failure (HTTP 404, ...).
    """
    wait = sleep if sleep is not None else time.sleep
    tries = max(1, int(retries))
    for attempt in range(1, tries + 1):
        try:
            return step()
        except (FetchError, KeyboardInterrupt):
            raise
        except Exception as exc:
            kind = classify(exc)
            if kind == "permanent" or attempt == tries:
                suffix = "" if kind == "permanent" else f" (after {attempt} tries)"
                label = "rate limited: " if kind == "rate-limit" else ""
                raise FetchError(f"{what}: {label}{describe(exc)}{suffix}") from None
            delay = min(max_backoff, backoff * 2 ** (attempt - 1))
            if isinstance(exc, HttpStatusError) and exc.retry_after is not None:
                delay = min(max_backoff, max(delay, exc.retry_after))
            log.info("%s: %s; try %d of %d in %.1fs", what, describe(exc), attempt + 1, tries,
                     delay)
            wait(delay)
    raise AssertionError("unreachable")  # pragma: no cover
