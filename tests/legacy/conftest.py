"""Shared drops for the legacy tests: generated once per session, read once per system."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from orchestration.legacy import READERS, generate_legacy

from .support import AS_OF, DEFECT_RATE


@pytest.fixture(scope="session")
def drop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drop with a high defect rate so every kind of defect shows up."""
    out = tmp_path_factory.mktemp("drop")
    generate_legacy(out, people=2000, seed=11, defect_rate=DEFECT_RATE, as_of=AS_OF)
    return out


@pytest.fixture(scope="session")
def small_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small drop with the default defect rate, copied and edited by drift tests."""
    out = tmp_path_factory.mktemp("small")
    generate_legacy(out, people=400, seed=3, as_of=AS_OF)
    return out


@pytest.fixture(scope="session")
def tables(drop_dir: Path) -> dict[str, pd.DataFrame]:
    """Every system of `drop_dir` read in one frame each."""
    return read_all(drop_dir)


@pytest.fixture(scope="session")
def heavy_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drop where half of all rows are defective, so even small systems get every kind."""
    out = tmp_path_factory.mktemp("heavy")
    generate_legacy(out, people=8000, seed=5, defect_rate=0.5, as_of=AS_OF)
    return out


def read_all(legacy_dir: Path) -> dict[str, pd.DataFrame]:
    """Read every system of a drop into one frame each."""
    return {
        system: pd.concat(list(reader(legacy_dir, 100_000)), ignore_index=True)
        for system, reader in READERS.items()
    }
