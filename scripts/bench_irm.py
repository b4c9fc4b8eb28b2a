"""Our kinked interest rate model beside Morpho's AdaptiveCurveIrm, over simulated utilization paths.

    git clone --recurse-submodules https://github.com/morpho-org/morpho-blue-irm /tmp/morpho-blue-irm
    .venv/bin/python scripts/bench_irm.py --irm /tmp/morpho-blue-irm
    .venv/bin/python scripts/bench_irm.py --irm /tmp/morpho-blue-irm --no-write

morpho-blue-irm imports Morpho Blue's interfaces and MathLib from its `lib/morpho-blue` submodule;
when that is not checked out, pass a Morpho Blue checkout with `--morpho PATH` (its `src/` is read).
Morpho's code is GPL-2.0-or-later, so none of it lives in this repository: the script builds a
throwaway Foundry project in a temporary folder from our contracts/src and contracts/test/utils, our
OpenZeppelin and forge-std, the checkout's `src/adaptive-curve-irm/` and Morpho Blue's `src/`, and a
test generated from the templates below; it runs it and deletes the folder. AdaptiveCurveIrm.sol pins
`pragma solidity 0.8.19`; only our solc 0.8.30 (contracts/bin) is available offline, so the temporary
copy's pragma is rewritten to 0.8.30, and so is Morpho.sol's (deployed for the accrual gas row);
nothing else is changed.

Both models see the same utilization, hour by hour:

- ours: a real LendingPool, deployed through LendingFixtures (contracts/test/utils) with the rate
  model the deploy uses (DeploySettings' defaults through PoolTerms.rate_model(), as
  scripts/deploy.py builds the constructor). The lender deposits 100,000 USDC, the renter pledges
  200 units and borrows 300 USDC; each hour the lender deposits into or withdraws from the pool (real
  ERC-4626 calls, which accrue the interest) so that borrowed / (borrowed + cash) is that hour's
  utilization, and the pool's own `borrowRate()` view gives the rate for the hour.
- AdaptiveCurveIrm: deployed with the test as its Morpho; initialised as Morpho's `createMarket` does
  (one `borrowRate` call on the empty market, which stores the initial 4 % rate at target), then each
  hour `borrowRate(marketParams, market)` is called an hour after the market's `lastUpdate`, with the
  pool's borrowed and borrowed + cash as the market's totals: it returns the average rate over that
  hour and stores the new rate at target, as it does when Morpho accrues.

Gas: each call its own transaction (`isolate`), execution gas as bench_morpho_gas.py computes it
(the transaction from `vm.lastCallGas()` less 21,000 and its calldata); AdaptiveCurveIrm under
Morpho's optimizer settings (via_ir, 999,999 runs), our pool under ours (1,000 runs, no via_ir).

Writes docs/benchmarks.md between `<!-- irm:begin -->` and `<!-- irm:end -->`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.config import DeploySettings
from scripts.benchdoc import write_section

CONTRACTS = ROOT / "contracts"
SOLC = CONTRACTS / "bin" / "solc-v0.8.30"
FORGE_STD = ROOT / "node_modules" / "@layerzerolabs" / "toolbox-foundry" / "lib" / "forge-std"
OPENZEPPELIN = ROOT / "node_modules" / "@openzeppelin" / "contracts"
IRM_DIR = Path("src") / "adaptive-curve-irm"
PRAGMA_FROM, PRAGMA_TO = "pragma solidity 0.8.19;", "pragma solidity 0.8.30;"

WAD = 10**18
YEAR = 365 * 24 * 3600
HOURS = 30 * 24
SHOCK_HOURS = 7 * 24
THRESHOLD_APR = 50.0  # percent: where a borrower against GPU-hours would rather repay


def _cycle(h: int) -> int:
    """70 % at midnight, 98 % at noon, linear in between: one round trip a day."""
    p = h % 24
    return 7_000 + 2_800 * (p if p <= 12 else 24 - p) // 12


# (key, description, utilization in basis points for hour h), each HOURS long.
SCENARIOS: list[tuple[str, str, Callable[[int], int]]] = [
    ("steady-80", "steady at 80 % (our kink), 30 days", lambda _: 8_000),
    ("steady-90", "steady at 90 % (AdaptiveCurveIrm's target), 30 days", lambda _: 9_000),
    ("shock", "shock: 99 % for 7 days, then 80 % for 23 days", lambda h: 9_900 if h < SHOCK_HOURS else 8_000),
    (
        "shock-long",
        "long shock: 100 % for 14 days, then 80 % for 16 days",
        lambda h: 10_000 if h < 2 * SHOCK_HOURS else 8_000,
    ),
    ("slack", "slack: 40 % for 30 days", lambda _: 4_000),
    (
        "slack-shock",
        "slack then shock: 40 % for 16 days, then 100 % for 14 days",
        lambda h: 4_000 if h < HOURS - 2 * SHOCK_HOURS else 10_000,
    ),
    ("cycle", "daily cycle 70 % → 98 % → 70 %, 30 days", _cycle),
]

FOUNDRY_TOML = """\
[profile.default]
src = "irm"
test = "test"
libs = ["lib"]
auto_detect_remappings = false
remappings = [
  "@openzeppelin/contracts/=lib/openzeppelin-contracts/",
  "forge-std/=lib/forge-std/",
]
solc = "{solc}"
offline = true
evm_version = "cancun"
bytecode_hash = "none"
optimizer = true
optimizer_runs = 1000
via_ir = false
gas_limit = "max"
fs_permissions = [{{ access = "read", path = "./out" }}]
# AdaptiveCurveIrm and Morpho as Morpho builds them; everything else (our pool, the tests) as we build ours.
additional_compiler_profiles = [{{ name = "morpho", via_ir = true, optimizer_runs = 999999 }}]
compilation_restrictions = [
  {{ paths = "irm/src/**", via_ir = true, optimizer_runs = 999999 }},
  {{ paths = "irm/lib/morpho-blue/src/Morpho.sol", via_ir = true, optimizer_runs = 999999 }},
]
"""

COMMON = """\
// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {{Test}} from "forge-std/Test.sol";
import {{console}} from "forge-std/console.sol";
import {{LendingFixtures}} from "./utils/LendingFixtures.sol";
import {{ILendingPool, RateModel}} from "../src/interfaces/ILendingPool.sol";
import {{IIrm}} from "../irm/lib/morpho-blue/src/interfaces/IIrm.sol";
import {{IMorpho, MarketParams, Market}} from "../irm/lib/morpho-blue/src/interfaces/IMorpho.sol";
import {{ERC20Mock}} from "../irm/lib/morpho-blue/src/mocks/ERC20Mock.sol";
import {{OracleMock}} from "../irm/lib/morpho-blue/src/mocks/OracleMock.sol";

