"""Pieces of the chain client that need no chain."""

from __future__ import annotations

import io
import json

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from rich.console import Console

from backend.chain import deployments, errors
from backend.chain.cli_exit import fail
from backend.chain.client import from_bytes32, to_bytes32
from backend.chain.deployments import REPO_ROOT
from backend.chain.dev_accounts import dev_account
from backend.chain.errors import ErrorDecoder
from backend.chain.pools import PoolTerms

ABIS = {p.stem: json.loads(p.read_text()) for p in (REPO_ROOT / "deployments" / "abi").glob("*.json")}


def test_custom_errors_decode_to_named_exceptions():
    decoder = ErrorDecoder(ABIS.values())
    data = function_signature_to_4byte_selector("StaleCounter(bytes32,uint256,uint256)") + encode(
        ["bytes32", "uint256", "uint256"], [b"\x11" * 32, 3, 4]
    )
    exc = decoder.decode(data)
    assert isinstance(exc, errors.StaleCounter) and isinstance(exc, errors.ContractRevert)
    assert exc.fields == {"orderHash": b"\x11" * 32, "counter": 3, "current": 4}
    assert "StaleCounter(orderHash=0x1111" in str(exc)


def test_openzeppelin_errors_decode_too():
    decoder = ErrorDecoder(ABIS.values())
    data = function_signature_to_4byte_selector("ERC20InsufficientBalance(address,uint256,uint256)") + encode(
        ["address", "uint256", "uint256"], ["0x" + "22" * 20, 1, 2]
    )
    assert isinstance(decoder.decode(data), errors.ERC20InsufficientBalance)


def test_unknown_revert_data_is_kept():
    exc = ErrorDecoder(ABIS.values()).decode("0xdeadbeef")
    assert isinstance(exc, errors.UnknownRevert) and exc.fields["data"] == bytes.fromhex("deadbeef")


def test_dev_accounts_exist_only_on_dev_chains():
    assert dev_account(0, 31337).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    with pytest.raises(ValueError, match="development accounts"):
        dev_account(0, 1)


def test_names_pack_into_bytes32():
    assert from_bytes32(to_bytes32("H100-SXM5-80GB")) == "H100-SXM5-80GB"
    with pytest.raises(ValueError, match="longer than 32 bytes"):
        to_bytes32("x" * 33)


def test_a_tampered_abi_is_refused(tmp_path):
    abi = ABIS["Exchange"]
    deployment = deployments.Deployment(
        chainId=5,
        deployBlock=1,
        deployer="0x" + "00" * 20,
        params={},
        contracts={
            "Exchange": deployments.Deployed(
                address="0x" + "01" * 20, abiHash=deployments.abi_hash(abi), block=1
            )
        },
    )
    deployments.write(tmp_path, deployment, {"Exchange": abi})
    assert deployments.load(tmp_path, 5)[0].chain_id == 5
    (tmp_path / "abi" / "Exchange.json").write_text(json.dumps(abi[1:]))
    with pytest.raises(deployments.DeploymentError, match="does not match"):
        deployments.load(tmp_path, 5)
    with pytest.raises(deployments.DeploymentError, match="no deployment"):
        deployments.load(tmp_path, 6)


def test_pool_abis_are_checked_and_older_files_have_no_pools(tmp_path):
    abi = ABIS["LendingPool"]
    pool = deployments.Deployed(address="0x" + "02" * 20, abiHash=deployments.abi_hash(abi), block=1)
    deployment = deployments.Deployment(
        chainId=5, deployBlock=1, deployer="0x" + "00" * 20, params={}, contracts={}, pools={"H100": pool}
    )
    deployments.write(tmp_path, deployment, {"LendingPool": abi})
    assert deployments.load(tmp_path, 5)[0].pool_addresses() == {"H100": "0x" + "02" * 20}
    (tmp_path / "abi" / "LendingPool.json").write_text(json.dumps(abi[1:]))
    with pytest.raises(deployments.DeploymentError, match="LendingPool"):
        deployments.load(tmp_path, 5)

    written_before_pools = json.loads((tmp_path / "5.json").read_text())
    del written_before_pools["pools"]
    (tmp_path / "5.json").write_text(json.dumps(written_before_pools))
    assert deployments.load(tmp_path, 5)[0].pools == {}


def test_pool_terms_become_the_contracts_units():
    terms = PoolTerms(
        lltv_bps=8_000,
        base_bps=100,
        slope1_bps=400,
        slope2_bps=6_000,
        kink_bps=8_000,
        maturity_buffer_hours=6,
        mark_max_age=3 * 3600,
        min_debt=1_000_000,
    )
    base, slope1, slope2, kink = terms.rate_model()
    year = 365 * 24 * 3600
    # A rate a second, over a year, gives back the yearly rate to within the rounding of one second.
    for per_second, bps in ((base, 100), (slope1, 400), (slope2, 6_000)):
        assert 0 <= bps * 10**18 // 10_000 - per_second * year < year
    assert (terms.lltv, kink) == (8 * 10**17, 8 * 10**17)
    params, name, symbol = terms.constructor_args(
        "0x" + "01" * 20, "0x" + "02" * 20, "0x" + "03" * 20, "H100"
    )
    assert params[3] == to_bytes32("H100") and params[4:] == (
        terms.lltv,
        (base, slope1, slope2, kink),
        6,
        10_800,
        1_000_000,
    )
    assert (name, symbol) == ("gpuhours H100 lending", "ghL-H100")


def test_a_failed_command_is_one_literal_line_and_its_exit_code():
    out = io.StringIO()
    console = Console(file=out, width=20, force_terminal=False)
    exit_ = fail(console, "--agent takes NODE_ID=URL, not '[red]1' (a long sentence past the width)", 2)
    assert exit_.exit_code == 2
    assert (
        out.getvalue() == "error: --agent takes NODE_ID=URL, not '[red]1' (a long sentence past the width)\n"
    )
