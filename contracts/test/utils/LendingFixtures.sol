// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./Fixtures.sol";
import {LendingPool, PoolParams} from "../../src/LendingPool.sol";
import {RateModel} from "../../src/interfaces/ILendingPool.sol";
import {Report} from "../../src/interfaces/IAttestationOracle.sol";

/// @notice A lending pool for the H100 class on Base's market, a lender who deposited, and a borrower
///         (the renter) holding units of a week-long capacity on an attested node.
abstract contract LendingFixtures is Fixtures {
    bytes32 internal constant CLASS = "H100-SXM5-80GB";
    uint256 internal constant LLTV = 0.8e18;
    uint256 internal constant BUFFER = 6; // hours
    uint256 internal constant MAX_AGE = 2 hours;
    uint256 internal constant SUPPLY = 100_000 * 1e6;
    uint256 internal constant MIN_DEBT = 1e6; // 1 USDC

    LendingPool internal pool;
    address internal lender = makeAddr("lender");
    uint64 internal nodeId;
    uint256 internal cap;

    function setUp() public virtual override {
        super.setUp();
        pool = new LendingPool(_params(), "gpuhours H100 lending", "ghH100");
        _fund(lender);
        vm.prank(lender);
        usdc.approve(address(pool), type(uint256).max);
        vm.prank(renter);
        usdc.approve(address(pool), type(uint256).max);
        vm.prank(renter);
        gpuHours.setApprovalForAll(address(pool), true);
        (nodeId, cap) = _capacity(provider, 24 * 7, 0);
        _buyPrimary(renter, cap, 200, BACKING);
        _attestNode(nodeId, uint64(block.timestamp / 1 hours) - 1);
        _mark(BACKING);
    }

    function _rates() internal pure virtual returns (RateModel memory) {
        // 2 %, +8 % up to the 80 % kink, +100 % above it, a year
        return RateModel({
            base: uint64(0.02e18 / uint256(365 days)),
            slope1: uint64(0.1e18 / uint256(365 days)),
            slope2: uint64(1e18 / uint256(365 days)),
            kink: 0.8e18
        });
    }

    function _params() internal view returns (PoolParams memory) {
        return PoolParams({
            stablecoin: usdc,
            gpuHours: gpuHours,
            oracle: oracle,
            gpuClass: CLASS,
            lltv: LLTV,
            rates: _rates(),
            maturityBuffer: BUFFER,
            markMaxAge: MAX_AGE,
            minDebt: MIN_DEBT
        });
    }

    /// @dev One full-uptime attestation of `node` for `epoch`, submitted at once (it must be over).
    function _attestNode(uint64 node, uint64 epoch) internal {
        Report memory r = _report(1, _att(node, epoch, 10_000, 1_350_000));
        oracle.submit(r, _signWith(oracle, r, _first(oracleKeys, 2)));
    }

    /// @dev Marks the class at `price` for the last hour that is over.
    function _mark(uint128 price) internal {
        Report memory r = _markReport(1, CLASS, uint64(block.timestamp / 1 hours) - 1, price);
        oracle.submit(r, _signWith(oracle, r, _first(oracleKeys, 2)));
    }

    function _supply(uint256 assets) internal returns (uint256 shares) {
        vm.prank(lender);
        shares = pool.deposit(assets, lender);
    }

    function _pledge(uint256 units) internal {
        vm.prank(renter);
        pool.pledge(cap, units);
    }
}
