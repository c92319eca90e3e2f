"""Loading configuration: the demo loads; every defect stops the broker naming file and problem."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from broker.config import DatasetInfo, load_config
from broker.errors import ConfigurationError
from tests.broker.conftest import DemoEnvironment, copy_demo_config

Mutation = Callable[[Path], object]


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _partner(index: int, change: Callable[[dict[str, Any]], None]) -> Mutation:
    return lambda d: _edit(d / "partners.yaml", lambda doc: change(doc["partners"][index]))


def _agreement(name: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    return lambda d: _edit(d / "agreements" / f"{name}.yaml", change)


def _copy_agreement(name: str, new_name: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(config_dir: Path) -> None:
        source = config_dir / "agreements" / f"{name}.yaml"
        target = config_dir / "agreements" / f"{new_name}.yaml"
        target.write_text(source.read_text())
        _edit(target, change)

    return mutate


def _write_jwks(config_dir: Path, partner_id: str, content: str) -> None:
    (config_dir.parent / "var" / "keys" / f"{partner_id}.jwks.json").write_text(content)


KELA = "kela-daycare-fee-decision"

INVALID_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "unknown key in a partner",
        _partner(0, lambda p: p.update(colour="red")),
        "partners.yaml",
        "colour: Extra inputs are not permitted",
    ),
    (
        "HS256 algorithm",
        _partner(0, lambda p: p.update(algorithms=["HS256"])),
        "partners.yaml",
        "algorithms.0",
    ),
    ("alg none", _partner(1, lambda p: p.update(algorithms=["none"])), "partners.yaml", "none"),
    (
        "no algorithms",
        _partner(1, lambda p: p.update(algorithms=[])),
        "partners.yaml",
        "algorithms",
    ),
    (
        "both jwks_file and jwks_uri",
        _partner(0, lambda p: p.update(jwks_uri="https://idp.lahti.fi/jwks")),
        "partners.yaml",
        "exactly one of jwks_file and jwks_uri",
    ),
    (
        "neither jwks_file nor jwks_uri",
        _partner(0, lambda p: p.pop("jwks_file")),
        "partners.yaml",
        "exactly one of jwks_file and jwks_uri",
    ),
    (
        "plain http issuer",
        _partner(0, lambda p: p.update(issuer="http://idp.lahti.fi/education")),
        "partners.yaml",
        "must use https",
    ),
    (
        "unknown partner kind",
        _partner(0, lambda p: p.update(kind="ministry")),
        "partners.yaml",
        "kind",
    ),
    (
        "duplicate partner id",
        lambda d: _edit(
            d / "partners.yaml", lambda doc: doc["partners"].append(doc["partners"][0])
        ),
        "partners.yaml",
        "duplicate id 'lahti-education'",
    ),
    (
        "two partners share an issuer",
        _partner(1, lambda p: p.update(issuer="https://idp.lahti.fi/education")),
        "partners.yaml",
        "share an issuer",
    ),
    (
        "missing jwks file",
        _partner(0, lambda p: p.update(jwks_file="../var/keys/nobody.jwks.json")),
        "partners.yaml",
        "cannot be read",
    ),
    (
        "unparseable jwks file",
        lambda d: _write_jwks(d, "kela", "{not json"),
        "partners.yaml",
        "not valid JSON",
    ),
    (
        "jwks holding only a symmetric key",
        lambda d: _write_jwks(
            d, "kela", json.dumps({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]})
        ),
        "partners.yaml",
        "no usable public signing key",
    ),
    (
        "legal basis reference off finlex",
        lambda d: _edit(
            d / "legal_bases.yaml",
            lambda doc: doc["legal_bases"][0].update(reference="https://example.com/661-2009"),
        ),
        "legal_bases.yaml",
        "finlex.fi or an ELI URI",
    ),
    (
        "malformed GDPR article",
        lambda d: _edit(
            d / "legal_bases.yaml", lambda doc: doc["legal_bases"][0].update(gdpr_article="six")
        ),
        "legal_bases.yaml",
        "gdpr_article",
    ),
    (
        "purpose with an unknown legal basis",
        lambda d: _edit(
            d / "purposes.yaml", lambda doc: doc["purposes"][0]["legal_bases"].append("gdpr_vibes")
        ),
        "purposes.yaml",
        "unknown legal basis 'gdpr_vibes'",
    ),
    (
        "purpose compatible with an unknown purpose",
        lambda d: _edit(
            d / "purposes.yaml",
            lambda doc: doc["purposes"][1]["compatible_with"].append("marketing"),
        ),
        "purposes.yaml",
        "compatible_with unknown purpose 'marketing'",
    ),
    (
        "duplicate YAML key",
        lambda d: (d / "purposes.yaml").write_text("purposes: []\npurposes: []\n"),
        "purposes.yaml",
        "duplicate key",
    ),
    (
        "invalid YAML",
        lambda d: (d / "purposes.yaml").write_text("purposes: [\n"),
        "purposes.yaml",
        "not valid YAML",
    ),
    (
        "missing file",
        lambda d: (d / "legal_bases.yaml").unlink(),
        "legal_bases.yaml",
        "file not found",
    ),
    (
        "unknown purpose in an agreement",
        _agreement(KELA, lambda a: a.update(purposes=["daycare_fee_decision", "marketing"])),
        f"{KELA}.yaml",
        "unknown purpose 'marketing'",
    ),
    (
        "unknown legal basis in an agreement",
        _agreement(KELA, lambda a: a.update(legal_basis="tax_act")),
        f"{KELA}.yaml",
        "unknown legal basis 'tax_act'",
    ),
    (
        "unknown partner in an agreement",
        _agreement(KELA, lambda a: a.update(partner="acme-analytics")),
        f"{KELA}.yaml",
        "unknown partner 'acme-analytics'",
    ),
    (
        "unknown dataset",
        _agreement(KELA, lambda a: a.update(dataset="tax_records")),
        f"{KELA}.yaml",
        "unknown dataset 'tax_records'",
    ),
    (
        "agreement legal basis not allowed by its purpose",
        _agreement(KELA, lambda a: a.update(legal_basis="statistics_act_280_2004")),
        f"{KELA}.yaml",
        "not one purpose 'daycare_fee_decision' allows",
    ),
    (
        "field not in dataset",
        _agreement(KELA, lambda a: a["fields"].append("income_eur")),
        f"{KELA}.yaml",
        "fields not in dataset 'ece_placements': income_eur",
    ),
    (
        "transform on a field not granted",
        _agreement(KELA, lambda a: a["transforms"].update(unit_name="keep")),
        f"{KELA}.yaml",
        "transforms name fields the agreement does not grant: unit_name",
    ),
    (
        "direct identifier kept without keep_direct_identifiers",
        _agreement(KELA, lambda a: a.update(keep_direct_identifiers=False)),
        f"{KELA}.yaml",
        "direct identifiers child_id are kept without keep_direct_identifiers",
    ),
    (
        "unknown transform",
        _agreement(KELA, lambda a: a["transforms"].update(start_date="generalise:decade")),
        f"{KELA}.yaml",
        "transforms.start_date",
    ),
    (
        "valid_until before valid_from",
        _agreement(KELA, lambda a: a.update(valid_until="2025-12-31")),
        f"{KELA}.yaml",
        "valid_until 2025-12-31 is before valid_from 2026-01-01",
    ),
    (
        "version not semver",
        _agreement(KELA, lambda a: a.update(version="2")),
        f"{KELA}.yaml",
        "version",
    ),
    (
        "unquoted municipality code in row_scope",
        _agreement(
            "asikkala-pupils-moving-away",
            lambda a: a.update(row_scope={"previous_municipality_code": 16}),
        ),
        "asikkala-pupils-moving-away.yaml",
        "row_scope.previous_municipality_code",
    ),
    (
        "row_scope on a field not in the dataset",
        _agreement(KELA, lambda a: a.update(row_scope={"municipality_code": "398"})),
        f"{KELA}.yaml",
        "row_scope names fields not in dataset",
    ),
    (
        "agreement for an operator",
        _agreement(KELA, lambda a: a.update(partner="tillit-operations")),
        f"{KELA}.yaml",
        "cannot receive shares",
    ),
    (
        "duplicate agreement id",
        _copy_agreement(KELA, "zz-copy", lambda a: None),
        "zz-copy.yaml",
        f"duplicate agreement id '{KELA}'",
    ),
    (
        "overlapping agreements for one purpose",
        _copy_agreement(
            KELA, "zz-kela-extra", lambda a: a.update(id="kela-extra", valid_from="2027-06-01")
        ),
        "zz-kela-extra.yaml",
        f"overlaps '{KELA}'",
    ),
]


def test_demo_configuration_loads(demo: DemoEnvironment) -> None:
    config = demo.config
    assert set(config.partners) >= {
        "lahti-education",
        "kela",
        "statistics-finland",
        "tillit-operations",
    }
    assert len(config.agreements) >= 8
    assert config.partner_by_issuer("https://idp.kela.fi") == config.partners["kela"]
    assert config.partner_by_issuer("https://idp.kela.fi/") is None
    assert config.agreement_files["kela-daycare-fee-decision"].name == f"{KELA}.yaml"


def test_demo_resolves_jwks_files_against_config_dir(demo: DemoEnvironment) -> None:
    jwks_file = demo.config.partners["kela"].jwks_file
    assert jwks_file == (demo.keys_dir / "kela.jwks.json").resolve()


@pytest.mark.parametrize(
    ("mutation", "file", "problem"),
    [pytest.param(m, f, p, id=name) for name, m, f, p in INVALID_CASES],
)
def test_invalid_configuration_is_refused(
    tmp_path: Path, datasets: dict[str, DatasetInfo], mutation: Mutation, file: str, problem: str
) -> None:
    config_dir, _ = copy_demo_config(tmp_path)
    mutation(config_dir)
    with pytest.raises(ConfigurationError) as caught:
        load_config(config_dir, datasets)
    message = str(caught.value)
    assert caught.value.file is not None and Path(caught.value.file).name == file, message
    assert problem in message


def test_an_ended_agreement_may_be_followed_by_a_new_version(
    tmp_path: Path, datasets: dict[str, DatasetInfo]
) -> None:
    config_dir, _ = copy_demo_config(tmp_path)
    _copy_agreement(
        KELA,
        "kela-old",
        lambda a: a.update(
            id="kela-old", version="1.0.0", valid_from="2025-01-01", valid_until="2025-12-31"
        ),
    )(config_dir)
    config = load_config(config_dir, datasets)
    assert {"kela-old", KELA} <= {a.id for a in config.agreements}


def test_missing_agreements_directory_is_named(
    tmp_path: Path, datasets: dict[str, DatasetInfo]
) -> None:
    config_dir, _ = copy_demo_config(tmp_path)
    for path in (config_dir / "agreements").iterdir():
        path.unlink()
    (config_dir / "agreements").rmdir()
    with pytest.raises(ConfigurationError, match="agreements directory not found"):
        load_config(config_dir, datasets)
