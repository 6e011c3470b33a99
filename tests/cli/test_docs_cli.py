"""docs/cli.md is generated from --help and must match what the commands print today."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.cli.docs import command_paths, help_text, main, render

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_cli_reference_is_up_to_date() -> None:
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert current == render(), (
        "docs/cli.md is out of date: run `make docs` "
        "(python -m marketreact.cli.docs --output docs/cli.md)")


def test_reference_covers_every_registered_command() -> None:
    paths = command_paths()
    assert {(), ("study",), ("report",), ("prices",), ("prices", "fetch"),
            ("prices", "show")} <= set(paths)
    text = render()
    for path in paths:
        assert f"## {' '.join(('marketreact', *path))}\n" in text
    # The commands listed by the top-level --help are exactly those documented.
    top = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100", "NO_COLOR": "1"}).output
    listed = {line.split()[1] for line in top.splitlines()[top.splitlines().index(
        next(ln for ln in top.splitlines() if "Commands" in ln)) + 1:]
        if line.startswith("│ ") and not line.startswith("│  ")}
    assert listed == {p[0] for p in paths if len(p) == 1}


def test_help_text_is_plain_and_fixed_width() -> None:
    text = help_text(("study",))
    assert "\x1b[" not in text
    assert text.splitlines()[0].strip().startswith("Usage: marketreact study")
    assert "--plots" in text and "--out" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_check_mode(tmp_path: Path) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text("old\n")
    assert main(["--check", str(stale)]) == 1
    assert main(["--output", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0


def test_every_command_page_exists() -> None:
    for name in ("study", "prices", "report"):
        page = DOCS / f"{name}.md"
        assert page.is_file(), f"docs/{name}.md is missing"
        assert "goto_tiktok.csv" in page.read_text(encoding="utf-8")
