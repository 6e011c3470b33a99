"""The HTML report in a real headless browser (Debian's chromium).

Runs when chromium is installed (``make report-check`` installs it) and skips
otherwise; with ``MARKETREACT_REQUIRE_CHROMIUM=1`` a missing browser fails instead.
The page is loaded offline from a file: network features are switched off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from marketreact.events.catalogue import read_events
from marketreact.output.report import write_report
from marketreact.output.study import write_study, write_study_plots
from marketreact.prices import CsvSource, PriceFetch, load_prices
from marketreact.study.fit import EventStudy

pytestmark = pytest.mark.browser

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-extensions", "--hide-scrollbars", "--mute-audio"]

# Appended to a copy of the report only: records what the browser loaded.
_PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var decoded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var out = {title: document.title, images: imgs.length, decoded: decoded.length,
             widths: decoded.map(function (i) { return i.naturalWidth; }),
             tables: document.querySelectorAll("table").length,
             rows: document.querySelectorAll("table tbody tr").length,
             sections: document.querySelectorAll("section h2").length,
             resources: performance.getEntriesByType("resource").map(function (r) {
               return r.name.slice(0, 40); })};
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not found:
        if os.environ.get("MARKETREACT_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required (MARKETREACT_REQUIRE_CHROMIUM=1) but not found")
        pytest.skip("chromium is not installed (make report-check installs it)")
    return found


def _run(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([browser, *_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=False,
                          env={**os.environ, "HOME": str(tmp)})


def _goto_prices(prices_dir: Path, goto_events: Path) -> PriceFetch:
    """The GoTo catalogue's prices, loaded for the default windows ([-250, -11], [-10, 10])."""
    return load_prices(CsvSource(prices_dir), read_events(goto_events), before=250, after=10)


@pytest.fixture(scope="module")
def goto_report(tmp_path_factory: pytest.TempPathFactory, goto_events: Path,
                prices_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("goto")
    result = EventStudy().fit(read_events(goto_events), _goto_prices(prices_dir, goto_events))
    write_study(result, out, inputs={"events": str(goto_events)})
    write_study_plots(result.abnormal_returns, result.car, result.events, out)
    return write_report(out)


def test_report_renders_in_chromium(goto_report: Path, tmp_path: Path) -> None:
    browser = _chromium()
    probe = tmp_path / "probe.html"
    page = goto_report.read_text(encoding="utf-8")
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _run(browser, tmp_path, "--virtual-time-budget=10000", "--dump-dom",
               probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.DOTALL)
    assert match, f"the page did not finish loading: {dom.stdout[:500]!r} {dom.stderr[-800:]}"
    seen = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    n_png = len(list(goto_report.parent.glob("*.png")))
    assert seen["title"].startswith("marketreact report")
    # Every plot of the folder is in the page, and the browser decoded every one of them.
    assert seen["images"] == n_png == 2 + 16
    assert seen["decoded"] == seen["images"]
    assert min(seen["widths"]) > 300
    # Settings, CAAR, per-event CAR, events, failures(none), files: tables with their rows.
    assert seen["tables"] >= 6
    assert seen["rows"] >= 16 + 4
    assert seen["sections"] >= 5
    # Nothing was fetched: images are data URIs, no stylesheet, script or font from outside.
    assert [r for r in seen["resources"] if not r.startswith("data:")] == []


def test_report_screenshot(goto_report: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    browser = _chromium()
    shot = tmp_path / "report.png"
    run = _run(browser, tmp_path, f"--screenshot={shot}", "--window-size=1280,2600",
               "--virtual-time-budget=10000", goto_report.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.is_file(), run.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[:2] == (2600, 1280)
    gray = pixels[..., :3].mean(axis=2)
    # A loaded page: mostly white paper with dark text and coloured plots, not a blank or an
    # error page (which is a single flat colour).
    assert (gray > 0.95).mean() > 0.5
    assert (gray < 0.5).mean() > 0.005
    colour = np.abs(pixels[..., 0] - pixels[..., 2]) > 0.2  # the blue CAAR line and bars
    assert colour.mean() > 0.001
    if os.environ.get("MARKETREACT_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["MARKETREACT_KEEP_SCREENSHOT"])
