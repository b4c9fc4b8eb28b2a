"""Morpho Blue's lending gas, measured the way contracts/test/gas/LendingGas.t.sol measures ours.

    git clone https://github.com/morpho-org/morpho-blue /tmp/morpho-blue
    .venv/bin/python scripts/bench_morpho_gas.py --morpho /tmp/morpho-blue
    .venv/bin/python scripts/bench_morpho_gas.py --morpho /tmp/morpho-blue --no-write

Morpho Blue is GPL-2.0-or-later, so none of it lives in this repository: the script builds a
throwaway Foundry project in a temporary folder from the checkout's `src/` (Morpho and its mocks
ERC20Mock, OracleMock and IrmMock), our forge-std, and a gas test generated from the template below.
Morpho.sol pins `pragma solidity 0.8.19`; only our solc 0.8.30 (contracts/bin) is available offline,
so the temporary copy's pragma is rewritten to 0.8.30 (nothing else is changed). The test runs with
our gas profile's settings (`isolate = true`: each call its own transaction, storage cold;
evm_version cancun) under two optimizer settings: Morpho's own (via_ir, 999,999 runs) and ours
(1,000 runs, no via_ir). Each figure is execution gas (the transaction less 21,000 and its calldata),
computed as `_record` in LendingGas.t.sol computes ours, from `vm.lastCallGas()`.

The state mirrors our LendingGas setUp: the lender already supplied 100,000 USDC (6 decimals), the
borrower pledged 200 units of collateral worth 2.1 USDC each and owes 10 USDC, and a second passes
before each measured call. LLTV 80 %, Morpho's IrmMock (rate = utilization per year). The flash row
stands in for our keeper's sale into a bid: a keeper contract calls `liquidate` with callback data,
and in `onMorphoLiquidate` sends the seized collateral to a buyer, takes 2.1 USDC a unit from the
buyer (`transferFrom`), approves Morpho for the repayment, then sends the profit to its caller.

Writes docs/benchmarks.md between `<!-- morpho:begin -->` and `<!-- morpho:end -->`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchdoc import write_section

SOLC = ROOT / "contracts" / "bin" / "solc-v0.8.30"
FORGE_STD = ROOT / "node_modules" / "@layerzerolabs" / "toolbox-foundry" / "lib" / "forge-std"
OUR_SNAPSHOT = ROOT / "contracts" / "snapshots" / "LendingGasTest.json"
PRAGMA_FROM, PRAGMA_TO = "pragma solidity 0.8.19;", "pragma solidity 0.8.30;"

# (our snapshot name, Morpho snapshot name, issue target on execution gas)
ROWS = [
    ("lending supply (deposit)", "morpho supply (loan token)", 80_000),
    ("lending borrow (one capacity pledged)", "morpho borrow (one collateral market)", 120_000),
    ("lending repay", "morpho repay", 80_000),
    ("lending liquidate (plain, seizing units)", "morpho liquidate (plain, seizing collateral)", 150_000),
    (
        "lending flash liquidate (selling to a bid)",
        "morpho liquidate with callback (swap-like transfer)",
        250_000,
    ),
]

# (profile, label): Morpho's own optimizer settings, then ours.
PROFILES = [("morpho", "via_ir, 999,999 runs"), ("ours", "1,000 runs, no via_ir")]

FOUNDRY_TOML = """\
[profile.default]
src = "src"
test = "test"
libs = ["lib"]
auto_detect_remappings = false
remappings = ["forge-std/=lib/forge-std/"]
solc = "{solc}"
offline = true
evm_version = "cancun"
bytecode_hash = "none"
isolate = true
optimizer = true

[profile.morpho]
via_ir = true
optimizer_runs = 999999

[profile.ours]
via_ir = false
optimizer_runs = 1000
"""

GAS_TEST = """\
// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {Morpho} from "../src/Morpho.sol";
import {IMorpho, IMorphoBase, MarketParams} from "../src/interfaces/IMorpho.sol";
import {IMorphoLiquidateCallback} from "../src/interfaces/IMorphoCallbacks.sol";
import {ERC20Mock} from "../src/mocks/ERC20Mock.sol";
import {OracleMock} from "../src/mocks/OracleMock.sol";
import {IrmMock} from "../src/mocks/IrmMock.sol";

/// Seizes collateral and, inside Morpho's callback, sells it to a buyer at a fixed price: the
/// collateral goes to the buyer, the buyer's loan tokens come here, Morpho may take the repayment,
/// and the rest goes to the caller.
contract CallbackLiquidator is IMorphoLiquidateCallback {
    IMorpho immutable morpho;
    ERC20Mock immutable loan;
    ERC20Mock immutable collateral;
    address immutable buyer;
    uint256 immutable bidPrice;

    constructor(IMorpho morpho_, ERC20Mock loan_, ERC20Mock collateral_, address buyer_, uint256 bidPrice_) {
        (morpho, loan, collateral, buyer, bidPrice) = (morpho_, loan_, collateral_, buyer_, bidPrice_);
    }

    function liquidate(MarketParams calldata params, address borrower, uint256 seized) external {
        morpho.liquidate(params, borrower, seized, 0, abi.encode(seized));
        loan.transfer(msg.sender, loan.balanceOf(address(this)));
    }

    function onMorphoLiquidate(uint256 repaidAssets, bytes calldata data) external {
        require(msg.sender == address(morpho));
        uint256 seized = abi.decode(data, (uint256));
        collateral.transfer(buyer, seized);
        loan.transferFrom(buyer, address(this), seized * bidPrice);
        loan.approve(address(morpho), repaidAssets);
    }
}

