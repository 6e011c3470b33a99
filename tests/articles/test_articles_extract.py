"""Extraction from article text: sentences, gazetteer, dates, stated moves, events.

The short articles are written here in the tests' own words. The seed article is read from
../shared/seeds at run time (the ``seed_article`` fixture skips when it is absent). Expected dates
are worked out by hand from a calendar: 2023-12-05 is a Tuesday; 2023-12-11 a Monday.
"""

from __future__ import annotations

import pandas as pd
import pytest

from marketreact.articles import (
    builtin_gazetteer,
    extract_article,
    load_gazetteer,
    parse_article,
    parse_publication,
)
from marketreact.articles.claims import find_cues
from marketreact.articles.dates import find_dates
from marketreact.articles.entities import parse_gazetteer
from marketreact.articles.markets import event_time, session_at
from marketreact.errors import InputError
from marketreact.events.catalogue import events_from_frame

TUE = pd.Timestamp("2023-12-05")
# 10:00 in Jakarta on Tuesday 2023-12-05: IDX trades (09:00-16:00), New York is closed (22:00 Mon).
DURING_JAKARTA = parse_publication("2023-12-05T10:00:00+07:00")
# 18:00 in Jakarta on Monday 2023-12-11: after the IDX close.
AFTER_JAKARTA_CLOSE = parse_publication("2023-12-11T18:00:00+07:00")
GAZ = builtin_gazetteer()


def claims_of(text: str, pub=DURING_JAKARTA, gaz=GAZ) -> pd.DataFrame:
    return extract_article(text, pub, gaz).claims


# --- text ---------------------------------------------------------------------------------------

def test_sentences_do_not_break_at_abbreviations_or_initials():
    art = parse_article("Sea Ltd. and PT Bukalapak.com met U.S. bankers with Patrick J. Smith. "
                        "Shares rose. Was it 5.5%? Yes.")
    assert [s.text for s in art.sentences] == [
        "Sea Ltd. and PT Bukalapak.com met U.S. bankers with Patrick J. Smith.",
        "Shares rose.", "Was it 5.5%?", "Yes."]
    # offsets point into the normalised text
    for s in art.sentences:
        assert art.text[s.start:s.end] == s.text


def test_page_furniture_is_dropped_and_headline_found():
    text = ("  • Markets\n  • Companies\n\nGoTo Shares Jump After Talks With Video App\n\n"
            "3 minute read\nUpdated: | Originally published:\n\nThe talks went well.\n\n"
            "Read More: Another Story About Something Else Entirely\nContact us at x@example.com\n")
    art = parse_article(text)
    assert art.headline == "GoTo Shares Jump After Talks With Video App"
    assert [s.text for s in art.sentences] == [art.headline, "The talks went well."]
    assert art.sentences[0].headline and art.sentences[0].line == 4


def test_crlf_and_nfc_normalisation():
    decomposed = "Nestle\u0301 shares fell 2%.\r\nNext line."
    art = parse_article(decomposed)
    assert art.sentences[0].text == "Nestlé shares fell 2%."
    assert art.sentences[1].line == 2


# --- gazetteer ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("alias", "ticker"), [
    ("GoTo", "GOTO.JK"), ("Tokopedia", "GOTO.JK"), ("Gojek", "GOTO.JK"), ("Bukalapak", "BUKA.JK"),
    ("Blibli", "BELI.JK"), ("Sea Ltd", "SE"), ("Shopee", "SE"),
])
def test_builtin_gazetteer_maps_seed_companies(alias, ticker):
    entity = GAZ.by_name(alias)
    assert entity is not None and entity.ticker == ticker and entity.listed


@pytest.mark.parametrize("alias", ["TikTok", "ByteDance", "TikTok Shop"])
def test_unlisted_companies_never_get_a_ticker(alias):
    entity = GAZ.by_name(alias)
    assert entity is not None and not entity.listed and entity.ticker is None
    found = GAZ.find(f"{alias} shares rose 5% in Jakarta.")
    assert found[0].status == "unlisted" and found[0].entity.ticker is None


def test_longest_alias_wins_and_words_must_be_whole():
    found = GAZ.find("TikTok Shop and GoTo Group talked; a gotoh and Tokopedias are not names.")
    assert [(m.surface, m.entity.name) for m in found] == [
        ("TikTok Shop", "TikTok"), ("GoTo Group", "GoTo Gojek Tokopedia")]


def test_bare_sea_is_not_sea_ltd():
    assert GAZ.find("Ships crossed the South China Sea.") == []


