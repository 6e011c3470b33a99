"""Provenance of a run: SHA-256 of input files (checked with hashlib on the same bytes),
the price files behind the loaded frames with their date ranges, the first differing cell
of two runs' CSV tables, and the export / plot files written into a results folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from marketreact.output.export import export_into, save_plot
from marketreact.output.files import write_csv
from marketreact.output.folder import read_manifest, results_folder
from marketreact.output.provenance import (
    changed_inputs,
    compare_tables,
    file_record,
    input_records,
    price_records,
    run_record,
    sha256_file,
)
from marketreact.prices.csv_source import CsvSource


def _prices(root: Path) -> Path:
    folder = root / "prices"
    folder.mkdir()
    dates = pd.bdate_range("2024-01-01", periods=30)
    for i, ticker in enumerate(("AAA", "BBB", "SPY")):
        pd.DataFrame({"date": dates.strftime("%Y-%m-%d"),
                      "close": [100.0 + i + k for k in range(30)]}).to_csv(
            folder / f"{ticker}.csv", index=False)
    return folder


def test_sha256_is_hashlib_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    data = bytes(range(256)) * 5000  # more than one block of the reader
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    rec = file_record(path, "events", first="2024-01-03 10:00", last=pd.Timestamp("2024-02-01"))
    assert rec == {"role": "events", "path": str(path.resolve()), "bytes": len(data),
                   "sha256": hashlib.sha256(data).hexdigest(), "first": "2024-01-03",
                   "last": "2024-02-01"}


def test_price_records_name_only_the_files_used_with_their_date_range(tmp_path: Path) -> None:
    folder = _prices(tmp_path)
    source = CsvSource(folder)
    fetch = source.fetch(["AAA", "SPY"], pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-20"))
    recs = price_records(source, fetch.frames)
    assert [Path(r["path"]).name for r in recs] == ["AAA.csv", "SPY.csv"]  # BBB not used
    for rec in recs:
        path = Path(rec["path"])
        assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        dates = fetch.frames[path.stem].index
        assert (rec["first"], rec["last"]) == (dates.min().date().isoformat(),
                                               dates.max().date().isoformat())
        assert rec["tickers"] == [path.stem]


def test_input_records_and_changed_inputs(tmp_path: Path) -> None:
    folder = _prices(tmp_path)
    events = tmp_path / "events.csv"
    events.write_text("event_id,ticker,date\na,AAA,2024-01-10\nb,AAA,2024-01-17\n")
    config = tmp_path / "study.toml"
    config.write_text('model = "market-adjusted"\n')
    source = CsvSource(folder)
    fetch = source.fetch(["AAA"])
    recs = input_records(events=events, event_dates=[pd.Series(["2024-01-10", "2024-01-17"]),
                                                     pd.Series([pd.NaT, pd.NaT])],
                         source=source, frames=fetch.frames, config=config)
    assert [r["role"] for r in recs] == ["config", "events", "prices"]
    assert (recs[1]["first"], recs[1]["last"]) == ("2024-01-10", "2024-01-17")
    assert changed_inputs(recs) == []
    (folder / "AAA.csv").write_text((folder / "AAA.csv").read_text().replace("100.0", "100.5"))
    config.unlink()
    assert changed_inputs(recs) == [f"config {config.resolve()}: missing",
                                    f"prices {(folder / 'AAA.csv').resolve()}: SHA-256 changed "
                                    "since the run"]


def test_run_record_quotes_the_command_line(tmp_path: Path) -> None:
    rec = run_record(["study", "my events.csv", "--out", "r"], tmp_path)
    digest = rec.pop("source_sha256")
    assert rec == {"argv": ["study", "my events.csv", "--out", "r"],
                   "command_line": "marketreact study 'my events.csv' --out r",
                   "cwd": str(tmp_path)}
    import marketreact

    root = Path(marketreact.__file__).parent  # the digest, written out with hashlib
    ref = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        ref.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    assert digest == ref.hexdigest()


def test_compare_tables_names_the_first_differing_cell(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    frame = pd.DataFrame({"window": ["[0,0]", "[0,+5]"], "caar": [0.01, 0.02],
                          "t": [1.5, 2.5]})
    for folder in (a, b):
        write_csv(frame, folder / "aggregate.csv")
        write_csv(frame, folder / "car.csv")
    assert compare_tables(a, b) == []
    write_csv(frame.assign(t=[1.5, 2.4999]), b / "aggregate.csv")
    write_csv(frame.head(1), b / "car.csv")
    diffs = compare_tables(a, b)
    assert [(d.file, d.row, d.column, d.before, d.after) for d in diffs] == [
        ("aggregate.csv", 2, "t", "2.5", "2.4999"), ("car.csv", 2, None, "2 rows", "1 rows")]
    assert str(diffs[0]) == "aggregate.csv row 2, column t: '2.5' before, '2.4999' now"
    (b / "car.csv").unlink()
    write_csv(frame, b / "extra.csv")
    assert [str(d) for d in compare_tables(a, b)][1:] == [
        "car.csv: present vs missing in the rerun", "extra.csv: missing vs written by the rerun"]


def test_exports_and_plots_go_into_the_staged_folder_and_its_manifest(tmp_path: Path) -> None:
    import openpyxl
    from matplotlib.figure import Figure

    out = tmp_path / "res"
    agg = pd.DataFrame({"window": ["[0,0]"], "n": [3], "caar": [0.01], "mean_bhar": [0.01],
                        "t": [2.0], "p": [0.04], "bhar_t": [2.1], "bhar_t_p": [0.03],
                        "bhar_tsa": [2.2], "bhar_tsa_p": [0.02]})
    with results_folder(out, command="study") as staging:
        write_csv(agg, staging / "aggregate.csv")
        written = export_into(staging, ["latex", "xlsx", "md", "parquet", "latex"],
                              name=out)
        fig = Figure()
        fig.add_subplot().plot([0, 1], [1, 0])
        for kind in ("svg", "pdf"):
            save_plot(fig, staging / f"caar.{kind}", kind)
    assert sorted(p.name for p in written) == ["aggregate.parquet", "tables.md", "tables.tex",
                                               "tables.xlsx"]
    files = read_manifest(out)["files"]
    assert {"tables.tex", "tables.xlsx", "tables.md", "caar.svg", "caar.pdf"} <= set(files)
    tex = (out / "tables.tex").read_text()
    assert ".partial-" not in tex and r"\toprule" in tex
    assert "BHAR skewness-adjusted t (LBT 1999)" in tex  # the BHAR tests have their rows
    book = openpyxl.load_workbook(out / "tables.xlsx")
    about = {r[0]: r[1] for r in book["about"].iter_rows(min_row=2, values_only=True)}
    assert about["folder"] == str(out)
    assert [c.value for c in book["aggregate"][1]][:3] == ["window", "n", "caar"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "parquet" / "aggregate.parquet"), agg,
                                  check_dtype=False)  # CSV writes 2.0 as 2
    assert (out / "caar.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (out / "caar.svg").read_bytes()[:500]
    # no date in the files: the same figure gives the same bytes
    again = tmp_path / "again.pdf"
    save_plot(fig, again, "pdf")
    assert again.read_bytes() == (out / "caar.pdf").read_bytes()


def test_save_plot_refuses_an_unknown_format(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    from marketreact.errors import InputError

    with pytest.raises(InputError, match="--plot-format"):
        save_plot(Figure(), tmp_path / "x.gif", "gif")
