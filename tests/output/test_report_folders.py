"""``report`` reads only results folders, and only their own files.

References: docs/report.md and the all-or-nothing folder rule (output/folder.py): a folder
without a manifest or a result file is refused in one line (exit 2) before anything is
read or drawn; a file reached through a symlink is never embedded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.errors import InputError
from marketreact.output.report import build_report, write_report


def test_a_folder_of_price_files_is_refused_in_one_line(tmp_path: Path) -> None:
    for name in ("AAA.csv", "BBB.csv", "events.csv"):  # events.csv alone is a catalogue's name
        pd.DataFrame({"date": ["2024-01-02"], "close": [1.0]}).to_csv(tmp_path / name,
                                                                     index=False)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "not a results folder" in lines[0]
    assert not (tmp_path / "report.html").exists()  # nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AAA.csv", "BBB.csv", "events.csv",
                                                          "photo.png"]


def test_legacy_folders_with_result_files_are_still_read(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text(json.dumps({"trades": 1, "sharpe": 0.5}))
    assert "sharpe" in build_report(tmp_path)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_symlink_leaving_the_folder_is_never_embedded(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwords.csv").write_text("user,password\nroot,hunter2\n")
    (outside / "leak.png").write_bytes(b"\x89PNG\r\n\x1a\nSECRETPNG")
    res = tmp_path / "res"
    res.mkdir()
    (res / "metrics.json").write_text(json.dumps({"trades": 1}))
    os.symlink(outside / "passwords.csv", res / "other.csv")
    os.symlink(outside / "leak.png", res / "price_x.png")
    os.symlink(outside / "passwords.csv", res / "daily.csv")
    text = write_report(res, plots=False).read_text()
    assert "hunter2" not in text and "SECRETPNG" not in text
    import base64
    assert base64.b64encode(b"SECRETPNG")[:8].decode() not in text


def test_report_limits_are_stated(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text(json.dumps({"trades": 1}))
    for bad in ("0", "-1", "100000000000"):
        res = CliRunner().invoke(app, ["report", str(tmp_path), "--max-rows", bad])
        assert res.exit_code == 2 and res.output.startswith("error:"), res.output
        assert len(res.output.strip().splitlines()) == 1


def test_missing_folder_message(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such results folder"):
        write_report(tmp_path / "nope")
