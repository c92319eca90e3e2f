"""The `tillit` command as stewards and operators use it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jwt
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
