"""Bar files: a timestamp that is no time at all is reported as such (review of issue 14).

Reference: the file written here by hand; the error must name the file, the CSV line
(header = line 1), the field and the value, whether or not a zone is given.
"""

from __future__ import annotations

import pytest

from marketreact.errors import InputError
from marketreact.prices.bars import read_bars


@pytest.mark.parametrize("tz", [None, "America/New_York"])
def test_unparseable_stamp_is_not_called_naive(tmp_path, tz):
    path = tmp_path / "X.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    "2020-01-02T09:30:00-05:00,1,1,1,1,10\n"
                    "not-a-time,1,1,1,1,10\n")
    with pytest.raises(InputError) as err:
        read_bars(path, tz=tz)
    text = str(err.value)
    assert f"{path}:3, field 'timestamp', value 'not-a-time': is not an ISO 8601 time" in text
    assert "--bar-tz" not in text


def test_naive_stamp_still_needs_the_zone(tmp_path):
    path = tmp_path / "X.csv"
    path.write_text("timestamp,open,high,low,close\n2020-01-02 09:30:00,1,1,1,1\n")
    with pytest.raises(InputError, match=r"X.csv:2.*has no UTC offset: give the zone"):
        read_bars(path)
    got = read_bars(path, tz="America/New_York")
    assert str(got.index[0]) == "2020-01-02 14:30:00+00:00"  # 09:30 EST = 14:30 UTC