/// A real LendingPool with the deployed rate model, 300 USDC borrowed against 200 pledged units,
/// and AdaptiveCurveIrm with this contract as its Morpho, initialised as `createMarket` does.
abstract contract IrmSetup is LendingFixtures {{
    uint256 internal constant BORROWED = 300e6;

    IIrm internal irm;
    MarketParams internal params;

    function _rates() internal pure override returns (RateModel memory) {{
        return RateModel({{base: {base}, slope1: {slope1}, slope2: {slope2}, kink: {kink}}});
    }}

    function setUp() public virtual override {{
        super.setUp();
        _supply(SUPPLY);
        _pledge(200);
        vm.prank(renter);
        pool.borrow(BORROWED, renter);
        irm = IIrm(deployCode("AdaptiveCurveIrm.sol:AdaptiveCurveIrm", abi.encode(address(this))));
        params = MarketParams(address(usdc), address(gpuHours), address(oracle), address(irm), LLTV);
        irm.borrowRate(params, Market(0, 0, 0, 0, uint128(block.timestamp), 0));
    }}

    /// The lender deposits or withdraws so that borrowed / (borrowed + cash) is `u` (WAD); returns
    /// the pool's borrowed and borrowed + cash, as a Morpho market's totals would be.
    function _setUtilization(uint256 u) internal returns (uint128 borrowed, uint128 supplied) {{
        (uint256 b,) = pool.totalBorrow();
        uint256 target = b * (1e18 - u) / u;
        uint256 cash = usdc.balanceOf(address(pool));
        vm.prank(lender);
        if (target > cash) pool.deposit(target - cash, lender);
        else if (target < cash) pool.withdraw(cash - target, lender, lender);
        (b,) = pool.totalBorrow();
        return (uint128(b), uint128(b + usdc.balanceOf(address(pool))));
    }}
}}
"""

SCENARIO_TEST = """
contract IrmScenarioTest is IrmSetup {{
{tests}
    /// Each hour: set the utilization, read our rate, let the hour pass, and have AdaptiveCurveIrm
    /// price it (the average over the hour, as Morpho would accrue it). One line per hour.
    function _run(string memory name, bytes memory bps) internal {{
        for (uint256 h; h < bps.length / 2; ++h) {{
            uint256 u = (uint256(uint8(bps[2 * h])) << 8 | uint8(bps[2 * h + 1])) * 1e14;
            (uint128 borrowed, uint128 supplied) = _setUtilization(u);
            (uint256 ours, uint256 utilization) = pool.borrowRate();
            Market memory m = Market(supplied, 0, borrowed, 0, uint128(block.timestamp), 0);
            vm.warp(block.timestamp + 1 hours);
            uint256 theirs = irm.borrowRate(params, m);
            console.log(
                string.concat(
                    "irm,", name, ",", vm.toString(h), ",", vm.toString(utilization), ",",
                    vm.toString(ours), ",", vm.toString(theirs)
                )
            );
        }}
    }}
}}
"""

GAS_TEST = """
/// Each measured call its own transaction; the state a day at 95 % utilization into the market, then
/// an hour more (so AdaptiveCurveIrm's rate at target moves: the exponential is computed).
contract IrmGasTest is IrmSetup {{
    Market internal market;

    function setUp() public override {{
        super.setUp();
        (uint128 borrowed, uint128 supplied) = _setUtilization(0.95e18);
        for (uint256 h; h < 24; ++h) {{
            market = Market(supplied, 0, borrowed, 0, uint128(block.timestamp), 0);
            vm.warp(block.timestamp + 1 hours);
            irm.borrowRate(params, market);
        }}
        market.lastUpdate = uint128(block.timestamp);
        vm.prank(lender);
        pool.deposit(1e6, lender); // accrues: the pool's last update is now too
        vm.warp(block.timestamp + 1 hours);
    }}

    function test_gas_adaptiveBorrowRate() public {{
        bytes memory data = abi.encodeCall(IIrm.borrowRate, (params, market));
        (bool ok,) = address(irm).call(data);
        require(ok);
        _record("AdaptiveCurveIrm borrowRate (as Morpho calls it: stores the rate at target)", data);
    }}

    function test_gas_adaptiveBorrowRateView() public {{
        bytes memory data = abi.encodeCall(IIrm.borrowRateView, (params, market));
        (bool ok,) = address(irm).call(data);
        require(ok);
        _record("AdaptiveCurveIrm borrowRateView", data);
    }}

    function test_gas_poolBorrowRate() public {{
        bytes memory data = abi.encodeCall(ILendingPool.borrowRate, ());
        (bool ok,) = address(pool).call(data);
        require(ok);
        _record("LendingPool borrowRate() view (accrued debt, cash, kinked rate)", data);
    }}

    function test_gas_poolDepositAccruing() public {{
        bytes memory data = abi.encodeCall(pool.deposit, (1_000e6, lender));
        vm.prank(lender);
        (bool ok,) = address(pool).call(data);
        require(ok);
        _record("LendingPool deposit, accruing an hour's interest", data);
    }}

    function test_gas_poolDepositNoAccrual() public {{
        vm.prank(lender);
        pool.deposit(1e6, lender);
        bytes memory data = abi.encodeCall(pool.deposit, (1_000e6, lender));
        vm.prank(lender);
        (bool ok,) = address(pool).call(data);
        require(ok);
        _record("LendingPool deposit, nothing to accrue (same second)", data);
    }}

    function _record(string memory name, bytes memory data) internal {{
        uint256 txGas = vm.lastCallGas().gasTotalUsed;
        uint256 intrinsic = 21_000;
        for (uint256 i; i < data.length; ++i) {{
            intrinsic += data[i] == 0 ? 4 : 16;
        }}
        vm.snapshotValue(name, txGas - intrinsic);
    }}
}}
"""

MORPHO_TEST = """
/// The same accrual in Morpho Blue with AdaptiveCurveIrm: a market at 95 % utilization, an hour later
/// a supply that accrues (calls the IRM), and one in the same second (does not).
contract MorphoAccrualGasTest is Test {{
    IMorpho internal morpho;
    ERC20Mock internal loan;
    MarketParams internal params;
    address internal lender = makeAddr("lender");

    function setUp() public {{
        morpho = IMorpho(deployCode("Morpho.sol:Morpho", abi.encode(address(this))));
        IIrm irm = IIrm(deployCode("AdaptiveCurveIrm.sol:AdaptiveCurveIrm", abi.encode(address(morpho))));
        loan = new ERC20Mock();
        ERC20Mock collateral = new ERC20Mock();
        OracleMock oracle = new OracleMock();
        oracle.setPrice(1e36);
        morpho.enableIrm(address(irm));
        morpho.enableLltv(0.8e18);
        params = MarketParams(address(loan), address(collateral), address(oracle), address(irm), 0.8e18);
        morpho.createMarket(params);
        loan.setBalance(lender, 1_000_000e6);
        vm.startPrank(lender);
        loan.approve(address(morpho), type(uint256).max);
        morpho.supply(params, 1_000e6, 0, lender, "");
        collateral.setBalance(lender, 2_000e6);
        collateral.approve(address(morpho), type(uint256).max);
        morpho.supplyCollateral(params, 2_000e6, lender, "");
        morpho.borrow(params, 950e6, 0, lender, lender);
        vm.stopPrank();
        vm.warp(block.timestamp + 1 hours);
    }}

    function test_gas_morphoSupplyAccruing() public {{
        bytes memory data = abi.encodeCall(morpho.supply, (params, 1_000e6, 0, lender, ""));
        vm.prank(lender);
        (bool ok,) = address(morpho).call(data);
        require(ok);
        _record("Morpho supply, accruing an hour's interest (calls AdaptiveCurveIrm)", data);
    }}

    function test_gas_morphoSupplyNoAccrual() public {{
        vm.prank(lender);
        morpho.supply(params, 1e6, 0, lender, "");
        bytes memory data = abi.encodeCall(morpho.supply, (params, 1_000e6, 0, lender, ""));
        vm.prank(lender);
        (bool ok,) = address(morpho).call(data);
        require(ok);
        _record("Morpho supply, nothing to accrue (same second)", data);
    }}

    function _record(string memory name, bytes memory data) internal {{
        uint256 txGas = vm.lastCallGas().gasTotalUsed;
        uint256 intrinsic = 21_000;
        for (uint256 i; i < data.length; ++i) {{
            intrinsic += data[i] == 0 ? 4 : 16;
        }}
        vm.snapshotValue(name, txGas - intrinsic);
    }}
}}
"""

GAS_ROWS = [
    ("AdaptiveCurveIrm borrowRate (as Morpho calls it: stores the rate at target)", "AdaptiveCurveIrm"),
    ("AdaptiveCurveIrm borrowRateView", "AdaptiveCurveIrm"),
    ("LendingPool borrowRate() view (accrued debt, cash, kinked rate)", "gpuhours"),
    ("LendingPool deposit, accruing an hour's interest", "gpuhours"),
    ("LendingPool deposit, nothing to accrue (same second)", "gpuhours"),
    ("Morpho supply, accruing an hour's interest (calls AdaptiveCurveIrm)", "Morpho Blue + AdaptiveCurveIrm"),
    ("Morpho supply, nothing to accrue (same second)", "Morpho Blue + AdaptiveCurveIrm"),
]


@dataclass(frozen=True)
class Step:
    utilization: float  # fraction
    ours: float  # APR, percent
    theirs: float  # APR, percent


def rate_model() -> tuple[int, int, int, int]:
    """(base, slope1, slope2, kink) as scripts/deploy.py passes them: DeploySettings' defaults."""
    return DeploySettings.model_construct().pool_terms().rate_model()


