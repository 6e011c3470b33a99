"""Study settings at absurd values: one line naming the option, exit 2, never exit 3.

Reference: the limits stated in marketreact.study.settings (MAX_SESSIONS, MAX_LAGS,
MAX_BOOTSTRAP); before them, ``--estimation -99999999999:-11`` overflowed a date
computation into an internal error.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.errors import InputError
from marketreact.study.settings import MAX_BOOTSTRAP, MAX_LAGS, MAX_SESSIONS, StudySettings


@pytest.mark.parametrize(("options", "named"), [
    (["--estimation", f"{-MAX_SESSIONS - 1}:-11"], "--estimation"),
    (["--estimation", "-99999999999:-11"], "--estimation"),
    (["--window", f"-5:{MAX_SESSIONS + 1}"], "--window"),
    (["--model", "dimson", "--lags", str(MAX_LAGS + 1)], "--lags"),
    (["--method", "regression", "--hac-lags", str(MAX_SESSIONS + 1)], "--hac-lags"),
    (["--bootstrap", str(MAX_BOOTSTRAP + 1)], "--bootstrap"),
])
def test_absurd_study_options_exit_2_in_one_line(tmp_path, goto_events, prices_dir, options,
                                                 named):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["study", str(goto_events), "--prices",
                                      f"csv:{prices_dir}", "--out", str(out), *options])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0], result.output
    assert not out.exists()


def test_limits_themselves_are_accepted():
    s = StudySettings(estimation=(-MAX_SESSIONS, -11), lags=MAX_LAGS, n_boot=MAX_BOOTSTRAP)
    assert s.estimation == (-MAX_SESSIONS, -11)
    with pytest.raises(InputError, match="beyond"):
        StudySettings(window=(-10, MAX_SESSIONS + 1))
