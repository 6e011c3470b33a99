"""The price cache never loses data: kill -9 mid-write, concurrent writers, damaged entries.

Real subprocesses run ``PriceStore`` writes; the parent kills them with SIGKILL while a
temporary file is being written, or lets two of them update one ticker at the same time.
``marketreact prices verify`` is run on caches damaged in known ways.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from marketreact.cli import app
from marketreact.prices import PriceStore, YahooSource
from marketreact.prices.frames import PRICE_COLUMNS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _frame(n: int, value: float, start: str = "1990-01-01", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=n, freq="D", name="date").as_unit("ns")
    data = {c: rng.random(n) + value for c in PRICE_COLUMNS}
    data["adj_close"] = np.full(n, value)  # the version, readable in every row
    return pd.DataFrame(data, index=idx)


WRITER = textwrap.dedent("""
    import sys, numpy as np, pandas as pd
    from marketreact.prices import PriceStore
    from marketreact.prices.frames import PRICE_COLUMNS
    root, rows = sys.argv[1], int(sys.argv[2])
    store = PriceStore(root)
    rng = np.random.default_rng(1)
    idx = pd.date_range("1700-01-01", periods=rows, freq="D", name="date")
    for version in range(1, 1000):
        data = {c: rng.random(rows) for c in PRICE_COLUMNS}
        data["adj_close"] = np.full(rows, float(version))
        frame = pd.DataFrame(data, index=idx)
        with store.lock("KILL.JK"):
            store.write("KILL.JK", frame, idx[0], idx[-1])
        print(version, flush=True)
""")


def _wait_for_temp(folder: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"writer exited early: {err}")
        temps = list(folder.glob(".KILL.JK.parquet.*.tmp"))
        if temps and temps[0].exists() and temps[0].stat().st_size > 0:
            return
        time.sleep(0.002)
    raise AssertionError("the writer never started a write")


@pytest.mark.parametrize("completed_writes", [0, 2])
def test_sigkill_mid_write_leaves_previous_data(tmp_path: Path, completed_writes: int) -> None:
    store = PriceStore(tmp_path)
    previous = _frame(500, 0.0)
    with store.lock("KILL.JK"):
        store.write("KILL.JK", previous, previous.index[0], previous.index[-1])
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "200000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        done = 0
        while done < completed_writes:  # let some writes finish first
            line = proc.stdout.readline() if proc.stdout else ""
            assert line, proc.stderr.read() if proc.stderr else ""
            done = int(line)
        _wait_for_temp(store.folder, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert list(store.folder.glob(".KILL.JK.parquet.*.tmp"))  # killed in the middle of a write
    cached = store.read("KILL.JK")
    assert cached is not None
    versions = set(cached.frame["adj_close"].unique())
    assert len(versions) == 1  # one whole version, never a mix
    if completed_writes == 0:
        pd.testing.assert_frame_equal(cached.frame, previous, check_freq=False)
    else:
        assert versions.pop() >= completed_writes and len(cached.frame) == 200000
    # the lock died with the process, and verify sees a sound entry plus a leftover
    with store.lock("KILL.JK").acquire(timeout=5):
        pass
    checks = store.verify()
    assert [c.status for c in checks] == ["stale", "ok"]
    result = CliRunner().invoke(app, ["prices", "verify", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "interrupted write" in result.stdout
    result = CliRunner().invoke(app, ["prices", "verify", "--cache-dir", str(tmp_path),
                                      "--remove-damaged"])
    assert result.exit_code == 0 and not list(store.folder.glob("*.tmp"))
    assert store.read("KILL.JK") is not None


MERGER = textwrap.dedent("""
    import sys, time, numpy as np, pandas as pd
    from marketreact.prices import PriceStore
    from marketreact.prices.frames import PRICE_COLUMNS
    root, parity, n_chunks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = PriceStore(root)
    start = pd.Timestamp("2000-01-01")
    open(f"{root}/ready-{parity}", "w").close()  # start together: wait for the other one
    while not all(__import__("os").path.exists(f"{root}/ready-{k}") for k in (0, 1)):
        time.sleep(0.001)
    for chunk in range(parity, n_chunks, 2):
        time.sleep(0.003)  # outside the lock: lets the other writer in
        # never more than one update ahead of the other writer (a loaded machine could
        # otherwise run one process to the end first): the two really interleave
        deadline = time.monotonic() + 10
        while chunk >= 3 and not __import__("os").path.exists(f"{root}/done-{chunk - 3}") \
                and time.monotonic() < deadline:
            time.sleep(0.001)
        idx = pd.date_range(start + pd.Timedelta(days=chunk * 10), periods=10, freq="D",
                            name="date")
        frame = pd.DataFrame({c: np.full(10, float(chunk)) for c in PRICE_COLUMNS}, index=idx)
        store.merge("SAME.JK", frame, start, idx[-1])
        open(f"{root}/done-{chunk}", "w").close()
        print(time.monotonic(), chunk, flush=True)