def schedule(fn: Callable[[int], int]) -> str:
    """The HOURS utilizations in basis points, two bytes each, as a Solidity hex literal."""
    return 'hex"' + "".join(f"{fn(h):04x}" for h in range(HOURS)) + '"'


def test_source() -> str:
    base, slope1, slope2, kink = rate_model()
    test = '    function test_{name}() public {{\n        _run("{key}", {hours});\n    }}\n'
    tests = "\n".join(
        test.format(name=key.replace("-", "_"), key=key, hours=schedule(fn)) for key, _, fn in SCENARIOS
    )
    common = COMMON.format(base=base, slope1=slope1, slope2=slope2, kink=kink)
    return common + SCENARIO_TEST.format(tests=tests) + GAS_TEST.format() + MORPHO_TEST.format()


def irm_source(irm: Path, morpho: Path | None) -> tuple[Path, Path]:
    """(the adaptive-curve-irm folder, Morpho Blue's src/) of the checkouts."""
    folder = irm / IRM_DIR
    if not (folder / "AdaptiveCurveIrm.sol").is_file():
        raise SystemExit(
            f"error: {irm} is not a morpho-blue-irm checkout (no {IRM_DIR}/AdaptiveCurveIrm.sol)"
        )
    blue = (morpho if morpho is not None else irm / "lib" / "morpho-blue") / "src"
    if not (blue / "interfaces" / "IIrm.sol").is_file():
        raise SystemExit(
            f"error: no Morpho Blue sources at {blue}: check out the lib/morpho-blue submodule"
            " or pass --morpho PATH"
        )
    return folder, blue


