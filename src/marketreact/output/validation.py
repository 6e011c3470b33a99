"""Writing a validation run: rejection-rate tables, the Markdown report and the chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from marketreact._typing import StrPath
from marketreact.inference.base import (
    TEST_NAMES,
    TEST_TITLES,
)
from marketreact.inference.intraday import TITLE as RS_TITLE
from marketreact.validation import (
    DESIGNS,
    IntradaySimulation,
    SimPanel,
    SimulationSettings,
    binomial_band,
)
from marketreact.windows import format_window


def _pct(x: float) -> str:
    return "" if not np.isfinite(x) else f"{100 * x:.1f}"


def _table(rates: pd.DataFrame, panel: str, design: str, window: str,
           columns: Sequence[tuple[str, float]], band: bool) -> list[str]:
    sub = rates[(rates["panel"] == panel) & (rates["design"] == design)
                & (rates["window"] == window)]
    head = ["test", *[f"{alt} {100 * lvl:g}%" for alt, lvl in columns]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in TEST_NAMES:
        cells = [TEST_TITLES[name]]
        for alt, lvl in columns:
            row = sub[(sub["test"] == name) & (sub["alternative"] == alt)
                      & np.isclose(sub["abnormal"], lvl)]
            if row.empty:
                cells.append("")
                continue
            r = row.iloc[0]
            flag = ""
            if band and lvl == 0 and not (r["band_lo"] <= r["rejection_rate"] <= r["band_hi"]):
                flag = " *"
            cells.append(_pct(r["rejection_rate"]) + flag)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown_report(rates: pd.DataFrame, diagnostics: pd.DataFrame,
                    panels: dict[str, SimPanel], settings: SimulationSettings, command: str,
                    seconds: float) -> str:
    """Write the Markdown report of a validation run (the tables of ``docs/validation.md``)."""
    n = int(rates.loc[rates["abnormal"] == 0, "n_samples"].max()) if len(rates) else 0
    lo, hi = binomial_band(n, settings.alpha)
    car_label = f"CAAR{format_window(settings.car_window)}"
    out = [
        "# Validation: are the tests well specified on real data?",
        "",
        f"Produced by `{command}` in {seconds:.0f} s "
        f"({settings.n_samples} samples per design, {settings.n_events} events each, "
        f"seed {settings.seed}).",
        "",
        "A Brown & Warner (1985) style simulation: samples of random (stock, day 0) pairs "
        "drawn from the real price panels in `../shared/data/prices`; market model fitted "
        f"over {format_window(settings.estimation)}, event window "
        f"{format_window(settings.window)}; an abnormal return added on day 0; the share of "
        f"samples where each test rejects at {100 * settings.alpha:g}% is reported for the "
        f"AAR of day 0 and the {car_label}. Bootstrap: {settings.n_boot} resamples.",
        "",
        "**Survivorship.** Both panels hold only stocks still listed in 2026 (the US "
        "files are the 2023 Dow 30 and other large caps; the IDX files LQ45-type large caps). "
        "The samples are therefore samples of survivors, whose returns were on average "
        "higher and whose histories are complete; size and power here are for such stocks.",
        "",
        "Panels:",
        "",
    ]
    for sim in panels.values():
        screen = ("" if sim.spec.max_abs_return is None else
                  f" Pairs whose windows hold a one-session return beyond "
                  f"±{100 * sim.spec.max_abs_return:g}% (above the exchange's daily limit: "
                  "Yahoo data errors such as HMSP.JK -93% then +1445% on 2007-09-26/27) "
                  "are not drawn.")
        out.append(f"- `{sim.spec.name}`: {len(sim.stock_rows)} stocks against "
                   f"{sim.spec.market} on {sim.spec.exchange} sessions; eligible day-0 dates "
                   f"{sim.first_date.date()} .. {sim.last_date.date()}, "
                   f"{int(sim.eligible.sum()):,} eligible (stock, day 0) pairs.{screen}")
    out += [
        "",
        "Designs: `random` (independent draws), `clustered` (all 50 events of a sample on one "
        "random date, distinct stocks), `variance` (random draws with day-0 variance doubled "
        "by adding noise with the day-0 forecast-error variance; no mean shift at 0%).",
        "",
        f"With {n} samples, a well-specified 5% test rejects between {100 * lo:.1f}% and "
        f"{100 * hi:.1f}% of the time in 95% of runs (binomial band); rates outside the "
        "band at 0% are marked `*`.",
        "",
        "What the samples look like at 0% (means over samples): `r_bar`, the average "
        "cross-correlation of the estimation residuals (Kolari-Pynnonen); `sar_var`, the "
        "cross-sectional variance of the day-0 standardised ARs (Patell assumes about 1); "
        "`var_ratio`, the cross-sectional variance of day-0 ARs over the average estimation "
        "variance (the Brown-Warner and Lamb tests assume about 1).",
        "",
        "| panel | design | r_bar | sar_var | var_ratio |",
        "|---|---|---|---|---|",
        *[f"| {r.panel} | {r.design} | {r.r_bar:.4f} | {r.sar_var:.3f} | {r.var_ratio:.3f} |"
          for r in diagnostics.itertuples(index=False)],
        "",
    ]
    out += _headline(rates, list(panels), car_label)
    size_cols = [("two-sided", 0.0), ("greater", 0.0), ("less", 0.0)]
    power_cols = [("two-sided", 0.005), ("two-sided", 0.01), ("two-sided", 0.02),
                  ("greater", 0.005), ("greater", 0.01), ("greater", 0.02)]
    titles = {"random": "Random dates", "clustered": "Clustered (one date per sample)",
              "variance": "Day-0 variance doubled"}
    for sim in panels.values():
        p = sim.spec.name
        out += [f"## Panel `{p}`", ""]
        for design in DESIGNS:
            if design not in set(rates["design"]):
                continue
            for window in ("AAR(0)", car_label):
                out += [f"### {titles[design]}: size, {window} (rejection rate in %)", ""]
                out += _table(rates, p, design, window, size_cols, band=True)
                out.append("")
            out += [f"### {titles[design]}: power, AAR(0) (rejection rate in %)", ""]
            out += _table(rates, p, design, "AAR(0)", power_cols, band=False)
            out.append("")
    return "\n".join(out)


def _rate(rates: pd.DataFrame, panel: str, design: str, test: str, window: str, alt: str,
          level: float) -> pd.Series | None:
    sel = rates[(rates["panel"] == panel) & (rates["design"] == design)
                & (rates["test"] == test) & (rates["window"] == window)
                & (rates["alternative"] == alt) & np.isclose(rates["abnormal"], level)]
    return None if sel.empty else sel.iloc[0]


def _headline(rates: pd.DataFrame, panels: Sequence[str], car_label: str) -> list[str]:
    """Size and power at 1% of every test on each panel, and what falls outside the band."""
    head = ["test"]
    for p in panels:
        head += [f"{p} size", f"{p} power 1%", f"{p} clustered", f"{p} variance x2"]
    lines = ["## Headline: size and power at 1% (AAR of day 0, two-sided 5%, in %)", "",
             "`size`: random design at 0%; `power 1%`: random design with +1% on day 0; "
             "`clustered` and `variance x2`: size (0%) in those designs.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in TEST_NAMES:
        cells = [TEST_TITLES[name]]
        for p in panels:
            for design, level in (("random", 0.0), ("random", 0.01), ("clustered", 0.0),
                                  ("variance", 0.0)):
                r = _rate(rates, p, design, name, "AAR(0)", "two-sided", level)
                if r is None:
                    cells.append("")
                    continue
                flag = (" *" if level == 0 and not r["band_lo"] <= r["rejection_rate"]
                        <= r["band_hi"] else "")
                cells.append(_pct(r["rejection_rate"]) + flag)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Outside the 95% band at 0% on the random design (all alternatives, both "
              "windows):", ""]
    zero = rates[(rates["design"] == "random") & (rates["abnormal"] == 0)]
    out_band = zero[(zero["rejection_rate"] < zero["band_lo"])
                    | (zero["rejection_rate"] > zero["band_hi"])]
    if out_band.empty:
        lines.append("- none.")
    for key, grp in out_band.groupby(["panel", "test"], sort=False):
        p, name = (str(k) for k in key)
        parts = ", ".join(f"{w} {a} {_pct(float(v))}%" for w, a, v in
                          zip(grp["window"], grp["alternative"], grp["rejection_rate"],
                              strict=True))
        lines.append(f"- `{p}` {TEST_TITLES[name]}: {parts}")
    lines += ["", *READING, ""]
    return lines


READING = [
    "How to read the tables:",
    "",
    "- *Clustering.* Events on one date share the market-wide shocks that the market model "
    "does not remove (industry, size, style), so their abnormal returns are correlated. "
    "Patell and BMP treat them as independent and over-reject; the Kolari-Pynnonen "
    "versions deflate them by the residual cross-correlation `r_bar` measured in the "
    "estimation window and bring the size back near 5%. Brown-Warner 1985 and Lamb take "
    "their variance from the time series of the average residual, and the rank test from "
    "the time series of mean ranks, so they carry the correlation by construction. The "
    "cross-sectional t, the bootstrap, and the sign, generalized sign and Wilcoxon tests "
    "count events as independent and have no such correction. How much it matters grows "
    "with `(N - 1) r_bar`: with 50 events, `r_bar` = 0.02 nearly doubles the variance of the "
    "average abnormal return.",
    "- *Event-induced variance.* Tests whose variance comes from the estimation window "
    "(Patell, Brown-Warner, Lamb, adjusted Patell) over-reject when the day-0 variance "
    "doubles; BMP and its adjusted version, the cross-sectional t and the sign-type tests "
    "use the day's cross-section and keep their size. The rank test is also affected "
    "(Campbell & Wasley 1993; Cowan & Sergeant 1996).",
    "- *Skewness.* Daily abnormal returns are right-skewed: their median lies below their "
    "mean. The sign and Wilcoxon tests test the median (symmetry), so one-sided they reject "
    "`less` too often and `greater` too rarely; Cowan's generalized sign estimates the share "
    "of positive residuals and fixes this (Cowan 1992). The t-type tests inherit a milder "
    "one-sided asymmetry.",
    "- *The tests added for the anchors.* The Corrado-Zivney sign test (signs about each "
    "event's own median, variance from the time series of mean signs) keeps its size where the "
    "plain sign and Wilcoxon tests do not (skewness, clustering). The modified rank test is the "
    "rank test with estudy2's divisor and equals it without missing days. The generalized rank "
    "(GRANK) restandardises the day's SARs by their cross-sectional spread, so it resists the "
    "doubled day-0 variance better than the rank test; its clustered size stays a little above "
    "5%. The skewness-corrected t (Hall 1992) over-rejects on the fat-tailed US panel: the sample "
    "skewness of 50 daily ARs is driven by the same outliers as the mean, and the correction "
    "then pushes the statistic further out in both directions.",
    "- *Fat tails and changing volatility.* Patell assumes each standardised AR has "
    "variance df/(df-2); real SARs are fat-tailed and volatility drifts between the "
    "estimation window and day 0, so Patell (and the adjusted Patell) can run slightly "
    "above 5%. Heavy-tailed estimation windows make the Brown-Warner and Lamb tests "
    "conservative and cost them power (IDX).",
]


def rejection_chart(rates: pd.DataFrame, path: StrPath) -> Path:
    """Write the PNG of size (per design, with bands) and power curves of the day-0 AAR tests."""
    from marketreact.output.files import save_figure
    from marketreact.render.figures import rejection_figure

    day0 = rates.loc[rates["window"] == "AAR(0)"]
    fig = rejection_figure(day0, title="Rejection rates at 5%, AAR of day 0: "
                                             "Brown-Warner simulation on real panels")
    return save_figure(fig, path)


# ------------------------------------------------------------------------------ intraday

#: Markers around the intraday section of a validation report (kept across daily runs).
INTRADAY_START = "<!-- intraday-validation:start -->"
INTRADAY_END = "<!-- intraday-validation:end -->"


def intraday_markdown(rates: pd.DataFrame, settings: IntradaySimulation, command: str,
                      seconds: float, studied: int, drawn: int) -> str:
    """The intraday section of the validation report (between :data:`INTRADAY_START`/``END``).

    Parameters
    ----------
    rates : pandas.DataFrame
        From :func:`marketreact.validation.intraday_rejection_rates`.
    settings : IntradaySimulation
        The settings of the run.
    command : str
        The command line that produced it.
    seconds : float
        Run time.
    studied, drawn : int
        Events the study kept, and events drawn.
    """
    titles = {**TEST_TITLES, "rs": RS_TITLE}
    car_label = f"CAAR{format_window(settings.car_window)}"
    n = int(rates.loc[rates["abnormal"] == 0, "n_samples"].max()) if len(rates) else 0
    lo, hi = binomial_band(n, settings.alpha)
    levels = [lv for lv in settings.abnormal if lv > 0]
    out = [
        INTRADAY_START,
        "## Intraday mode: random news times on real hourly bars",
        "",
        f"Produced by `{command}` in {seconds:.0f} s ({settings.n_samples} samples of "
        f"{settings.n_events} events, seed {settings.seed}; {studied:,} of {drawn:,} drawn "
        "events studied).",
        "",
        "News times are drawn at random: a regular hourly bar from "
        f"{settings.start[:4]} on (QuantConnect/Lean bars in `../shared/data/intraday`, "
        f"PROVENANCE.md section 7) and a minute inside it, on one of "
        f"{', '.join(settings.tickers)} against {settings.market}. The intraday study fits the "
        f"market model on the regular bars of the {settings.estimation_sessions} previous "
        f"sessions, window {format_window(settings.window)} bars; an abnormal return is added "
        f"to the event bar (and so to the {car_label}). Bootstrap off. The last row is the "
        "time-of-day rank test after Saha & Rinaudo (2014) (test `rs` in "
        "rejection_rates.csv; docs/intraday.md). Every drawn event is at its own random "
        "time, so the simulation does not test events that share a news time (one "
        "announcement on several stocks), which the cross-event tests treat as independent.",
        "",
        f"With {n} samples a well-specified {100 * settings.alpha:g}% test rejects between "
        f"{100 * lo:.1f}% and {100 * hi:.1f}% of the time in 95% of runs (binomial band); "
        "rates outside it at 0% are marked `*`. The rates at a non-zero abnormal return are "
        "raw rejection rates, not size-adjusted: a test that rejects more often under the "
        "null also looks more powerful.",
        "",
        "Rejection rates in %:",
        "",
    ]
    cols = ([("AAR(0)", "two-sided", 0.0), ("AAR(0)", "greater", 0.0), ("AAR(0)", "less", 0.0)]
            + [("AAR(0)", "two-sided", lv) for lv in levels]
            + [(car_label, "two-sided", 0.0)] + [(car_label, "two-sided", lv) for lv in levels])
    head = ["test", *[f"{w} {a} {100 * lv:g}%" for w, a, lv in cols]]
    out += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(cols)]
    for name in dict.fromkeys(rates["test"]):
        cells = [titles.get(name, name)]
        for w, a, lv in cols:
            row = rates[(rates["test"] == name) & (rates["window"] == w)
                        & (rates["alternative"] == a) & np.isclose(rates["abnormal"], lv)]
            if row.empty:
                cells.append("")
                continue
            r = row.iloc[0]
            flag = (" *" if lv == 0 and np.isfinite(r["band_lo"])
                    and not (r["band_lo"] <= r["rejection_rate"] <= r["band_hi"]) else "")
            cells.append(_pct(r["rejection_rate"]) + flag)
        out.append("| " + " | ".join(cells) + " |")
    out += ["", INTRADAY_END]
    return "\n".join(out)


def merge_intraday_section(existing: str, section: str) -> str:
    """``existing`` report text with its intraday section replaced by ``section`` (or appended)."""
    a, b = existing.find(INTRADAY_START), existing.find(INTRADAY_END)
    if a >= 0 and b > a:
        return existing[:a] + section + existing[b + len(INTRADAY_END):]
    return existing.rstrip("\n") + "\n\n" + section + "\n"


def intraday_section(text: str) -> str | None:
    """The intraday section of a report's text (``None`` when it has none)."""
    a, b = text.find(INTRADAY_START), text.find(INTRADAY_END)
    return text[a:b + len(INTRADAY_END)] if a >= 0 and b > a else None
