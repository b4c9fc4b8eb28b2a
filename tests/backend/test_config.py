"""Each process's settings: its own fields only, values that must agree checked, a bad one told in a line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.chain.deployments import REPO_ROOT
from backend.config import (
    ApiSettings,
    ChainSettings,
    CliSettings,
    DeploySettings,
    DevChainSettings,
    IndexerSettings,
    SettingsError,
    StoreSettings,
    TaskSettings,
    load_settings,
)

SIGNER = "0x" + "ab" * 20


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("GPUHOURS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout


def test_each_process_reads_only_its_own_fields():
    fields = {cls: set(cls.model_fields) for cls in (ApiSettings, TaskSettings, DeploySettings, CliSettings)}
    store = set(StoreSettings.model_fields)
    assert set(ChainSettings.model_fields) <= fields[CliSettings] and store <= fields[ApiSettings]
    assert not {f for f in fields[ApiSettings] if f.startswith(("keeper_", "indexer_", "pool_", "oracle_"))}
    assert not {f for f in fields[TaskSettings] if f.startswith(("api_", "pool_", "oracle_", "fee_"))}
    assert not fields[DeploySettings] & (store - set(ChainSettings.model_fields))
    assert not {f for f in fields[DeploySettings] if f.startswith(("api_", "indexer_", "keeper_", "task_"))}
    assert fields[CliSettings] == set(ChainSettings.model_fields) | {"api_host", "api_port"}
    assert "node_modules" in DevChainSettings.model_fields and "node_modules" not in fields[ApiSettings]


def test_the_variable_names_are_unchanged(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GPUHOURS_POOL_LLTV_BPS", "7000")
    monkeypatch.setenv("GPUHOURS_KEEPER_MAX_CALLS", "3")
    monkeypatch.setenv("GPUHOURS_API_PAGE_MAX", "40")
    monkeypatch.setenv("GPUHOURS_RPC_URL", "http://10.0.0.2:8545")
    assert load_settings(DeploySettings).pool_terms().lltv_bps == 7000
    assert load_settings(TaskSettings).keeper_max_calls == 3
    api = load_settings(ApiSettings)
    assert api.api_page_max == 40 and api.rpc_url == "http://10.0.0.2:8545"


@pytest.mark.parametrize(
    ("cls", "env", "names"),
    [
        (ApiSettings, {"API_PORT": "70000"}, ["GPUHOURS_API_PORT", "65535", "70000"]),
        (ApiSettings, {"RPC_URL": "127.0.0.1:8545"}, ["GPUHOURS_RPC_URL", "http://"]),
        (ApiSettings, {"DB_URL": "mysql://x/y"}, ["GPUHOURS_DB_URL", "postgresql://"]),
        (IndexerSettings, {"REDIS_URL": "127.0.0.1:6379"}, ["GPUHOURS_REDIS_URL", "redis://"]),
        (
            IndexerSettings,
            {"INDEXER_BATCH_BLOCKS": "500", "INDEXER_MAX_BATCH_BLOCKS": "100"},
            ["GPUHOURS_INDEXER_BATCH_BLOCKS (500)", "GPUHOURS_INDEXER_MAX_BATCH_BLOCKS (100)"],
        ),
        (
            IndexerSettings,
            {"INDEXER_BACKOFF": "5", "INDEXER_MAX_BACKOFF": "1"},
            ["GPUHOURS_INDEXER_BACKOFF (5)", "GPUHOURS_INDEXER_MAX_BACKOFF (1)"],
        ),
        (
            IndexerSettings,
            {"INDEXER_POLL_INTERVAL": "30", "INDEXER_LOCK_TTL": "10"},
            ["GPUHOURS_INDEXER_POLL_INTERVAL (30)", "GPUHOURS_INDEXER_LOCK_TTL (10)"],
        ),
        (
            TaskSettings,
            {"KEEPER_KEYSTORE": "k.json"},
            ["GPUHOURS_KEEPER_KEYSTORE", "GPUHOURS_KEEPER_PASSWORD_FILE"],
        ),
        (
            TaskSettings,
            {"KEEPER_PASSWORD_FILE": "pw"},
            ["GPUHOURS_KEEPER_KEYSTORE", "GPUHOURS_KEEPER_PASSWORD_FILE"],
        ),
        (
            DeploySettings,
            {"ORACLE_SIGNERS": f'["{SIGNER}"]', "ORACLE_THRESHOLD": "2"},
            ["GPUHOURS_ORACLE_THRESHOLD (2)", "1 GPUHOURS_ORACLE_SIGNERS"],
        ),
        (
            DeploySettings,
            {"ORACLE_SIGNERS": f'["{SIGNER}", "{SIGNER.upper()[2:]}"]'},
            ["GPUHOURS_ORACLE_SIGNERS"],
        ),
        (DeploySettings, {"ORACLE_SIGNERS": f'["{SIGNER}", "0x{SIGNER[2:].upper()}"]'}, ["each signer once"]),
        (DeploySettings, {"TREASURY": "0x1234"}, ["GPUHOURS_TREASURY", "20-byte"]),
        (DeploySettings, {"POOL_LLTV_BPS": "10000"}, ["GPUHOURS_POOL_LLTV_BPS", "10000"]),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_variables(
    monkeypatch: pytest.MonkeyPatch, cls: type, env: dict[str, str], names: list[str]
):
    for name, value in env.items():
        monkeypatch.setenv(f"GPUHOURS_{name}", value)
    with pytest.raises(SettingsError) as info:
        load_settings(cls)
    message = str(info.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_values_that_agree_are_accepted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("GPUHOURS_KEEPER_KEYSTORE", str(tmp_path / "k.json"))
    monkeypatch.setenv("GPUHOURS_KEEPER_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("GPUHOURS_INDEXER_BATCH_BLOCKS", "100")
    monkeypatch.setenv("GPUHOURS_INDEXER_MAX_BATCH_BLOCKS", "100")
    monkeypatch.setenv("GPUHOURS_REDIS_URL", "")  # empty: no Redis, as the tests and docs use it
    monkeypatch.setenv("GPUHOURS_ORACLE_SIGNERS", f'["{SIGNER}"]')
    monkeypatch.setenv("GPUHOURS_ORACLE_THRESHOLD", "1")
    assert load_settings(TaskSettings).keeper_keystore_files() == (tmp_path / "k.json", tmp_path / "pw")
    assert load_settings(DeploySettings).oracle_signers == [SIGNER]


def _gpuhours(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("gpuhours")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")}
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "variable"),
    [
        (["serve", "--tasks", "off"], {"GPUHOURS_API_PORT": "70000"}, "GPUHOURS_API_PORT"),
        (
            ["serve", "--tasks", "inprocess"],
            {"GPUHOURS_KEEPER_KEYSTORE": "k.json"},
            "GPUHOURS_KEEPER_PASSWORD_FILE",
        ),
        (
            ["index", "--once"],
            {"GPUHOURS_INDEXER_MAX_BATCH_BLOCKS": "0"},
            "GPUHOURS_INDEXER_MAX_BATCH_BLOCKS",
        ),
        (["deploy"], {"GPUHOURS_ORACLE_THRESHOLD": "0"}, "GPUHOURS_ORACLE_THRESHOLD"),
        (["chain"], {"GPUHOURS_ANVIL_PORT": "port"}, "GPUHOURS_ANVIL_PORT"),
        (["market"], {"GPUHOURS_RPC_URL": "nowhere"}, "GPUHOURS_RPC_URL"),
    ],
)
def test_a_command_with_a_bad_setting_says_so_and_exits_2(
    tmp_path: Path, args: list[str], env: dict[str, str], variable: str
):
    deployments = tmp_path / "deployments"
    deployments.mkdir()
    db = tmp_path / "store.db"
    env = {"GPUHOURS_DEPLOYMENTS_DIR": str(deployments), "GPUHOURS_DB_URL": f"sqlite:///{db}", **env}
    done = _gpuhours(*args, env=env, cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    assert out.startswith("error: bad setting:") and variable in out
    assert not any(deployments.iterdir()) and not db.exists()  # nothing done