def build_project(irm: Path, morpho: Path | None, dest: Path) -> None:
    """A Foundry project in `dest`: our src and test utils, the IRM and Morpho Blue (pragmas
    rewritten), the test."""
    folder, blue = irm_source(irm, morpho)
    shutil.copytree(CONTRACTS / "src", dest / "src")
    shutil.copytree(CONTRACTS / "test" / "utils", dest / "test" / "utils")
    shutil.copytree(folder, dest / "irm" / IRM_DIR)
    shutil.copytree(blue, dest / "irm" / "lib" / "morpho-blue" / "src")
    for main in (
        dest / "irm" / IRM_DIR / "AdaptiveCurveIrm.sol",
        dest / "irm" / "lib" / "morpho-blue" / "src" / "Morpho.sol",
    ):
        text = main.read_text()
        if PRAGMA_FROM not in text:
            raise SystemExit(
                f"error: {main.relative_to(dest)} does not pin `{PRAGMA_FROM}`; this script expects it"
            )
        main.write_text(text.replace(PRAGMA_FROM, PRAGMA_TO))
    (dest / "lib").mkdir()
    (dest / "lib" / "forge-std").symlink_to(FORGE_STD)
    (dest / "lib" / "openzeppelin-contracts").symlink_to(OPENZEPPELIN)
    (dest / "test" / "Irm.t.sol").write_text(test_source())
    (dest / "foundry.toml").write_text(FOUNDRY_TOML.format(solc=SOLC))


