"""Everything the broker needs at run time, built once at start-up and never half-built."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from broker.auth.clock import Clock, system_clock
from broker.auth.jwks import DefaultJwksFetcher, JwksProvider
from broker.auth.replay import ReplayCache
from broker.auth.replay_db import DatabaseReplayCache
from broker.auth.verifier import TokenVerifier
from broker.config.datasets import DatasetInfo, dataset_infos_from_contracts
from broker.config.keys import demo_keys_dir, ensure_demo_keys
from broker.config.loader import load_config, read_partners
from broker.config.models import BrokerConfig
from broker.config.settings import BrokerSecrets, BrokerSettings
from broker.policy.index import AgreementIndex
from contracts.base import Contract
from contracts.registry import all_contracts
from contracts.schema_revision import require_current_schema
from contracts.store import BACKGROUND_AUTOCHECKPOINT_PAGES, create_store_tables, make_engine

HELSINKI = ZoneInfo("Europe/Helsinki")


@dataclass(frozen=True)
class BrokerRuntime:
    """The broker's configuration, keys, store and verifier."""

    settings: BrokerSettings
    config: BrokerConfig
    contracts: dict[str, Contract]
    datasets: dict[str, DatasetInfo]
    index: AgreementIndex
    secrets: BrokerSecrets
    engine: Engine
    verifier: TokenVerifier
    clock: Clock

    def now(self) -> datetime:
        """The current time in Helsinki (agreements are valid on Finnish calendar days)."""
        return datetime.fromtimestamp(self.clock(), tz=HELSINKI)


def build_runtime(
    settings: BrokerSettings,
    *,
    clock: Clock = system_clock,
    replay_cache: ReplayCache | None = None,
    jwks: JwksProvider | None = None,
) -> BrokerRuntime:
    """Load and cross-check everything; raise ConfigurationError rather than half-start."""
    contracts = {contract.name: contract for contract in all_contracts()}
    datasets = dataset_infos_from_contracts(contracts.values())
    if settings.demo_mode:
        keys_dir = demo_keys_dir(settings.config_dir)
        if keys_dir is not None:
            ensure_demo_keys(read_partners(settings.config_dir), keys_dir)
    config = load_config(settings.config_dir, datasets)
    secrets = settings.resolve_secrets()
    engine = make_engine(
        settings.database_url,
        wal_autocheckpoint=(
            BACKGROUND_AUTOCHECKPOINT_PAGES if settings.sqlite_checkpoint_seconds else None
        ),
    )
    # Tillit's own tables come from `tillit db upgrade`; a replica never migrates on its own.
    require_current_schema(engine)
    create_store_tables(engine)
    # Replays are remembered in the database, so every worker process refuses a spent token.
    replay_cache = replay_cache or DatabaseReplayCache(engine, clock)
    provider = jwks or JwksProvider(
        DefaultJwksFetcher(), clock, settings.jwks_refresh_min_interval_seconds
    )
    verifier = TokenVerifier(config, settings, provider, replay_cache, clock)
    return BrokerRuntime(
        settings=settings,
        config=config,
        contracts=contracts,
        datasets=datasets,
        index=AgreementIndex.build(config.agreements),
        secrets=secrets,
        engine=engine,
        verifier=verifier,
        clock=clock,
    )
