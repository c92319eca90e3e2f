"""Configuration as code: strict models, the loader and runtime settings of the broker."""

from broker.config.datasets import DatasetInfo, FieldInfo, dataset_infos_from_contracts
from broker.config.loader import load_config, read_partners
from broker.config.models import Agreement, BrokerConfig, LegalBasis, Partner, Purpose
from broker.config.settings import BrokerSecrets, BrokerSettings

__all__ = [
    "Agreement",
    "BrokerConfig",
    "BrokerSecrets",
    "BrokerSettings",
    "DatasetInfo",
    "FieldInfo",
    "LegalBasis",
    "Partner",
    "Purpose",
    "dataset_infos_from_contracts",
    "load_config",
    "read_partners",
]
