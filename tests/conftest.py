"""Shared fixtures: the read-only data in ../shared and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
GOTO_EVENTS = ROOT / "data" / "events" / "goto_tiktok.csv"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (tests that need it are skipped, with a reason, when it is absent)."""
    if not (SHARED_DATA / "prices").is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prices_dir(shared_data: Path) -> Path:
    """Folder of real per-ticker price files (IDX, IDX stock-db JSON, US)."""
    return shared_data / "prices"


@pytest.fixture(scope="session")
def seed_article() -> Path:
    """The seed article text in ``../shared/seeds``."""
    path = next(iter(sorted((SHARED / "seeds").glob("0*.txt"))), None)
    if path is None:
        pytest.skip("../shared/seeds has no article on this machine")
    return path


@pytest.fixture(scope="session")
def goto_events() -> Path:
    """The GoTo–TikTok catalogue shipped with the project."""
    return GOTO_EVENTS