def test_user_gazetteer_adds_and_overrides(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("name,aliases,ticker,exchange\n"
                    "Nestlé,Nestle|Nestlé SA,NESN.SW,XSWX\n"
                    "Shopee Pay,Shopee,,\n", encoding="utf-8")
    gaz = load_gazetteer([path])
    found = gaz.find("Nestle and Nestlé SA, and Shopee too.")
    assert [(m.surface, m.entity.ticker) for m in found] == [
        ("Nestle", "NESN.SW"), ("Nestlé SA", "NESN.SW"), ("Shopee", None)]
    # the user's 'Shopee' alias was taken away from Sea Ltd, which keeps its other aliases
    assert gaz.by_name("Sea Ltd").ticker == "SE"
    assert gaz.by_name("Shopee").name == "Shopee Pay"


@pytest.mark.parametrize(("row", "field", "message"), [
    ("Acme,,ACME.JK,,,company,false,", "ticker", "an unlisted entity cannot have a ticker"),
    ("Acme,,,,,company,true,", "ticker", "a listed entity needs a ticker"),
    ("Acme,,ACME,MOON,,company,true,", "exchange", "unknown exchange"),
    ("Acme,,ACME,,,planet,true,", "kind", "must be one of"),
    ("Acme,,ACME,,,company,maybe,", "listed", "must be true or false"),
    ("Acme,GoTo,ACME,,,company,true,", "aliases", "alias already used by 'GoTo'"),
])
def test_bad_gazetteer_rows_name_line_and_field(row, field, message):
    text = ("name,aliases,ticker,exchange,market,kind,listed,note\n"
            "GoTo,GoTo,GOTO.JK,,,company,true,\n" + row + "\n")
    with pytest.raises(InputError) as err:
        parse_gazetteer(text, "mine.csv")
    problem = err.value.problems[0]
    assert (problem.source, problem.line, problem.field) == ("mine.csv", 3, field)
    assert message in problem.message


def test_ticker_stated_in_text_is_used_not_invented():
    found = GAZ.find("Foo Bar Corp (NYSE: FBC) and GoTo (IDX: GOTO) talked.")
    assert [(m.status, m.entity.ticker) for m in found] == [("stated", "FBC"),
                                                            ("listed", "GOTO.JK")]


# --- dates --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sentence", "first", "last", "tense"), [
    ("It happened today.", "2023-12-05", "2023-12-05", "present"),
    ("It fell yesterday.", "2023-12-04", "2023-12-04", "past"),
    ("GoTo said so on Monday.", "2023-12-04", "2023-12-04", "past"),
    ("The shares rose on Tuesday.", "2023-12-05", "2023-12-05", "present"),
    ("They will sign on Tuesday.", "2023-12-12", "2023-12-12", "future"),
    ("It fell last Tuesday.", "2023-11-28", "2023-11-28", "past"),
    ("They meet next Monday.", "2023-12-11", "2023-12-11", "future"),
    ("It was reported last month.", "2023-11-01", "2023-11-30", "past"),
    ("A deal may come as soon as next week.", "2023-12-11", "2023-12-17", "future"),
    ("Earlier this week it slid.", "2023-12-04", "2023-12-04", "past"),
    ("He took over in June.", "2023-06-01", "2023-06-30", "past"),
    ("They will launch in January.", "2024-01-01", "2024-01-31", "future"),
    ("It listed in May.", "2023-05-01", "2023-05-31", "past"),
    ("It fell on December 1.", "2023-12-01", "2023-12-01", "past"),
    ("On 22 November 2023 it fell.", "2023-11-22", "2023-11-22", "past"),
    ("It fell 3 days ago.", "2023-12-02", "2023-12-02", "past"),
    ("It fell two weeks ago.", "2023-11-20", "2023-11-26", "past"),
    ("The service started in 2021.", "2021-01-01", "2021-12-31", "past"),
    ("Sales rose in the third quarter.", "2023-07-01", "2023-09-30", "past"),
    ("It aims for profit by the end of the year.", "2023-12-06", "2023-12-31", "future"),
])
def test_relative_dates_resolve_against_the_publication(sentence, first, last, tense):
    (ref,) = find_dates(sentence, TUE)
    assert (str(ref.first.date()), str(ref.last.date()), ref.tense) == (first, last, tense)
    assert ref.precision == ("day" if first == last else "range")


def test_modal_may_is_not_a_month():
    assert find_dates("Prices may rise.", TUE) == []