def forge_test(forge: str, project: Path, *args: str) -> str:
    run = subprocess.run(
        [forge, "test", *args], check=False, cwd=project, env=dict(os.environ), capture_output=True, text=True
    )
    if run.returncode != 0:
        raise SystemExit(f"error: forge test {' '.join(args)} failed:\n{run.stdout}{run.stderr}")
    return run.stdout


def simulate(forge: str, project: Path) -> dict[str, list[Step]]:
    """Every scenario's hours, from the `irm,...` lines the scenario test logs."""
    out = forge_test(forge, project, "--match-contract", "IrmScenarioTest", "-vv")
    steps: dict[str, list[Step]] = {key: [] for key, _, _ in SCENARIOS}
    for m in re.finditer(r"irm,([\w-]+),(\d+),(\d+),(\d+),(\d+)", out):
        key, hour, u, ours, theirs = m.groups()
        if int(hour) != len(steps[key]):
            raise SystemExit(f"error: {key} hour {hour} out of order")
        apr = 100 * YEAR / WAD
        steps[key].append(Step(int(u) / WAD, int(ours) * apr, int(theirs) * apr))
    for key, hours in steps.items():
        if len(hours) != HOURS:
            raise SystemExit(f"error: {key} logged {len(hours)} hours, not {HOURS}")
    return steps


def measure_gas(forge: str, project: Path) -> dict[str, int]:
    """The gas tests' snapshots (ours beside the bare IRM, and Morpho's accrual), merged."""
    gas: dict[str, int] = {}
    for name in ("IrmGasTest", "MorphoAccrualGasTest"):
        snapshot = project / "snapshots" / f"{name}.json"
        snapshot.unlink(missing_ok=True)
        forge_test(forge, project, "--match-contract", name, "--isolate")
        gas |= {k: int(v) for k, v in json.loads(snapshot.read_text()).items()}
    return gas


def commit_of(path: Path) -> str:
    run = subprocess.run(
        [shutil.which("git") or "/usr/bin/git", "-C", str(path), "rev-parse", "--short", "HEAD"],
        check=False,
        capture_output=True,
        text=True,
    )
    return run.stdout.strip() if run.returncode == 0 else "unknown commit"


def _first_above(hours: list[Step], aprs: list[float], threshold: float) -> str:
    """How long after the shock began (the first hour at 99 % or more, else the start) the hourly
    rate first exceeds `threshold`, counted to the end of that hour; or never."""
    start = next((h for h, s in enumerate(hours) if s.utilization >= 0.99), 0)
    for h in range(start, len(aprs)):
        if aprs[h] > threshold:
            elapsed = h + 1 - start
            return f"{elapsed / 24:.1f} d" if elapsed >= 24 else f"{elapsed} h"
    return "never"


