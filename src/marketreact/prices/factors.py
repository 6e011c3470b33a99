"""Factor files (Ken French daily CSVs or any factor CSV): read and checked, in decimal units.

Reading (:func:`read_factors`)
------------------------------
* **Ken French daily files** (``F-F_Research_Data_Factors_daily.CSV``,
  ``..._5_Factors_2x3_daily.CSV``, ``F-F_Momentum_Factor_daily.CSV``): lines of
  text, then a header whose first cell is empty or ``Date`` (``,Mkt-RF,SMB,HML,RF``),
  rows ``YYYYMMDD, x.xx, ...`` in **percent**, ended by a blank line and a
  copyright line; CRLF line endings. ``-99.99`` and ``-999`` mark missing values.
* **Any factor CSV**: a header line with a date column (``date`` or the first
  column; ``YYYY-MM-DD`` or ``YYYYMMDD``) and one column per factor, in
  **decimal** units unless ``percent=True``.

Column names are normalised: ``Mkt-RF``/``MKT_RF``/``mktrf`` -> ``mkt_rf``,
``SMB``, ``HML``, ``RMW``, ``CMA``, ``RF`` -> lower case, ``Mom``/``UMD``/``WML``
-> ``mom``. Several files are merged on their dates (e.g. the three-factor file
and the momentum file for Carhart's model).

Aligning the factors on an exchange's sessions is
:func:`marketreact.panel.factors.align_factors`.

Imports: the ground floor (errors, ``_typing``) only.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from marketreact._typing import StrPath
from marketreact.errors import InputError, InputProblem

_ALIASES = {
    "mktrf": "mkt_rf", "mkt-rf": "mkt_rf", "mkt_rf": "mkt_rf", "mkt": "mkt_rf",
    "smb": "smb", "hml": "hml", "rmw": "rmw", "cma": "cma", "rf": "rf",
    "mom": "mom", "umd": "mom", "wml": "mom", "momentum": "mom",
}


_MISSING = (-99.99, -999.0)


_YMD = re.compile(r"^\d{8}$")


def normalise_factor_name(name: str) -> str:
    """Canonical factor name (``Mkt-RF`` -> ``mkt_rf``); unknown names are lower-cased."""
    key = name.strip().lower().replace(" ", "")
    return _ALIASES.get(key, key.replace("-", "_"))


def _header_index(lines: list[str]) -> int | None:
    """Index of the header line of a Ken French file, or None for a plain CSV."""
    for i, line in enumerate(lines[:40]):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 2:
            continue
        names = {normalise_factor_name(c) for c in cells[1:]}
        if cells[0] in ("", "Date", "date") and names & set(_ALIASES.values()):
            following = lines[i + 1].split(",", 1)[0].strip() if i + 1 < len(lines) else ""
            if _YMD.match(following) or re.match(r"^\d{6}$", following):
                return i
    return None


def read_factors(*paths: StrPath, percent: bool | None = None) -> pd.DataFrame:
    """Read daily factor returns from one or more files and merge them on date.

    Parameters
    ----------
    *paths : str or path-like
        Ken French daily files or factor CSVs.
    percent : bool, optional
        Whether values are in percent. Default: True for Ken French files,
        False for other CSVs.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``date`` (``datetime64[ns]``, ascending, unique); one float
        column per factor in decimal units; NaN where missing.

    Raises
    ------
    InputError
        Naming the file, line and field of the first problems found.
    """
    if not paths:
        raise InputError("no factor file given")
    frames = [_read_one(Path(p), percent) for p in paths]
    out = frames[0]
    for other in frames[1:]:
        dup = [c for c in other.columns if c in out.columns]
        other = other.drop(columns=[c for c in dup if c == "rf"])
        dup = [c for c in other.columns if c in out.columns]
        if dup:
            raise InputError(f"factor {', '.join(dup)} appears in more than one factor file")
        out = out.join(other, how="outer")
    return out.sort_index()


def _read_one(path: Path, percent: bool | None) -> pd.DataFrame:
    source = str(path)
    if not path.is_file():
        raise InputError([InputProblem(source, None, None, None, "file not found")])
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    head = _header_index(lines)
    if head is not None:
        end = next((i for i in range(head + 1, len(lines)) if not lines[i].strip()), len(lines))
        body = lines[head:end]
        first_line = head + 1
        scale = 0.01 if percent in (None, True) else 1.0
    else:
        body = [ln for ln in lines]
        while body and not body[-1].strip():
            body.pop()
        first_line = 1
        scale = 0.01 if percent else 1.0
    if len(body) < 2:
        raise InputError([InputProblem(source, None, None, None,
                                       "no factor rows found (expected a header and dated rows)")])
    raw = pd.read_csv(io.StringIO("\n".join(body)), dtype=str, skipinitialspace=True,
                      keep_default_na=False)
    cols = [str(c).strip() for c in raw.columns]
    date_col = next((c for c in cols if c.lower() == "date"), cols[0])
    raw.columns = cols
    names = [c for c in cols if c != date_col]
    if not names:
        raise InputError([InputProblem(source, first_line, None, None, "no factor columns")])
    dates_text = raw[date_col].str.strip()
    if dates_text.str.match(r"^\d{6}$").all():
        raise InputError([InputProblem(source, first_line + 1, date_col, dates_text.iloc[0],
                                       "monthly factors (YYYYMM); daily factors are needed")])
    ymd = dates_text.str.match(_YMD)
    dates = pd.to_datetime(dates_text.where(ymd, None), format="%Y%m%d", errors="coerce")
    iso = ~ymd
    if iso.any():
        dates = dates.where(ymd, pd.to_datetime(dates_text.where(iso, None), format="ISO8601",
                                                errors="coerce"))
    bad = dates.isna().to_numpy()
    problems = [InputProblem(source, first_line + 1 + int(i), date_col, dates_text.iloc[i],
                             "not a date (YYYYMMDD or YYYY-MM-DD)")
                for i in np.flatnonzero(bad)[:5]]
    out = pd.DataFrame(index=pd.DatetimeIndex(dates).astype("datetime64[ns]"))
    for name in names:
        text_vals = raw[name].str.strip()
        values = pd.to_numeric(text_vals.replace("", None), errors="coerce").to_numpy(float)
        wrong = np.isnan(values) & (text_vals != "").to_numpy()
        problems.extend(InputProblem(source, first_line + 1 + int(i), name, text_vals.iloc[i],
                                     "not a number") for i in np.flatnonzero(wrong)[:5])
        values = np.where(np.isin(values, _MISSING), np.nan, values) * scale
        out[normalise_factor_name(name)] = values
    if problems:
        raise InputError(problems[:10])
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()][0]
        raise InputError([InputProblem(source, None, date_col, str(dup.date()),
                                       "date appears more than once")])
    out.index.name = "date"
    return out.sort_index()
