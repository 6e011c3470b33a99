"""SEC EDGAR filings from the SEC's JSON, timed by their acceptance.

Two documents (the shapes read by edgartools, ``edgar/entity/filings.py``):

* ``https://www.sec.gov/files/company_tickers.json``: ``{"0": {"cik_str": 320193,
  "ticker": "AAPL", "title": "Apple Inc."}, ...}``;
* ``https://data.sec.gov/submissions/CIK##########.json``: ``{"cik", "name", "tickers",
  "filings": {"recent": {"accessionNumber": [...], "filingDate": [...],
  "acceptanceDateTime": ["2024-11-01T06:01:36.000Z", ...], "form": [...], "items": [...],
  "primaryDocument": [...], "primaryDocDescription": [...], ...}, "files": [...]}}``
  (columns of equal length; ``recent`` holds at least the last year or 1,000 filings, older
  ones are in ``files``, which this client does not read).

The SEC asks every automated client for a ``User-Agent`` naming a contact
(``"Name admin@example.com"``) and at most 10 requests a second.

**The acceptance time.** ``acceptanceDateTime`` ends in ``Z`` but is not always UTC: for
some filers it is the New York clock with a ``Z`` appended (the convention belongs to the
filer; see edgartools issue 557 and the measurement in finagg issue 64). EDGAR accepts
filings from 06:00 to 22:00 New York time on weekdays, which tells the readings apart for
most filings. For each filing the reading(s) inside those hours are kept; when both fit,
the filer's convention (from the filings of the same document where only one fits, if
they agree) decides, and failing that the later reading (New York) is taken, so that a
backtest never trades before the filing was public. ``time_basis`` says which:
``utc``, ``new_york``, or ``new_york (later of two readings)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from marketreact.events.news import http
from marketreact.events.news.http import MalformedResponseError, with_retries
from marketreact.events.news.merge import news_frame

TICKERS_URL = "https://www.sec.gov/files/company_tickers.json"
SUBMISSIONS_URL = "https://data.sec.gov/submissions/CIK{cik:010d}.json"
ARCHIVE_URL = "https://www.sec.gov/Archives/edgar/data/{cik}/{accession}/{document}"
#: Environment variable read for the contact User-Agent.
USER_AGENT_ENV = "MARKETREACT_SEC_USER_AGENT"
NEW_YORK = "America/New_York"
#: EDGAR's filing hours, New York time (hours, inclusive start, exclusive end).
EDGAR_HOURS = (6, 22)
#: Seconds between two requests (the SEC allows 10 a second).
MIN_INTERVAL = 0.15
#: The items of Form 8-K, for headlines.
ITEMS_8K = {
    "1.01": "entry into a material definitive agreement",
    "1.02": "termination of a material definitive agreement",
    "1.03": "bankruptcy or receivership",
    "1.05": "material cybersecurity incident",
    "2.01": "completion of acquisition or disposition of assets",
    "2.02": "results of operations and financial condition",
    "2.03": "creation of a direct financial obligation",
    "2.04": "triggering events that accelerate a financial obligation",
    "2.05": "costs associated with exit or disposal activities",
    "2.06": "material impairments",
    "3.01": "notice of delisting or failure to satisfy a listing rule",
    "3.02": "unregistered sales of equity securities",
    "3.03": "material modification to rights of security holders",
    "4.01": "changes in registrant's certifying accountant",
    "4.02": "non-reliance on previously issued financial statements",
    "5.01": "changes in control of registrant",
    "5.02": "departure or appointment of directors or officers",
    "5.03": "amendments to articles of incorporation or bylaws",
    "5.07": "submission of matters to a vote of security holders",
    "7.01": "regulation FD disclosure",
    "8.01": "other events",
    "9.01": "financial statements and exhibits",
}


def check_user_agent(user_agent: str | None) -> str:
    """Return the contact User-Agent, or raise when it is missing or names no contact."""
    from marketreact.errors import InputError

    text = (user_agent or "").strip()
    if not text or "@" not in text:
        raise InputError(
            "EDGAR needs a contact User-Agent such as \"Jane Doe jane@example.com\" (the SEC "
            f"requires it): pass --user-agent or set {USER_AGENT_ENV}")
    return text


def _json(data: bytes, what: str) -> Any:
    if not data or not data.strip():
        raise MalformedResponseError(f"empty answer for {what}")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise MalformedResponseError(f"{what} is not JSON") from None


def parse_company_tickers(data: Any) -> dict[str, int]:
    """``company_tickers.json`` as ``{TICKER: cik}``."""
    rows = data.values() if isinstance(data, dict) else data if isinstance(data, list) else None
    if rows is None:
        raise MalformedResponseError("company_tickers.json is not an object of companies")
    out: dict[str, int] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        ticker, cik = str(row.get("ticker") or "").upper().strip(), row.get("cik_str")
        try:
            if ticker and cik is not None:
                out.setdefault(ticker, int(cik))
        except (TypeError, ValueError):
            continue
    if not out:
        raise MalformedResponseError("company_tickers.json lists no company")
    return out


def acceptance_times(values: Sequence[Any]) -> tuple[pd.Series, pd.Series]:
    """Read ``acceptanceDateTime`` values as UTC instants (see the module's note).

    Returns
    -------
    times : pandas.Series
        ``datetime64[ns, UTC]`` (NaT where unreadable).
    basis : pandas.Series
        ``utc``, ``new_york`` or ``new_york (later of two readings)``.
    """
    text = pd.Series([str(v or "") for v in values], dtype=object)
    clock = pd.to_datetime(text.str.replace(r"(?:Z|[+-]00:?00)$", "", regex=True),
                           format="ISO8601", errors="coerce")
    as_utc = clock.dt.tz_localize("UTC")
    as_ny = clock.dt.tz_localize(NEW_YORK, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(
        "UTC")

    def open_hours(local: pd.Series) -> np.ndarray:
        hours = local.dt.hour + local.dt.minute / 60 + local.dt.second / 3600
        inside = (hours >= EDGAR_HOURS[0]) & (hours < EDGAR_HOURS[1]) & (local.dt.day_of_week < 5)
        return inside.fillna(False).to_numpy(dtype=bool)

    fits_utc = open_hours(as_utc.dt.tz_convert(NEW_YORK)) & as_utc.notna().to_numpy()
    fits_ny = open_hours(clock) & as_ny.notna().to_numpy()
    only_utc, only_ny = fits_utc & ~fits_ny, fits_ny & ~fits_utc
    convention = None
    if only_utc.sum() + only_ny.sum() > 0:
        if only_ny.sum() == 0:
            convention = "utc"
        elif only_utc.sum() == 0:
            convention = "new_york"
    use_utc = only_utc | (fits_utc & fits_ny & (convention == "utc"))
    times = as_ny.where(~use_utc, as_utc)
    basis = np.where(use_utc, "utc",
                     np.where(only_ny | (fits_ny & (convention == "new_york")), "new_york",
                              "new_york (later of two readings)"))
    return times, pd.Series(basis, dtype=object)


def _headline(form: str, name: str, items: str, description: str) -> str:
    codes = [c.strip() for c in str(items or "").split(",") if c.strip()]
    if form.upper().startswith("8-K") and codes:
        words = [ITEMS_8K.get(c, c) for c in codes if c != "9.01"] or \
            [ITEMS_8K.get(c, c) for c in codes]
        return f"{name} {form}: " + "; ".join(words)
    return f"{name} {form}" + (f": {description}" if description and description != form
                               else "")


def submission_rows(data: Any, ticker: str, forms: Sequence[str] = ("8-K",),
                    since: pd.Timestamp | None = None) -> tuple[pd.DataFrame, int]:
    """Turn one submissions JSON into catalogue rows of the given forms.

    Returns
    -------
    frame : pandas.DataFrame
        Catalogue rows, ``source`` ``edgar``, ``form`` the form type, ``publisher``
        ``SEC EDGAR``.
    skipped : int
        Filings of those forms without a readable acceptance time.
    """
    if not isinstance(data, dict) or not isinstance(data.get("filings"), dict):
        raise MalformedResponseError("submissions JSON has no 'filings'")
    recent = data["filings"].get("recent")
    if not isinstance(recent, dict):
        raise MalformedResponseError("submissions JSON has no 'filings.recent'")
    needed = ("accessionNumber", "acceptanceDateTime", "form")
    if any(not isinstance(recent.get(k), list) for k in needed):
        raise MalformedResponseError("submissions JSON lacks accessionNumber, "
                                     "acceptanceDateTime or form")
    n = len(recent["accessionNumber"])
    columns = {k: v for k, v in recent.items() if isinstance(v, list) and len(v) == n}
    if any(k not in columns for k in needed):
        raise MalformedResponseError("submissions JSON columns have different lengths")
    table = pd.DataFrame(columns)
    cik = int(str(data.get("cik") or "0").lstrip("0") or 0)
    name = str(data.get("name") or ticker)
    times, basis = acceptance_times(table["acceptanceDateTime"].tolist())
    table["_time"], table["_basis"] = times.to_numpy(), basis.to_numpy()
    wanted = {f.upper() for f in forms}
    table = table.loc[table["form"].astype(str).str.upper().isin(wanted)]
    skipped = int(table["_time"].isna().sum())
    table = table.loc[table["_time"].notna()]
    if since is not None:
        table = table.loc[table["_time"] >= since]
    rows = []
    for rec in table.to_dict("records"):
        accession = str(rec["accessionNumber"])
        document = str(rec.get("primaryDocument") or "")
        url = (ARCHIVE_URL.format(cik=cik, accession=accession.replace("-", ""),
                                  document=document) if cik and document else "")
        rows.append({"ticker": ticker, "timestamp": rec["_time"],
                     "headline": _headline(str(rec["form"]), name, str(rec.get("items") or ""),
                                           str(rec.get("primaryDocDescription") or "")),
                     "summary": "", "source": "edgar", "publisher": "SEC EDGAR", "url": url,
                     "form": str(rec["form"]), "related": "", "item_id": accession,
                     "time_basis": rec["_basis"]})
    return news_frame(rows), skipped


class EdgarClient:
    """Fetch filings of tickers from the SEC's JSON (one ticker map, one document a ticker).

    Parameters
    ----------
    user_agent : str
        Contact User-Agent (required by the SEC).
    retries, backoff : int, float
        See :func:`marketreact.events.news.http.with_retries`.
    sleep : callable, optional
        ``time.sleep`` by default; also paces requests :data:`MIN_INTERVAL` apart.
    """

    def __init__(self, user_agent: str, *, retries: int = 3, backoff: float = 1.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        import time

        self.user_agent = check_user_agent(user_agent)
        self.retries, self.backoff = retries, backoff
        self._sleep = sleep if sleep is not None else time.sleep
        self._ciks: dict[str, int] | None = None
        self._requests = 0

    def _get_json(self, url: str, what: str) -> Any:
        def step() -> Any:
            if self._requests:
                self._sleep(MIN_INTERVAL)
            self._requests += 1
            return _json(http.http_get(url, {"User-Agent": self.user_agent,
                                             "Accept-Encoding": "identity"}), what)

        return step

    def ciks(self) -> dict[str, int]:
        """The SEC's ticker -> CIK map (fetched once)."""
        if self._ciks is None:
            get = self._get_json(TICKERS_URL, "company_tickers.json")
            self._ciks = with_retries(lambda: parse_company_tickers(get()),
                                      what="edgar company_tickers.json", retries=self.retries,
                                      backoff=self.backoff, sleep=self._sleep)
        return self._ciks

    def fetch(self, ticker: str, *, forms: Sequence[str] = ("8-K",),
              since: pd.Timestamp | None = None) -> tuple[pd.DataFrame, int]:
        """Filings of ``ticker`` (see :func:`submission_rows`)."""
        symbol = ticker.upper()
        cik = self.ciks().get(symbol) or self.ciks().get(symbol.replace(".", "-"))
        if cik is None:
            raise http.FetchError(f"{symbol}: edgar: ticker not in the SEC's company_tickers.json")
        get = self._get_json(SUBMISSIONS_URL.format(cik=cik), f"submissions of CIK {cik}")
        return with_retries(lambda: submission_rows(get(), symbol, forms, since),
                            what=f"{symbol}: edgar", retries=self.retries, backoff=self.backoff,
                            sleep=self._sleep)