def table(steps: dict[str, list[Step]]) -> str:
    """One row per scenario and model: APR at points in time, time-weighted means, the 50 % mark."""
    lines = [
        "| scenario | model | APR start | 1 day | 7 days | end | mean APR | lenders' yield | peak APR"
        f" | above {THRESHOLD_APR:.0f} % APR, after the shock began |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, description, _ in SCENARIOS:
        hours = steps[key]
        for model, pick in (("gpuhours kink", lambda s: s.ours), ("AdaptiveCurveIrm", lambda s: s.theirs)):
            aprs = [pick(s) for s in hours]
            yield_ = math.fsum(pick(s) * s.utilization for s in hours) / len(hours)
            points = " | ".join(f"{aprs[h]:.2f} %" for h in (0, 24, 24 * 7, len(hours) - 1))
            lines.append(
                f"| {description} | {model} | {points} | {math.fsum(aprs) / len(aprs):.2f} % | {yield_:.2f} %"
                f" | {max(aprs):.2f} % | {_first_above(hours, aprs, THRESHOLD_APR)} |"
            )
    return "\n".join(lines)


def shock_detail(steps: dict[str, list[Step]]) -> str:
    """AdaptiveCurveIrm's daily APR through the shock and after, beside ours."""
    hours = steps["shock"]
    days = [1, 2, 3, 4, 5, 6, 7, 8, 10, 14, 21, 30]
    head = "| model | " + " | ".join(f"day {d}" for d in days) + " |"
    lines = [head, "|---|" + "---:|" * len(days)]
    for model, pick in (("gpuhours kink", lambda s: s.ours), ("AdaptiveCurveIrm", lambda s: s.theirs)):
        cells = " | ".join(f"{pick(hours[24 * d - 1]):.1f} %" for d in days)
        lines.append(f"| {model} | {cells} |")
    return "\n".join(lines)


def gas_table(gas: dict[str, int]) -> str:
    lines = ["| call | model | execution gas |", "|---|---|---:|"]
    lines += [f"| {name} | {model} | {gas[name]:,} |" for name, model in GAS_ROWS]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--irm", type=Path, required=True, help="a morpho-blue-irm checkout")
    parser.add_argument(
        "--morpho",
        type=Path,
        help="a Morpho Blue checkout, when the IRM's lib/morpho-blue is not checked out",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the tables, leave docs/benchmarks.md alone"
    )
    args = parser.parse_args()
    forge = shutil.which("forge")
    if forge is None:
        raise SystemExit("error: forge is not on PATH")
    irm = args.irm.resolve()
    morpho = args.morpho.resolve() if args.morpho is not None else None
    blue_commit = commit_of(morpho if morpho is not None else irm / "lib" / "morpho-blue")
    with tempfile.TemporaryDirectory(prefix="irm-bench-") as tmp:
        project = Path(tmp)
        build_project(irm, morpho, project)
        print(f"morpho-blue-irm {commit_of(irm)} (Morpho Blue {blue_commit}): `{PRAGMA_FROM}` rewritten")
        steps = simulate(forge, project)
        print("simulated")
        gas = measure_gas(forge, project)
        print("measured gas")
    base, slope1, slope2, kink = rate_model()
    model = (
        f"base {base * YEAR / WAD:.2%}, slope1 {slope1 * YEAR / WAD:.2%}, slope2 {slope2 * YEAR / WAD:.2%}"
        f" a year, kink {kink / WAD:.0%}"
    )
    section = (
        f"morpho-blue-irm at commit {commit_of(irm)} (Morpho Blue {blue_commit}), the pragmas of"
        " AdaptiveCurveIrm.sol and Morpho.sol rewritten from 0.8.19 to 0.8.30 in a temporary copy;"
        f" our pool's rate model as deployed: {model}."
        f" Hourly steps, {HOURS // 24} days each; APRs are the per-second rate × 365 days.\n\n"
        + table(steps)
        + "\n\nThe shock, APR over the last hour of each day:\n\n"
        + shock_detail(steps)
        + "\n\nGas of computing the rate (each call its own transaction):\n\n"
        + gas_table(gas)
    )
    print(section)
    if not args.no_write:
        write_section("irm", "Interest rate model beside Morpho's AdaptiveCurveIRM", section)


if __name__ == "__main__":
    main()
