"""Hostile input through the CLI: markup, terminal escapes, special files, nested JSON.

Each class of input from the hostile-input issue has a generator here; whatever it draws,
the command ends with a meaningful exit code (0, 1 or 2; never 3, the internal-error
code), prints no traceback, sends no raw control character to the terminal and prints
markup characters as written. References: the exit-code rule in docs/errors.md.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.cli.app import SafeConsole, visible

HOSTILE = settings(max_examples=12, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])
MARKUP = ["[red]", "[/red]", "[/]", "[bold", "]", "[link=file:///etc/passwd]x[/link]",
          "\x1b[2J", "\x1b]0;title\x07", "\x9b31m", "\r", "\x00", "\u202e", "'", '"', "=1+1"]


def _invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    text = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), text
    assert result.exit_code in (0, 1, 2), text
    assert "Traceback" not in text and "internal error" not in text, text
    return result, text


def test_visible_escapes_every_control_character():
    assert visible("a\x1b[31mb\x07\x9bc\td\ne") == "a\\x1b[31mb\\x07\\x9bc\td\ne"
    console = SafeConsole(record=True, width=200)
    console.print("[/oops] \x1b[2J [red]x[/red]")
    assert console.export_text().strip() == "[/oops] \\x1b[2J [red]x[/red]"


@HOSTILE
@given(pieces=st.lists(st.sampled_from(MARKUP), min_size=1, max_size=4),
       where=st.sampled_from(["event_id", "headline", "market"]))
def test_markup_and_escapes_in_a_catalogue(tmp_path_factory, prices_dir, pieces, where):
    folder = tmp_path_factory.mktemp("hostile")
    text = "".join(pieces)
    row = {"event_id": "e1", "ticker": "GOTO.JK", "date": "2023-12-05", "timing": "intra",
           "headline": "news", "market": ""}
    row[where] = text if where != "event_id" else f"e{text}"
    events = folder / "events.csv"
    with open(events, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    _, out = _invoke("study", str(events), "--prices", f"csv:{prices_dir}", "--out",
                     str(folder / "out"), "--window", "-3:3", "--car", "-1:1")
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out


@HOSTILE
@given(name=st.lists(st.sampled_from([*"ab[]/=+-@ ", "[red]", "[/x]", "\x1b[2J"]),
                    min_size=1, max_size=8).map("".join))
def test_markup_in_paths(tmp_path_factory, goto_events, prices_dir, name):
    folder = tmp_path_factory.mktemp("paths")
    safe = name.replace("/", "_").replace("\x1b", "ESC").strip() or "x"
    events = folder / f"{safe}.csv"
    events.write_bytes(goto_events.read_bytes())
    result, out = _invoke("study", str(events), "--prices", f"csv:{prices_dir}", "--out",
                          str(folder / f"out{safe}"), "--window", "-2:2", "--car", "0:0")
    assert result.exit_code in (0, 1)
    assert "\x1b" not in out


@pytest.mark.parametrize("kind", ["fifo", "device", "dangling", "folder"])
def test_special_files_are_refused_without_reading(tmp_path, prices_dir, kind):
    target = tmp_path / "events.csv"
    expected = {"fifo": "FIFO", "device": "character device", "dangling": "missing file",
                "folder": "folder"}[kind]
    if kind == "fifo":
        os.mkfifo(target)  # reading it would block forever
    elif kind == "device":
        target.symlink_to("/dev/zero")  # reading it would never end
    elif kind == "dangling":
        target.symlink_to(tmp_path / "nowhere.csv")
    else:
        target.mkdir()
    result, out = _invoke("study", str(target), "--prices", f"csv:{prices_dir}", "--out",
                          str(tmp_path / "out"))
    assert result.exit_code == 2
    assert expected in out and len(out.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_deeply_nested_json_catalogue(tmp_path, prices_dir, suffix):
    events = tmp_path / f"events{suffix}"
    events.write_text("[" * 100_000 + "\n")
    result, out = _invoke("study", str(events), "--prices", f"csv:{prices_dir}", "--out",
                          str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "nested too deeply" in out


def test_raw_csv_switch(tmp_path, prices_dir):
    events = tmp_path / "events.csv"
    events.write_text("event_id,ticker,date,timing\n=HYPERLINK(1),GOTO.JK,2023-12-05,intra\n")
    for flag, expected in (([], "'=HYPERLINK(1)"), (["--raw-csv"], "=HYPERLINK(1)")):
        out = tmp_path / f"out{len(flag)}"
        result, _ = _invoke(*flag, "study", str(events), "--prices", f"csv:{prices_dir}",
                            "--out", str(out), "--window", "-2:2", "--car", "0:0", "-q")
        assert result.exit_code == 0
        with open(out / "events.csv", newline="", encoding="utf-8") as fh:
            assert next(csv.DictReader(fh))["event_id"] == expected


def test_warnings_are_hidden_unless_verbose(tmp_path, prices_dir, goto_events):
    # the seed catalogue with Yahoo filler rows: library notes stay notes, no warnings
    _, out = _invoke("study", str(goto_events), "--prices", f"csv:{prices_dir}",
                          "--out", str(tmp_path / "out"))
    assert "Warning" not in out
    assert Path(tmp_path / "out" / "events.csv").is_file()