contract MorphoGasTest is Test {
    uint256 constant LLTV = 0.8e18;
    uint256 constant BACKING = 2_100_000; // loan-token base units per collateral unit
    uint256 constant SUPPLY = 100_000e6;

    Morpho morpho;
    ERC20Mock loan;
    ERC20Mock collateral;
    OracleMock oracle;
    MarketParams params;
    address lender = makeAddr("lender");
    address borrower = makeAddr("borrower");

    function setUp() public {
        morpho = new Morpho(address(this));
        loan = new ERC20Mock();
        collateral = new ERC20Mock();
        oracle = new OracleMock();
        IrmMock irm = new IrmMock();
        oracle.setPrice(BACKING * 1e36);
        morpho.enableIrm(address(irm));
        morpho.enableLltv(LLTV);
        params = MarketParams(address(loan), address(collateral), address(oracle), address(irm), LLTV);
        morpho.createMarket(params);

        loan.setBalance(lender, 2 * SUPPLY);
        vm.startPrank(lender);
        loan.approve(address(morpho), type(uint256).max);
        morpho.supply(params, SUPPLY, 0, lender, "");
        vm.stopPrank();

        collateral.setBalance(borrower, 200);
        loan.setBalance(borrower, 1_000e6);
        vm.startPrank(borrower);
        collateral.approve(address(morpho), type(uint256).max);
        loan.approve(address(morpho), type(uint256).max);
        morpho.supplyCollateral(params, 200, borrower, "");
        morpho.borrow(params, 10e6, 0, borrower, borrower);
        vm.stopPrank();
        vm.warp(block.timestamp + 1);
    }

    function test_gas_supply() public {
        vm.prank(lender);
        morpho.supply(params, 1_000e6, 0, lender, "");
        _record(
            "morpho supply (loan token)", abi.encodeCall(IMorphoBase.supply, (params, 1_000e6, 0, lender, ""))
        );
    }

    function test_gas_borrow() public {
        vm.prank(borrower);
        morpho.borrow(params, 100e6, 0, borrower, borrower);
        _record(
            "morpho borrow (one collateral market)",
            abi.encodeCall(IMorphoBase.borrow, (params, 100e6, 0, borrower, borrower))
        );
    }

    function test_gas_repay() public {
        vm.prank(borrower);
        morpho.repay(params, 5e6, 0, borrower, "");
        _record("morpho repay", abi.encodeCall(IMorphoBase.repay, (params, 5e6, 0, borrower, "")));
    }

    /// The borrower borrows the most its collateral allows; an hour later the price is 10 % lower.
    function _unhealthy() internal {
        uint256 maxDebt = 200 * BACKING * LLTV / 1e18;
        vm.prank(borrower);
        morpho.borrow(params, maxDebt - 10e6 - 1e6, 0, borrower, borrower);
        vm.warp(block.timestamp + 1 hours);
        oracle.setPrice(BACKING * 9 / 10 * 1e36);
    }

    function test_gas_liquidate() public {
        _unhealthy();
        address liquidator = makeAddr("liquidator");
        loan.setBalance(liquidator, 1_000_000e6);
        vm.prank(liquidator);
        loan.approve(address(morpho), type(uint256).max);
        vm.prank(liquidator);
        morpho.liquidate(params, borrower, 50, 0, "");
        _record(
            "morpho liquidate (plain, seizing collateral)",
            abi.encodeCall(IMorphoBase.liquidate, (params, borrower, 50, 0, ""))
        );
    }

    function test_gas_liquidateWithCallback() public {
        _unhealthy();
        address buyer = makeAddr("buyer");
        IMorpho morpho_ = IMorpho(address(morpho));
        CallbackLiquidator flash = new CallbackLiquidator(morpho_, loan, collateral, buyer, BACKING);
        loan.setBalance(buyer, 1_000_000e6);
        vm.prank(buyer);
        loan.approve(address(flash), type(uint256).max);
        address keeper = makeAddr("keeper");
        vm.prank(keeper);
        flash.liquidate(params, borrower, 50);
        _record(
            "morpho liquidate with callback (swap-like transfer)",
            abi.encodeCall(CallbackLiquidator.liquidate, (params, borrower, 50))
        );
    }

    /// Records the whole transaction and its execution gas (less 21,000 and the calldata).
    function _record(string memory name, bytes memory data) internal {
        uint256 txGas = vm.lastCallGas().gasTotalUsed;
        uint256 intrinsic = 21_000;
        for (uint256 i; i < data.length; ++i) {
            intrinsic += data[i] == 0 ? 4 : 16;
        }
        vm.snapshotValue(string.concat(name, " (tx)"), txGas);
        vm.snapshotValue(name, txGas - intrinsic);
    }
}
"""


def build_project(morpho: Path, dest: Path) -> None:
    """A Foundry project in `dest`: Morpho's src/ (pragma rewritten), our forge-std, the gas test."""
    src = morpho / "src"
    if not (src / "Morpho.sol").is_file():
        raise SystemExit(f"error: {morpho} is not a Morpho Blue checkout (no src/Morpho.sol)")
    shutil.copytree(src, dest / "src")
    main = dest / "src" / "Morpho.sol"
    text = main.read_text()
    if PRAGMA_FROM not in text:
        raise SystemExit(
            f"error: {main.relative_to(dest)} does not pin `{PRAGMA_FROM}`; this script expects it"
        )
    main.write_text(text.replace(PRAGMA_FROM, PRAGMA_TO))
    (dest / "lib").mkdir()
    (dest / "lib" / "forge-std").symlink_to(FORGE_STD)
    (dest / "test").mkdir()
    (dest / "test" / "MorphoGas.t.sol").write_text(GAS_TEST)
    (dest / "foundry.toml").write_text(FOUNDRY_TOML.format(solc=SOLC))


