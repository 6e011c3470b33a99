"""Atomic writes keep the old file on failure and give ordinary permissions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from marketreact._atomic import atomic_open


def test_failure_inside_the_block_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_written_files_follow_the_umask_not_mkstemp(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_open(tmp_path / "sub" / "b.bin", "wb") as fh:
            fh.write(b"x")
    finally:
        os.umask(old)
    path = tmp_path / "sub" / "b.bin"
    assert path.read_bytes() == b"x"
    assert path.stat().st_mode & 0o777 == 0o644  # 0o666 less the umask, not mkstemp's 0o600
