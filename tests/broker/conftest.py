"""Fixtures for broker tests: the shipped demo configuration with freshly generated keys."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker.config import BrokerConfig, DatasetInfo, dataset_infos_from_contracts, load_config
from broker.config.keys import ensure_demo_keys
from broker.config.loader import read_partners

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@dataclass(frozen=True)
class DemoEnvironment:
    """A copy of the demo configuration whose partner keys live in a temporary directory."""

    config_dir: Path
    keys_dir: Path
    config: BrokerConfig

    def private_key(self, partner_id: str) -> Path:
        """Path of a partner's private signing key."""
        return self.keys_dir / f"{partner_id}.pem"


@pytest.fixture(scope="session")
def datasets() -> dict[str, DatasetInfo]:
    """DatasetInfo of every registered contract, exactly as the broker will derive it."""
    from contracts.registry import all_contracts

    return dataset_infos_from_contracts(all_contracts())


def copy_demo_config(root: Path) -> tuple[Path, Path]:
    """Copy the shipped configuration under `root` and generate its demo keys there."""
    config_dir = root / "config"
    shutil.copytree(REPO_CONFIG, config_dir)
    keys_dir = root / "var" / "keys"
    ensure_demo_keys(read_partners(config_dir), keys_dir)
    return config_dir, keys_dir


@pytest.fixture(scope="session")
def demo(
    tmp_path_factory: pytest.TempPathFactory, datasets: dict[str, DatasetInfo]
) -> DemoEnvironment:
    """The demo configuration, loaded once for the session."""
    config_dir, keys_dir = copy_demo_config(tmp_path_factory.mktemp("demo"))
    return DemoEnvironment(config_dir, keys_dir, load_config(config_dir, datasets))