# --- publication and sessions -------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (("2023-12-05T10:00:00",), "no UTC offset"),
    (("2023-12-05T10:00:00+07:00", "intra"), "--timing only applies"),
    (("2023-12-05", "midday"), "--timing must be one of"),
    (("2023-12-05", "intra", "MOON"), "not a known exchange"),
    (("5 Dec 2023",), "neither a timestamp"),
])
def test_bad_publication_values(args, message):
    with pytest.raises(InputError, match=message):
        parse_publication(*args)


def test_date_only_publication_maps_to_each_exchange():
    # Published during the Jakarta session of Tue 2023-12-05 (09:00-16:00 WIB = 02:00-09:00 UTC):
    # New York had closed Monday's session (21:00 UTC) and opens Tuesday at 14:30 UTC.
    pub = parse_publication("2023-12-05", "intra", "XIDX")
    idx, nyse = event_time(pub, "XIDX"), event_time(pub, "XNYS")
    assert (str(idx.date.date()), idx.timing) == ("2023-12-05", "intra")
    assert (str(nyse.date.date()), nyse.timing) == ("2023-12-05", "pre")
    # after the IDX close -> next IDX session, before its open
    post = event_time(parse_publication("2023-12-05", "post", "XIDX"), "XIDX")
    assert (str(post.date.date()), post.timing) == ("2023-12-06", "pre")
    # a Saturday with unknown timing -> Monday's session
    sat = event_time(parse_publication("2023-12-09"), "XIDX")
    assert (str(sat.date.date()), sat.timing) == ("2023-12-11", "pre")


def test_session_of_an_undated_move_depends_on_the_exchange():
    assert (str(session_at(DURING_JAKARTA, "XIDX").date.date()),
            session_at(DURING_JAKARTA, "XIDX").in_progress) == ("2023-12-05", "yes")
    assert (str(session_at(DURING_JAKARTA, "XNYS").date.date()),
            session_at(DURING_JAKARTA, "XNYS").in_progress) == ("2023-12-04", "no")


# --- stated moves -------------------------------------------------------------------------------

def test_rise_with_extreme_wording_during_the_session():
    c = claims_of("Bukalapak shares climbed as much as 7.5% in Jakarta on the report.")
    assert len(c) == 1
    row = c.iloc[0]
    assert (row.ticker, row.direction, row.magnitude_pct, row.qualifier, row.kind) == (
        "BUKA.JK", "up", 7.5, "as much as", "intraday_extreme")
    assert (row.date_start, row.in_progress, row.venue_exchange) == ("2023-12-05", "yes", "XIDX")
    assert row.sentence == 1 and row.char_start == 0


def test_fall_after_the_close_is_close_to_close_on_the_named_day():
    c = claims_of("Bukalapak shares fell 3.5% on Monday.", AFTER_JAKARTA_CLOSE)
    row = c.iloc[0]
    assert (row.ticker, row.direction, row.magnitude_pct, row.kind, row.date_start) == (
        "BUKA.JK", "down", 3.5, "close_to_close", "2023-12-11")
    assert row.in_progress == "no" and row.bound == "exact"


def test_closing_wording_and_a_reversal_in_one_sentence():
    c = claims_of("GoTo stock ended 2% lower on Monday, giving up early gains.",
                  AFTER_JAKARTA_CLOSE)
    assert c[["kind", "direction", "reversal", "subject_basis"]].values.tolist() == [
        ["close_to_close", "down", "", "in sentence"],
        ["intraday_reversal", "down", "full", "previous cue"]]
    assert c["magnitude_pct"].iloc[0] == 2.0 and pd.isna(c["magnitude_pct"].iloc[1])
    assert c["ticker"].tolist() == ["GOTO.JK", "GOTO.JK"]


def test_erased_declines_is_an_upward_reversal_and_pared_is_partial():
    c = claims_of("Blibli's shares erased morning losses to rise 1% in Jakarta. "
                  "Bukalapak shares pared losses.")
    assert c[["ticker", "kind", "direction", "reversal"]].values.tolist() == [
        ["BELI.JK", "intraday_reversal", "up", "full"],
        ["BELI.JK", "intraday_level", "up", ""],
        ["BUKA.JK", "intraday_reversal", "up", "partial"],
    ]


def test_two_companies_in_one_sentence():
    c = claims_of("GoTo rose 4% in Jakarta while Bukalapak slid 2.25%.")
    assert c[["ticker", "direction", "magnitude_pct"]].values.tolist() == [
        ["GOTO.JK", "up", 4.0], ["BUKA.JK", "down", 2.25]]
    both = claims_of("GoTo and Bukalapak both rose 3% in Jakarta trading.")
    assert both["ticker"].tolist() == ["GOTO.JK", "BUKA.JK"]
    assert both["claim_id"].tolist() == ["c1", "c2"]


