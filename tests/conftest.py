"""Shared test fixtures. Real datasets live in ../shared/data (never copied here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; tests that need it skip with a reason where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (CI has them; see ../shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture()
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy `bootstrap` generator of `bench_fixtures` in the generator registry (bench tests)."""
    from bench_fixtures import BootstrapGenerator
    from synthrec.generators.registry import GENERATORS

    monkeypatch.setitem(GENERATORS, "bootstrap", BootstrapGenerator)