def measure(forge: str, project: Path, profile: str) -> dict[str, int]:
    """Run the gas test under `profile`; the snapshot forge writes, as integers."""
    snapshot = project / "snapshots" / "MorphoGasTest.json"
    snapshot.unlink(missing_ok=True)
    run = subprocess.run(
        [forge, "test", "--isolate"],
        check=False,
        cwd=project,
        env={**os.environ, "FOUNDRY_PROFILE": profile},
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"error: forge test failed under profile {profile}:\n{run.stdout}{run.stderr}")
    return {k: int(v) for k, v in json.loads(snapshot.read_text()).items()}


def commit_of(morpho: Path) -> str:
    run = subprocess.run(
        [shutil.which("git") or "/usr/bin/git", "-C", str(morpho), "rev-parse", "--short", "HEAD"],
        check=False,
        capture_output=True,
        text=True,
    )
    return run.stdout.strip() if run.returncode == 0 else "unknown commit"


def table(ours: dict[str, int], morpho: dict[str, dict[str, int]]) -> str:
    """Execution gas against the targets, then the whole transactions, gpuhours beside Morpho Blue."""
    columns = " | ".join(f"Morpho Blue ({label})" for _, label in PROFILES)
    lines = [f"| operation | target | gpuhours | {columns} |", "|---|---:|---:|" + "---:|" * len(PROFILES)]
    for our_name, morpho_name, target in ROWS:
        theirs = " | ".join(f"{morpho[p][morpho_name]:,}" for p, _ in PROFILES)
        lines.append(f"| {our_name} | {target:,} | {ours[our_name]:,} | {theirs} |")
    lines += ["", "Whole transactions (receipt, before refunds), same rows:", ""]
    lines += [f"| operation | gpuhours | {columns} |", "|---|---:|" + "---:|" * len(PROFILES)]
    for our_name, morpho_name, _ in ROWS:
        theirs = " | ".join(f"{morpho[p][morpho_name + ' (tx)']:,}" for p, _ in PROFILES)
        lines.append(f"| {our_name} | {ours[our_name + ' (tx)']:,} | {theirs} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--morpho", type=Path, required=True, help="a Morpho Blue checkout (its src/ is read)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the table, leave docs/benchmarks.md alone"
    )
    args = parser.parse_args()
    forge = shutil.which("forge")
    if forge is None:
        raise SystemExit("error: forge is not on PATH")
    ours = {k: int(v) for k, v in json.loads(OUR_SNAPSHOT.read_text()).items()}
    with tempfile.TemporaryDirectory(prefix="morpho-gas-") as tmp:
        project = Path(tmp)
        build_project(args.morpho.resolve(), project)
        print(
            f"Morpho Blue {commit_of(args.morpho)}: src/Morpho.sol `{PRAGMA_FROM}` rewritten to `{PRAGMA_TO}`"
        )
        morpho = {}
        for profile, label in PROFILES:
            morpho[profile] = measure(forge, project, profile)
            print(f"measured under {label}")
    section = (
        f"Morpho Blue at commit {commit_of(args.morpho)}, its `src/Morpho.sol` pragma rewritten from 0.8.19"
        " to 0.8.30 (our solc) in a temporary copy; execution gas:\n\n" + table(ours, morpho)
    )
    print(section)
    if not args.no_write:
        write_section("morpho", "Morpho Blue beside gpuhours", section)


if __name__ == "__main__":
    main()
