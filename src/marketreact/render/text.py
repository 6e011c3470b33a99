"""Plain-text renderings: the statsmodels-style blocks of results and tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from marketreact._typing import FloatArray
from marketreact.inference.base import TEST_NAMES, CrossEventTests


def format_tests(tests: CrossEventTests, labels: Sequence[str], caar: FloatArray,
                 width: int = 78) -> str:
    """One block per CAR window listing every test, like a statsmodels summary table.

    Parameters
    ----------
    tests : CrossEventTests
        The tests.
    labels : sequence of str
        Window labels, in the order of ``tests.windows``.
    caar : numpy.ndarray
        CAAR of each window.
    width : int, default 78
        Line width.
    """
    lines = []
    for j, label in enumerate(labels):
        n = int(tests.windows["t"].n[j])
        lines.append("=" * width)
        lines.append(f"CAAR{label} = {caar[j]:.6f}   N = {n}   "
                     f"H1: {tests.alternative.value}")
        lines.append("-" * width)
        lines.append(f"{'test':<42}{'statistic':>11}{'p-value':>10}  {'null':<12}")
        lines.append("-" * width)
        for name in TEST_NAMES:
            r = tests.windows[name]
            title = r.title[:41]
            if r.reason[j] != "":
                lines.append(f"{title:<42}{'n/a':>11}{'':>10}  {r.reason[j]}")
                continue
            note = r.dist_label(j)
            if name == "boot":
                note = f"[{r.extra['lo'][j]:.4f}, {r.extra['hi'][j]:.4f}]"
            lines.append(f"{title:<42}{r.stat[j]:>11.4f}{r.pvalue[j]:>10.4f}  {note}")
    r_bar = np.asarray(tests.r_bar)
    if r_bar.ndim == 0 and np.isfinite(r_bar):
        lines.append("-" * width)
        lines.append(f"average cross-correlation of estimation residuals (r-bar): "
                     f"{float(r_bar):.4f}")
    return "\n".join(lines)
