"""The `tillit` command as stewards and operators use it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from tillit.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_contracts_list_and_show() -> None:
    listed = runner.invoke(app, ["contracts", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    for name in ("persons", "ece_placements", "family_service_cases", "families_moving_in"):
        assert name in listed.output
    shown = runner.invoke(
        app, ["contracts", "show", "family_service_cases"], env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0
    assert "client_id" in shown.output and "sensitive" in shown.output
    assert "social_welfare_act_1301_2014" in shown.output
    unknown = runner.invoke(app, ["contracts", "show", "pets"])
    assert unknown.exit_code == 2 and "known:" in unknown.output


def test_dev_token_mints_a_single_use_access_token(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    result = runner.invoke(app, ["dev-token", "--partner", "kela", "--config-dir", str(config_dir)])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    jwks = json.loads((tmp_path / "var" / "keys" / "kela.jwks.json").read_text())
    key = jwt.PyJWK(jwks["keys"][0], algorithm="ES256")
    claims = jwt.decode(
        token, key=key, algorithms=["ES256"], audience="https://tillit.lahti.fi/broker"
    )
    assert claims["iss"] == "https://idp.kela.fi" and claims["exp"] - claims["iat"] <= 300
    assert claims["jti"]
    unknown = runner.invoke(
        app, ["dev-token", "--partner", "nobody", "--config-dir", str(config_dir)]
    )
    assert unknown.exit_code == 2


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The demo configuration with partner keys generated beside it."""
    from broker.config.keys import ensure_demo_keys
    from broker.config.loader import read_partners

    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    ensure_demo_keys(read_partners(target), tmp_path / "var" / "keys")
    return target


def test_agreements_check_shows_what_each_purpose_releases(config_dir: Path) -> None:
    result = runner.invoke(
        app, ["agreements", "check", "--config-dir", str(config_dir)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "kela-daycare-fee-decision" in result.output
    assert "person_id:pseudonymise" in result.output
    assert "configuration is valid" in result.output


def test_agreements_check_names_the_broken_file(config_dir: Path) -> None:
    broken = config_dir / "agreements" / "kela-daycare-fee-decision.yaml"
    broken.write_text(broken.read_text() + "\nsurprise: true\n")
    result = runner.invoke(app, ["agreements", "check", "--config-dir", str(config_dir)])
    assert result.exit_code == 1
    assert "kela-daycare-fee-decision.yaml" in result.output.replace("\n", "")


def test_policy_explain_gives_the_decision_without_releasing_data(config_dir: Path) -> None:
    permit = runner.invoke(
        app,
        [
            "policy",
            "explain",
            "--partner",
            "kela",
            "--dataset",
            "ece_placements",
            "--purpose",
            "daycare_fee_decision",
            "--legal-basis",
            "ece_act_540_2018",
            "--fields",
            "child_id",
            "--fields",
            "sex",
            "--config-dir",
            str(config_dir),
        ],
        env={"COLUMNS": "200"},
    )
    assert permit.exit_code == 0, permit.output
    assert "PERMIT" in permit.output and "withheld: sex (field_not_in_agreement)" in permit.output
    deny = runner.invoke(
        app,
        [
            "policy",
            "explain",
            "--partner",
            "asikkala",
            "--dataset",
            "ece_placements",
            "--purpose",
            "ece_placement",
            "--legal-basis",
            "ece_act_540_2018",
            "--config-dir",
            str(config_dir),
        ],
        env={"COLUMNS": "200"},
    )
    assert deny.exit_code == 3 and "agreement_not_in_force" in deny.output


def test_contracts_lint_passes_and_reports_file_and_field(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(app, ["contracts", "lint"]).exit_code == 0
    package = tmp_path / "steward_drafts"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pupils.py").write_text(
        "import pandera.pandas as pa\n"
        "from pandera.typing import Series\n"
        "from contracts.base import Classification, governed\n"
        "from contracts.define import define_contract\n"
        "class PupilsModel(pa.DataFrameModel):\n"
        "    '''Pupils.'''\n"
        "    pupil_id: Series[str] = governed(description='Code', classification="
        "Classification.PERSONAL, source='x.hetu', henkilotunnus=())\n"
        "PUPILS = define_contract(PupilsModel, name='pupils', version='1.0.0',"
        " owner='team:school', source_system='school_enrolment', purposes=('school_enrolment',),"
        " legal_basis='basic_education_act_628_1998', retention='P1Y', primary_key=('pupil_id',))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    from contracts.lint import lint_contracts

    [violation] = lint_contracts(importlib.import_module("steward_drafts"))
    assert violation.file.endswith("steward_drafts/pupils.py")
    assert violation.field == "pupil_id" and "direct identifier" in violation.message


@pytest.mark.integration
def test_pipeline_run_shows_progress_and_lineage_traces_it(
    tmp_path: Path, legacy_drop: Path
) -> None:
    store = f"sqlite:///{tmp_path}/store.db"
    refused = runner.invoke(
        app, ["pipeline", "run", "--database-url", store, "--legacy-dir", str(legacy_drop)]
    )
    assert refused.exit_code == 1
    assert "tillit db upgrade" in refused.output
    migrated = runner.invoke(app, ["db", "upgrade", "--database-url", store])
    assert migrated.exit_code == 0, migrated.output
    result = runner.invoke(
        app,
        [
            "pipeline",
            "run",
            "--database-url",
            f"sqlite:///{tmp_path}/store.db",
            "--legacy-dir",
            str(legacy_drop),
        ],
        # An empty DAGSTER_HOME keeps the run on an ephemeral instance (no log tailers left).
        env={"COLUMNS": "200", "DAGSTER_HOME": ""},
    )
    assert result.exit_code == 0, result.output
    assert "Loading datasets through their contracts" in result.output
    assert "What landed in the sharing store" in result.output
    assert "What was quarantined, and why" in result.output
    assert "asset checks passed" in result.output
    upstream = runner.invoke(
        app,
        [
            "lineage",
            "upstream",
            "tillit://store/households",
            "--depth",
            "2",
            "--database-url",
            f"sqlite:///{tmp_path}/store.db",
        ],
        env={"COLUMNS": "200"},
    )
    assert upstream.exit_code == 0, upstream.output
    assert (
        "tillit://store/persons" in upstream.output and "via pipeline.households" in upstream.output
    )
    assert "VTJ_OTE.txt" in upstream.output
    missing = runner.invoke(
        app,
        [
            "lineage",
            "share",
            "00000000-0000-0000-0000-000000000000",
            "--database-url",
            f"sqlite:///{tmp_path}/store.db",
        ],
    )
    assert missing.exit_code == 1
