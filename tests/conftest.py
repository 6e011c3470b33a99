"""Shared fixtures: the read-only data in ../shared and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run (a red CI must mean a regression, not a new draw);
# local runs keep drawing new examples to find new bugs.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

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