def test_unknown_and_unlisted_companies_get_no_ticker():
    x = extract_article("Shares of Acme Holdings jumped 12% in early trading. "
                        "TikTok shares rose 5%, said nobody.", DURING_JAKARTA, GAZ)
    assert x.claims[["company", "status", "ticker"]].values.tolist() == [
        ["Acme Holdings", "unknown", ""], ["TikTok", "unlisted", ""]]
    ents = x.entities.set_index("name")
    assert ents.loc["Acme Holdings", "status"] == "unknown"
    assert ents.loc["Acme Holdings", "ticker"] == ""
    assert len(x.events) == 0
    assert any("Acme Holdings" in n for n in x.notes)


def test_article_without_claims():
    x = extract_article("GoTo and TikTok talked about a partnership last month. Revenue rose 20% "
                        "in the third quarter. The pact could still fall through, they added. "
                        "GoTo stock could fall 10% if talks fail.", DURING_JAKARTA, GAZ)
    assert len(x.claims) == 0
    assert list(x.claims.columns)[:3] == ["claim_id", "ticker", "exchange"]
    assert x.events["ticker"].tolist() == ["GOTO.JK"]
    assert x.dates["expression"].tolist() == ["last month", "the third quarter"]


@pytest.mark.parametrize("sentence", [
    "TikTok's sales jumped 40% last year.",
    "Bukalapak gained 5% of the online market.",
    "GoTo's revenue rose 12% in the quarter.",
    "TikTok took a 75.01% stake in Tokopedia.",
    "GoTo's stake rose to 20%.",
])
def test_moves_that_are_not_share_prices_are_ignored(sentence):
    assert len(claims_of(sentence)) == 0


def test_non_ascii_text():
    text = ("Les actions de Nestlé ont baissé. Nestlé shares fell 1,5 % in Zürich — "
            "while Société Générale’s stock jumped 2\u202f% in Paris trading. "
            "Saham GoTo naik, and GoTo’s shares rose 3\u00a0％ in Jakarta.")
    gaz_file = ("name,aliases,ticker,exchange\nNestlé,Nestle,NESN.SW,XSWX\n"
                "Société Générale,SocGen,GLE.PA,XPAR\n")
    from marketreact.articles.entities import merge_gazetteers
    gaz = merge_gazetteers(GAZ, parse_gazetteer(gaz_file, "g.csv"))
    c = claims_of(text, gaz=gaz)
    assert c[["ticker", "direction", "magnitude_pct"]].values.tolist() == [
        ["NESN.SW", "down", 1.5], ["GLE.PA", "up", 2.0], ["GOTO.JK", "up", 3.0]]
    assert c["venue_exchange"].tolist() == ["", "XPAR", "XIDX"]
    # the sentence offsets index the normalised text, accents included
    x = extract_article(text, DURING_JAKARTA, gaz)
    for row in x.claims.itertuples():
        assert "%" in x.article.text[row.char_start:row.char_end] or \
            "％" in x.article.text[row.char_start:row.char_end]


def test_coreference_to_the_previous_sentence():
    c = claims_of("GoTo said it would cut costs. The shares dropped 6% in Jakarta.")
    assert c[["ticker", "subject_basis", "sentence"]].values.tolist() == [
        ["GOTO.JK", "previous sentence", 2]]


def test_cue_wording():
    cues = find_cues("It closed up 3% after trading as low as -2%, and was at one point 5% higher.")
    assert [(c.direction, c.magnitude, c.wording) for c in cues][:1] == [
        ("up", 3.0, "close_to_close")]


# --- events -------------------------------------------------------------------------------------

def test_events_are_a_valid_catalogue_with_dated_references():
    x = extract_article("GoTo Shares Slide as Talks Drag On Without a Deal\n"
                        "GoTo said on Monday that talks with TikTok continue. Bukalapak and "
                        "Sea Ltd were also named. The Jakarta Composite Index was flat.",
                        parse_publication("2023-12-06", "intra", "XIDX"), GAZ,
                        event_prefix="story 1")
    ev = x.events
    assert ev["event_id"].tolist() == ["story-1-GOTO", "story-1-BUKA", "story-1-SE",
                                       "story-1-GOTO-2023-12-04"]
    assert ev[["date", "timing", "news"]].values.tolist() == [
        ["2023-12-06", "intra", "article"], ["2023-12-06", "intra", "article"],
        ["2023-12-06", "pre", "article"], ["2023-12-04", "unknown", "reference"]]
    assert ev.loc[ev["ticker"] == "SE", "market"].item() == "SPY"
    assert (ev["headline"] == "GoTo Shares Slide as Talks Drag On Without a Deal").all()
    catalogue = events_from_frame(ev)
    assert len(catalogue) == 4 and not catalogue.problems


