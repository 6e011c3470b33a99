"""Results folders are all-or-nothing, belong to one run and never replace an input.

References: the rules of ``marketreact._resultsdir`` (docs/errors.md, "Results folders");
every check below compares bytes on disk before and after, so each can fail.
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.errors import InputError
from marketreact.output.folder import MANIFEST, check_results_folder, check_target, results_folder

runner = CliRunner()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _study(events: Path, out: Path, prices: Path, *extra: str) -> object:
    return runner.invoke(app, ["study", str(events), "--prices", f"csv:{prices}", "--out",
                               str(out), "-q", *extra])


@pytest.fixture()
def catalogue(tmp_path: Path, goto_events: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_bytes(goto_events.read_bytes())
    return path


def test_second_run_replaces_the_whole_folder(tmp_path, catalogue, prices_dir):
    out = tmp_path / "res"
    first = _study(catalogue, out, prices_dir, "--plots")
    assert first.exit_code == 0, first.output
    assert any(p.name.startswith("price_") for p in out.iterdir())
    run1 = json.loads((out / MANIFEST).read_text())["run_id"]
    second = _study(catalogue, out, prices_dir)
    assert second.exit_code == 0, second.output
    names = {p.name for p in out.iterdir()}
    # no stale plots of the first run beside the second run's tables
    assert not any(n.endswith(".png") for n in names)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["run_id"] != run1
    assert set(manifest["files"]) | {MANIFEST} == names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".res.")]


def test_output_folder_holding_the_catalogue_is_refused(tmp_path, catalogue, prices_dir):
    before = catalogue.read_bytes()
    result = _study(catalogue, tmp_path, prices_dir)
    assert result.exit_code == 2
    assert "an input of this run" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert catalogue.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv"]


def test_price_folder_inside_output_is_refused(tmp_path, catalogue, prices_dir):
    with pytest.raises(InputError, match="an input of this run"):
        check_target(prices_dir.parent, [catalogue, f"csv:{prices_dir}"])


def test_foreign_folder_is_never_replaced(tmp_path, catalogue, prices_dir):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    result = _study(catalogue, out, prices_dir)
    assert result.exit_code == 2
    assert "did not write" in result.output
    assert (out / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_file_or_symlink_as_output_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_target(target)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(InputError, match="not a folder"):
        check_target(link)


def test_full_disk_midway_keeps_the_previous_run(tmp_path, catalogue, prices_dir,
                                                  monkeypatch):
    out = tmp_path / "res"
    assert _study(catalogue, out, prices_dir).exit_code == 0
    before = _snapshot(out)
    import marketreact.output.study as output

    real = output.write_csv
    calls = {"n": 0}

    def failing(frame, path):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(frame, path)

    monkeypatch.setattr(output, "write_csv", failing)
    result = _study(catalogue, out, prices_dir)
    assert result.exit_code == 2
    assert "No space left on device" in result.output
    assert ".partial-" not in result.output  # the real file is named, not the staging copy
    assert str(out / "car.csv") in result.output.replace("\n", "")
    assert _snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from marketreact.output.folder import results_folder
    with results_folder(Path(sys.argv[1]), command="test") as staging:
        (staging / "a.csv").write_text("new")
        print("ready", flush=True)
        time.sleep(60)
        (staging / "b.csv").write_text("new")
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_signal_during_the_write_keeps_the_previous_run(tmp_path, sig):
    out = tmp_path / "res"
    with results_folder(out, command="test") as staging:
        (staging / "a.csv").write_text("old")
    before = _snapshot(out)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert _snapshot(out) == before
    leftovers = [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    if sig == signal.SIGKILL:
        assert len(leftovers) == 1  # nothing can clean up after SIGKILL ...
        with results_folder(out, command="test") as staging:
            (staging / "a.csv").write_text("third")
        leftovers = [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert leftovers == []  # ... and the next run into the same folder removes it


def test_report_refuses_an_incomplete_folder_and_ignores_strangers(tmp_path, catalogue,
                                                                   prices_dir):
    out = tmp_path / "res"
    assert _study(catalogue, out, prices_dir).exit_code == 0
    assert check_results_folder(out) is not None
    # a file dropped in later is not part of the run: the report leaves it out
    (out / "price_intruder.png").write_bytes((out / "car.csv").read_bytes()[:10])
    result = runner.invoke(app, ["report", str(out), "--no-plots", "-q"])
    assert result.exit_code == 0, result.output
    assert "price_intruder" not in (out / "report.html").read_text()
    # a file of the run removed: the folder is incomplete, report and regress say so
    (out / "car.csv").unlink()
    for args in (["report", str(out)], ["regress", str(out)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert "incomplete" in result.output


def test_report_adds_its_files_to_the_manifest(tmp_path, catalogue, prices_dir):
    out = tmp_path / "res"
    assert _study(catalogue, out, prices_dir).exit_code == 0
    result = runner.invoke(app, ["report", str(out), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / MANIFEST).read_text())
    assert "report.html" in manifest["files"]
    assert "caar.png" in manifest["files"]  # drawn by report
    assert manifest["added_by"] == ["report"]
    assert check_results_folder(out) == set(manifest["files"]) | {MANIFEST}


def test_malformed_manifest_is_an_input_error(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / MANIFEST).write_text("[" * 100000)
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 2
    assert "manifest" in result.output


def test_backtest_and_extract_write_folders_the_same_way(tmp_path, seed_article):
    out = tmp_path / "x"
    article = tmp_path / "a.txt"
    article.write_bytes(seed_article.read_bytes())
    args = ["extract", str(article), "--published", "2023-12-05", "--timing", "intra",
            "--timing-exchange", "XIDX", "-q", "--out"]
    assert runner.invoke(app, [*args, str(out)]).exit_code == 0
    assert (out / MANIFEST).is_file()
    refused = runner.invoke(app, [*args, str(tmp_path)])
    assert refused.exit_code == 2
    assert "an input of this run" in refused.output