""")


def test_two_processes_updating_one_ticker_lose_nothing(tmp_path: Path) -> None:
    n_chunks = 40
    procs = [subprocess.Popen([sys.executable, "-c", MERGER, str(tmp_path), str(parity),
                               str(n_chunks)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for parity in (0, 1)]
    store = PriceStore(tmp_path)
    reads = 0
    while any(p.poll() is None for p in procs):  # read all along: never a partial file
        cached = store.read("SAME.JK") if store.path("SAME.JK").exists() else None
        if cached is not None:
            assert cached.frame.index.is_unique and cached.frame.index.is_monotonic_increasing
            reads += 1
        time.sleep(0.005)
    outs = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    stamps = sorted((float(t), int(c) % 2) for out, _ in outs for t, c in
                    (line.split() for line in out.split("\n") if line))
    switches = sum(a[1] != b[1] for a, b in itertools.pairwise(stamps))
    assert switches >= 2  # the two writers really did interleave
    final = store.read("SAME.JK")
    assert final is not None and reads > 0
    # every chunk of both writers is there: no update was lost
    assert len(final.frame) == n_chunks * 10
    chunks = final.frame["close"].to_numpy().reshape(n_chunks, 10)
    assert (chunks == np.arange(n_chunks)[:, None]).all()
    assert final.fetched_start == pd.Timestamp("2000-01-01")
    assert final.fetched_end == pd.Timestamp("2000-01-01") + pd.Timedelta(days=n_chunks * 10 - 1)
    assert [c.status for c in store.verify()] == ["ok"]


# ------------------------------------------------------------------ damaged entries


def _write_raw(path: Path, frame: pd.DataFrame, meta: dict[str, str] | None) -> None:
    table = pa.Table.from_pandas(frame.reset_index(), preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata({b"marketreact": json.dumps(meta).encode()})
    pq.write_table(table, path)


def _meta(ticker: str, frame: pd.DataFrame) -> dict[str, str]:
    return {"ticker": ticker, "fetched_start": str(frame.index[0].date()),
            "fetched_end": str(frame.index[-1].date()), "format": "1"}


def _damage(store: PriceStore, kind: str) -> str:
    good = _frame(30, 100.0, "2023-01-01")
    name = f"D{kind.upper().replace('-', '')[:8]}.JK"
    path = store.path(name)
    with store.lock(name):
        store.write(name, good, good.index[0], good.index[-1])
    if kind == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "zero-length":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(os.urandom(2048))
    elif kind == "no-metadata":
        _write_raw(path, good, None)
    elif kind == "bad-metadata":
        table = pq.read_table(path).replace_schema_metadata({b"marketreact": b"{not json"})
        pq.write_table(table, path)
    elif kind == "wrong-ticker":
        _write_raw(path, good, _meta("OTHER.JK", good))
    elif kind == "duplicate-dates":
        dup = pd.concat([good, good.iloc[:3]]).sort_index()
        _write_raw(path, dup, _meta(name, good))
    elif kind == "negative-price":
        bad = good.copy()
        bad.iloc[5, 3] = -4.0
        _write_raw(path, bad, _meta(name, good))
    elif kind == "outside-span":
        _write_raw(path, good, {**_meta(name, good), "fetched_end": "2023-01-10"})
    elif kind == "wrong-columns":
        _write_raw(path, good.drop(columns="volume"), _meta(name, good))
    elif kind == "infinite":
        bad = good.copy()
        bad.iloc[2, 4] = np.inf
        _write_raw(path, bad, _meta(name, good))
    return name


DAMAGES = {
    "truncated": "Parquet", "zero-length": "Parquet", "garbage": "Parquet",
    "no-metadata": "metadata", "bad-metadata": "metadata", "wrong-ticker": "OTHER.JK",
    "duplicate-dates": "unique", "negative-price": "negative", "outside-span": "outside",
    "wrong-columns": "columns", "infinite": "infinite",
}


def test_verify_reports_each_kind_of_damage(tmp_path: Path) -> None:
    store = PriceStore(tmp_path)
    healthy = _frame(40, 7.0, "2022-01-01")
    with store.lock("FINE.JK"):
        store.write("FINE.JK", healthy, healthy.index[0], healthy.index[-1])
    names = {kind: _damage(store, kind) for kind in DAMAGES}
    result = CliRunner().invoke(app, ["prices", "verify", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 1, result.stdout + result.stderr
    errors = [x for x in result.stderr.splitlines() if "damaged:" in x]
    assert len(errors) == len(DAMAGES)
    for kind, words in DAMAGES.items():
        line = next((x for x in errors if f"{names[kind]}.parquet" in x), None)
        assert line is not None and words in line, (kind, line)
    assert "FINE.JK" in result.stdout and "Traceback" not in result.stdout + result.stderr
    # removing them leaves a sound cache
    result = CliRunner().invoke(app, ["prices", "verify", "--cache-dir", str(tmp_path),
                                      "--remove-damaged"])
    assert result.exit_code == 1 and "(removed)" in result.stderr
    result = CliRunner().invoke(app, ["prices", "verify", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0 and "1 entry ok, 0 damaged" in result.stdout
    assert store.read("FINE.JK") is not None


def test_verify_empty_and_missing_cache(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["prices", "verify", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0 and "no cache entries" in result.stdout
    result = CliRunner().invoke(app, ["prices", "verify", "--cache-dir",
                                      str(tmp_path / "nope")])
    assert result.exit_code == 2 and "field '--cache-dir'" in result.stderr


def test_a_damaged_entry_is_fetched_again(tmp_path: Path) -> None:
    store = PriceStore(tmp_path)
    name = _damage(store, "truncated")
    fresh = _frame(20, 50.0, "2023-02-01")
    idx = pd.MultiIndex.from_product([["Open", "High", "Low", "Close", "Adj Close", "Volume"],
                                      [name]], names=["Price", "Ticker"])
    cols = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
            "Adj Close": "adj_close", "Volume": "volume"}
    data = pd.DataFrame({k: fresh[v].to_numpy() for k, v in cols.items()}, index=fresh.index)
    data.columns = idx

    def download(tickers: list[str], **kwargs: object) -> pd.DataFrame:
        return data

    got = YahooSource(store, download=download).fetch([name], fresh.index[0], fresh.index[-1])
    assert not got.failures
    np.testing.assert_array_equal(got.frames[name]["adj_close"], fresh["adj_close"])
    assert [c.status for c in store.verify()] == ["ok"]


def test_merge_never_claims_a_gap_as_fetched(tmp_path: Path) -> None:
    store = PriceStore(tmp_path)
    jan = _frame(31, 1.0, "2023-01-01")
    jun = _frame(30, 2.0, "2023-06-01")
    store.merge("GAP.JK", jan, jan.index[0], jan.index[-1])
    after = store.merge("GAP.JK", jun, jun.index[0], jun.index[-1])
    # February to May were never fetched: the entry holds June only, with June's span
    assert after.fetched_start == pd.Timestamp("2023-06-01") and len(after.frame) == 30
    feb = _frame(28, 3.0, "2023-07-01")
    joined = store.merge("GAP.JK", feb, feb.index[0], feb.index[-1])  # touches June's span
    assert joined.fetched_start == pd.Timestamp("2023-06-01")
    assert joined.fetched_end == pd.Timestamp("2023-07-28") and len(joined.frame) == 58