def test_timestamp_publication_goes_into_the_catalogue():
    x = extract_article("GoTo rose 1% in Jakarta.", DURING_JAKARTA, GAZ)
    assert x.events["timestamp"].tolist() == ["2023-12-05T10:00:00+07:00"]
    catalogue = events_from_frame(x.events)
    assert catalogue.frame["timestamp"].iloc[0] == pd.Timestamp("2023-12-05T03:00:00Z")


# --- the seed article ---------------------------------------------------------------------------

def test_seed_article(seed_article):
    text = seed_article.read_text(encoding="utf-8")
    x = extract_article(text, parse_publication("2023-12-05", "intra", "XIDX"), GAZ)
    ev = x.events.set_index("ticker")
    assert sorted(ev.index) == ["BELI.JK", "BUKA.JK", "GOTO.JK", "SE"]
    assert ev.loc["GOTO.JK", ["date", "timing"]].tolist() == ["2023-12-05", "intra"]
    assert ev.loc["SE", ["date", "timing", "market"]].tolist() == ["2023-12-05", "pre", "SPY"]
    ents = x.entities.set_index("name")
    for name in ("TikTok", "ByteDance"):
        assert ents.loc[name, "status"] == "unlisted" and ents.loc[name, "ticker"] == ""
    c = x.claims
    assert c[["ticker", "kind", "direction", "reversal"]].values.tolist() == [
        ["GOTO.JK", "intraday_reversal", "up", "full"],
        ["GOTO.JK", "intraday_extreme", "up", ""]]
    extreme = c.iloc[1]
    assert (extreme.magnitude_pct, extreme.qualifier, extreme.date_start, extreme.venue_exchange,
            extreme.in_progress) == (5.0, "as high as", "2023-12-05", "XIDX", "yes")
    assert c["sentence"].nunique() == 1
    dates = {r.expression: (r.first, r.last, r.tense) for r in x.dates.itertuples()}
    assert dates["last month"] == ("2023-11-01", "2023-11-30", "past")
    assert dates["next week"] == ("2023-12-11", "2023-12-17", "future")


def test_dates_and_venues_belong_to_their_clause():
    pub = parse_publication("2023-12-06T17:00:00+07:00")  # Wednesday, after the IDX close
    c = claims_of("On Monday, GoTo rose 3% and Bukalapak fell 2%, while on Tuesday Blibli "
                  "rose 1%.", pub)
    assert c[["ticker", "date_start"]].values.tolist() == [
        ["GOTO.JK", "2023-12-04"], ["BUKA.JK", "2023-12-04"], ["BELI.JK", "2023-12-05"]]
    # a date after 'since' is a baseline, not the day of the move
    since = claims_of("GoTo shares rose 2% to 103 rupiah, the highest close since November "
                      "2022.", pub)
    assert since[["date_start", "date_end"]].values.tolist() == [["2023-12-06", "2023-12-06"]]
    # one clause per company: Nestlé's move is not 'in Paris trading'
    gaz = parse_gazetteer("name,ticker,exchange\nNestle,NESN.SW,XSWX\nSocGen,GLE.PA,XPAR\n",
                          "g.csv")
    both = claims_of("Nestle shares fell 1% while SocGen shares rose 2% in Paris trading.",
                     pub, gaz)
    assert both["venue_exchange"].tolist() == ["", "XPAR"]


def test_intraday_low_then_close_in_one_sentence():
    pub = parse_publication("2023-12-06T17:00:00+07:00")
    c = claims_of("GoTo’s shares fell as much as 4.2% in early trading before recovering to "
                  "close 1% higher. Bukalapak rose close to 5%.", pub)
    assert c[["ticker", "direction", "magnitude_pct", "bound", "kind", "subject_basis"]
             ].values.tolist() == [
        ["GOTO.JK", "down", 4.2, "extreme", "intraday_extreme", "in sentence"],
        ["GOTO.JK", "up", 1.0, "exact", "close_to_close", "previous cue"],
        ["BUKA.JK", "up", 5.0, "at_most", "close_to_close", "in sentence"]]
