// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StdCheats} from "forge-std/StdCheats.sol";
import {Vm} from "forge-std/Vm.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";

import {OracleSigning} from "../utils/OracleSigning.sol";
import {MockUSDC} from "../../src/MockUSDC.sol";
import {AttestationOracle} from "../../src/AttestationOracle.sol";
import {LendingPool} from "../../src/LendingPool.sol";
import {ILendingPool} from "../../src/interfaces/ILendingPool.sol";
import {Report} from "../../src/interfaces/IAttestationOracle.sol";

/// @notice Drives a lending pool through supply, withdraw, pledge, unpledge, borrow, repay, time,
///         mark moves, liquidation and bad debt, for {LendingInvariantTest}. Ghost sums record what
///         went in and out; ghost flags record what must never happen (checked by the invariants,
///         since a handler's own revert is ignored).
contract LendingHandler is StdCheats, StdUtils, OracleSigning {
    LendingPool public immutable pool;
    MockUSDC public immutable usdc;
    AttestationOracle public immutable oracle;
    uint256 public immutable capacityId;
    uint64 public immutable nodeId;
    bytes32 public immutable gpuClass;
    address public immutable lender;
    address public immutable liquidator;
    address[3] public borrowers;
    uint256[] internal _keys;

    uint256 public deposited;
    uint256 public withdrawn;
    uint256 public borrowed;
    uint256 public repaid;
    uint256 public badDebt;
    uint256 public interest;
    uint256 public ops;

    bool public healthyLiquidated;
    bool public healthLowered;
    bool public badDebtTwice;
    mapping(address borrower => bool) public writtenOff;

    uint256 public liquidations;
    uint256 public badDebts;
    uint256 public healthChecks;
    /// @dev What expired units returned to borrowers, as sent (the part that did not pay a debt).
    uint256 public expiryPaidOut;
    uint256 public expiries;
    /// @dev What the pool's own position (units left by written-off debt) returned at expiry: the
    ///      lenders' cash again.
    uint256 public recovered;

    constructor(
        LendingPool pool_,
        MockUSDC usdc_,
        AttestationOracle oracle_,
        uint256 capacityId_,
        uint64 nodeId_,
        address[3] memory borrowers_,
        address lender_,
        address liquidator_,
        uint256[] memory keys
    ) {
        (pool, usdc, oracle, capacityId, nodeId) = (pool_, usdc_, oracle_, capacityId_, nodeId_);
        (gpuClass, borrowers, lender, liquidator, _keys) = (pool_.gpuClass(), borrowers_, lender_, liquidator_, keys);
    }

    // ---------------------------------------------------------------- lenders

    function supply(uint256 amount) external {
        amount = _bound(amount, 1, 50_000e6);
        vm.prank(lender);
        pool.deposit(amount, lender);
        deposited += amount;
        ++ops;
    }

    function withdraw(uint256 amount) external {
        amount = _bound(amount, 0, pool.maxWithdraw(lender));
        if (amount == 0) return;
        vm.prank(lender);
        pool.withdraw(amount, lender, lender);
        withdrawn += amount;
        ++ops;
    }

    // ---------------------------------------------------------------- borrowers

    function pledge(uint256 b, uint256 units) external {
        address who = borrowers[b % 3];
        units = _bound(units, 0, IERC1155(pool.gpuHours()).balanceOf(who, capacityId));
        if (units == 0) return;
        vm.prank(who);
        pool.pledge(capacityId, units);
    }

    function unpledge(uint256 b, uint256 units) external {
        address who = borrowers[b % 3];
        units = _bound(units, 1, Math.max(_pledged(who), 1));
        vm.prank(who);
        try pool.unpledge(capacityId, units, who) {} catch {}
    }

    function borrow(uint256 b, uint256 amount) external {
        address who = borrowers[b % 3];
        amount = _bound(amount, 1e6, 400e6);
        vm.prank(who);
        try pool.borrow(amount, who) {
            borrowed += amount;
            writtenOff[who] = false; // a new episode
            ++ops;
        } catch {}
    }

    function repay(uint256 b, uint256 amount) external {
        address who = borrowers[b % 3];
        (uint256 owed,) = pool.debtOf(who);
        if (owed == 0) return;
        amount = _bound(amount, 1, owed);
        if (owed - amount < pool.minDebt()) amount = type(uint256).max;
        vm.prank(who);
        (uint256 paid,) = pool.repay(amount, who);
        repaid += paid;
        ++ops;
    }

    // ---------------------------------------------------------------- time and prices

    function warp(uint256 secs) external {
        _warp(_bound(secs, 1, 12 hours));
    }

    /// @dev Far enough that runs reach the window's end, its settlement and the units' expiry.
    function warpDays(uint256 secs) external {
        _warp(_bound(secs, 1 hours, 3 days));
    }

    /// @dev A new mark for the last hour that is over, within the oracle's step bounds, and an
    ///      attestation of the node for it (each may be refused: already set, too late).
    function moveMark(uint256 stepBps) external {
        (uint128 last,) = oracle.markPrice(gpuClass);
        uint256 price = Math.max(1, uint256(last) * _bound(stepBps, 7_000, 11_500) / 10_000);
        uint64 epoch = uint64(block.timestamp / 1 hours) - 1;
        Report memory r = _markReport(1, gpuClass, epoch, uint128(price));
        try oracle.submit(r, _signWith(oracle, r, _first(_keys, 2))) {} catch {}
        r = _report(1, _att(nodeId, epoch, 10_000, 1_350_000));
        try oracle.submit(r, _signWith(oracle, r, _first(_keys, 2))) {} catch {}
    }

    // ---------------------------------------------------------------- liquidators

    function liquidate(uint256 b, uint256 amount, bool byUnits) external {
        address who = borrowers[b % 3];
        (uint256 debt, uint256 shares) = pool.debtOf(who);
        uint256 value = pool.collateralValue(who);
        bool healthy = debt <= Math.mulDiv(value, pool.lltv(), 1e18);
        uint256 units = byUnits ? _bound(amount, 1, Math.max(_pledged(who), 1)) : 0;
        uint256 burnt = byUnits ? 0 : _bound(amount, 1, Math.max(shares, 1));
        (uint256 totalBefore,) = pool.totalBorrow();
        vm.prank(liquidator);
        try pool.liquidate(who, capacityId, units, burnt, "") returns (uint256, uint256 paid) {
            if (healthy) healthyLiquidated = true;
            (uint256 totalAfter,) = pool.totalBorrow();
            uint256 written = totalBefore - totalAfter - Math.min(paid, totalBefore);
            _recordBadDebt(who, written);
            repaid += paid;
            ++liquidations;
            ++ops;
            _checkHealth(who, debt, value);
        } catch (bytes memory reason) {
            if (healthy && bytes4(reason) != ILendingPool.HealthyPosition.selector) healthyLiquidated = true;
        }
    }

    function realiseBadDebt(uint256 b) external {
        address who = borrowers[b % 3];
        try pool.realiseBadDebt(who) returns (uint256 assets, uint256) {
            _recordBadDebt(who, assets);
            ++ops;
        } catch {}
    }

    // ---------------------------------------------------------------- expiry

    /// @dev Once the window can be settled, collects the pool's units and credits the positions in
    ///      `first` first (the rest may wait for a later call): debts paid, the rest paid out, what a
    ///      position leaves unpaid with nothing pledged written off.
    function settleExpired(uint256 first, uint256 count) external {
        uint256 n = _bound(count, 0, 4);
        address[] memory list = new address[](n);
        for (uint256 i; i < n; ++i) {
            uint256 k = (first + i) % 4;
            list[i] = k == 3 ? address(pool) : borrowers[k];
        }
        vm.recordLogs();
        try pool.settleExpired(capacityId, list) {
            Vm.Log[] memory logs = vm.getRecordedLogs();
            for (uint256 i; i < logs.length; ++i) {
                if (logs[i].emitter != address(pool)) continue;
                bytes32 topic = logs[i].topics[0];
                if (topic == ILendingPool.ExpiredCredited.selector) {
                    (, uint256 amount, uint256 paid,) = abi.decode(logs[i].data, (uint256, uint256, uint256, uint256));
                    address who = address(uint160(uint256(logs[i].topics[1])));
                    if (who == address(pool)) {
                        recovered += amount;
                        continue;
                    }
                    repaid += paid;
                    expiryPaidOut += amount - paid;
                    ++expiries;
                } else if (topic == ILendingPool.BadDebt.selector) {
                    (uint256 assets,) = abi.decode(logs[i].data, (uint256, uint256));
                    _recordBadDebt(address(uint160(uint256(logs[i].topics[1]))), assets);
                }
            }
            ++ops;
        } catch {}
    }

    // ---------------------------------------------------------------- internal

    function _warp(uint256 secs) internal {
        (uint256 before,) = pool.totalBorrow();
        vm.warp(block.timestamp + secs);
        (uint256 after_,) = pool.totalBorrow();
        interest += after_ - before;
    }

    function _recordBadDebt(address who, uint256 assets) internal {
        if (assets == 0) return;
        if (writtenOff[who]) badDebtTwice = true;
        writtenOff[who] = true;
        badDebt += assets;
        ++badDebts;
    }

    /// @dev While the position covered its debt, what remains is at least as healthy (to a wei of
    ///      each rounding).
    function _checkHealth(address who, uint256 debt, uint256 value) internal {
        (uint256 debtAfter,) = pool.debtOf(who);
        if (value < debt || debtAfter == 0) return;
        ++healthChecks;
        if ((pool.collateralValue(who) + 1) * debt + value < value * debtAfter) healthLowered = true;
    }

    function _pledged(address who) internal view returns (uint256 units) {
        (uint256[] memory ids, uint256[] memory held) = pool.collateralOf(who);
        for (uint256 i; i < ids.length; ++i) {
            if (ids[i] == capacityId) units = held[i];
        }
    }
}
