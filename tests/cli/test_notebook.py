"""Results display as images in a fresh Jupyter kernel (nbclient executes a notebook).

Reference: the issue's report of ``<Figure size 880x506 with 1 Axes>`` and no image; the
test runs the notebook path a user takes and reads the cell outputs back.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

PNG = b"\x89PNG\r\n\x1a\n"


def test_result_plot_shows_an_image_in_a_fresh_kernel(tmp_path: Path, prices_dir: Path,
                                                      goto_events: Path) -> None:
    events = tmp_path / "events.csv"
    shutil.copyfile(goto_events, events)
    code = (
        "from marketreact import EventStudy, load_prices, read_events\n"
        f"events = read_events({str(events)!r})\n"
        f"prices = load_prices('csv:{prices_dir}', events, before=250, after=10)\n"
        "result = EventStudy(window=(-5, 5), car_windows=((-1, 1),)).fit(events, prices)\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell("result.plot()"),
                nbformat.v4.new_code_cell("result")]
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    figure = nb.cells[1].outputs[0]["data"]
    assert "image/png" in figure, figure.get("text/plain")
    assert base64.b64decode(figure["image/png"]).startswith(PNG)
    table = nb.cells[2].outputs[0]["data"]
    assert "text/html" in table and "<table" in table["text/html"]
