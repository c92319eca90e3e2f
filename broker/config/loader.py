"""Load and cross-check the broker's configuration directory; all of it or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from broker.config.agreement_checks import check_agreement, check_no_overlaps
from broker.config.datasets import DatasetInfo
from broker.config.jwks import JwksError, parse_jwks_bytes
from broker.config.models import Agreement, BrokerConfig, LegalBasis, Partner, Purpose
from broker.config.subject_access import read_subject_access
from broker.config.yaml_files import describe_validation_error, read_yaml, validate_items
from broker.errors import ConfigurationError

PARTNERS_FILE = "partners.yaml"
LEGAL_BASES_FILE = "legal_bases.yaml"
PURPOSES_FILE = "purposes.yaml"
AGREEMENTS_DIR = "agreements"
SUBJECT_ACCESS_FILE = "subject_access.yaml"


def read_partners(config_dir: Path) -> tuple[Partner, ...]:
    """Validate `partners.yaml`, resolving each jwks_file against the configuration directory."""
    path = config_dir / PARTNERS_FILE
    partners = validate_items(path, "partners", Partner)
    issuers: dict[str, str] = {}
    resolved = []
    for partner in partners.values():
        if partner.issuer in issuers:
            raise ConfigurationError(
                path, f"partners {issuers[partner.issuer]!r} and {partner.id!r} share an issuer"
            )
        issuers[partner.issuer] = partner.id
        if partner.jwks_file is not None:
            partner = partner.model_copy(
                update={"jwks_file": (config_dir / partner.jwks_file).resolve()}
            )
        resolved.append(partner)
    return tuple(resolved)


def _check_jwks_files(partners: tuple[Partner, ...], path: Path) -> None:
    for partner in partners:
        if partner.jwks_file is None:
            continue
        try:
            parse_jwks_bytes(partner.jwks_file.read_bytes())
        except OSError:
            raise ConfigurationError(
                path, f"partner {partner.id!r}: jwks_file {partner.jwks_file} cannot be read"
            ) from None
        except JwksError as exc:
            raise ConfigurationError(
                path, f"partner {partner.id!r}: jwks_file {partner.jwks_file}: {exc}"
            ) from None


def _check_purposes(
    purposes: Mapping[str, Purpose], legal_bases: Mapping[str, LegalBasis], path: Path
) -> None:
    for purpose in purposes.values():
        for basis in purpose.legal_bases:
            if basis not in legal_bases:
                raise ConfigurationError(
                    path, f"purpose {purpose.id!r}: unknown legal basis {basis!r}"
                )
        for other in purpose.compatible_with:
            if other not in purposes:
                raise ConfigurationError(
                    path, f"purpose {purpose.id!r}: compatible_with unknown purpose {other!r}"
                )


def _read_agreement(path: Path) -> Agreement:
    document = read_yaml(path)
    if not isinstance(document, dict):
        raise ConfigurationError(path, "expected one agreement as a mapping")
    try:
        return Agreement.model_validate(document)
    except ValidationError as exc:
        raise ConfigurationError(path, describe_validation_error(exc, "")) from None


def _read_agreements(directory: Path) -> tuple[list[Agreement], dict[str, Path]]:
    if not directory.is_dir():
        raise ConfigurationError(directory, "agreements directory not found")
    agreements: list[Agreement] = []
    files: dict[str, Path] = {}
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in paths:
        agreement = _read_agreement(path)
        if agreement.id in files:
            raise ConfigurationError(
                path, f"duplicate agreement id {agreement.id!r} (also in {files[agreement.id]})"
            )
        files[agreement.id] = path
        agreements.append(agreement)
    return agreements, files


def load_config(config_dir: Path, datasets: Mapping[str, DatasetInfo]) -> BrokerConfig:
    """Load every configuration file and cross-check it; raise ConfigurationError on any fault."""
    legal_bases = validate_items(config_dir / LEGAL_BASES_FILE, "legal_bases", LegalBasis)
    purposes_path = config_dir / PURPOSES_FILE
    purposes = validate_items(purposes_path, "purposes", Purpose)
    _check_purposes(purposes, legal_bases, purposes_path)
    partners = read_partners(config_dir)
    _check_jwks_files(partners, config_dir / PARTNERS_FILE)
    partners_by_id = {p.id: p for p in partners}
    agreements, files = _read_agreements(config_dir / AGREEMENTS_DIR)
    for agreement in agreements:
        check_agreement(
            agreement, files[agreement.id], partners_by_id, purposes, legal_bases, datasets
        )
    check_no_overlaps(agreements, files)
    subject_access = read_subject_access(
        config_dir / SUBJECT_ACCESS_FILE, purposes, legal_bases, datasets
    )
    return BrokerConfig(
        config_dir=config_dir.resolve(),
        partners=partners_by_id,
        legal_bases=legal_bases,
        purposes=purposes,
        agreements=tuple(agreements),
        agreement_files=files,
        datasets=dict(datasets),
        subject_access=subject_access,
    )
