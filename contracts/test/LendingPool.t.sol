// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";

import {LendingFixtures} from "./utils/LendingFixtures.sol";
import {LendingPool, PoolParams} from "../src/LendingPool.sol";
import {GpuHours} from "../src/GpuHours.sol";
import {ILendingPool, RateModel} from "../src/interfaces/ILendingPool.sol";

contract LendingPoolTest is LendingFixtures {
    // ================================================================ constructor

    function test_constructor_state() public view {
        assertEq(pool.asset(), address(usdc));
        assertEq(pool.gpuHours(), address(gpuHours));
        assertEq(pool.oracle(), address(oracle));
        assertEq(pool.gpuClass(), CLASS);
        assertEq(pool.lltv(), LLTV);
        assertEq(pool.maturityBuffer(), BUFFER);
        assertEq(pool.markMaxAge(), MAX_AGE);
        assertEq(pool.rateModel().kink, _rates().kink);
        assertEq(pool.decimals(), 12); // 6 + the 6-decimal offset
    }

    function test_constructor_rejects() public {
        PoolParams memory p = _params();
        p.lltv = 1e18;
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.InvalidLltv.selector, 1e18));
        new LendingPool(p, "", "");
        p = _params();
        p.rates.kink = 1e18;
        RateModel memory r = p.rates;
        vm.expectRevert(
            abi.encodeWithSelector(ILendingPool.InvalidRateModel.selector, r.base, r.slope1, r.slope2, r.kink)
        );
        new LendingPool(p, "", "");
        p = _params();
        p.rates.slope2 = uint64(pool.MAX_RATE());
        r = p.rates;
        vm.expectRevert(
            abi.encodeWithSelector(ILendingPool.InvalidRateModel.selector, r.base, r.slope1, r.slope2, r.kink)
        );
        new LendingPool(p, "", "");
        p = _params();
        p.markMaxAge = 0;
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.InvalidMarkMaxAge.selector, 0));
        new LendingPool(p, "", "");
        p = _params();
        p.gpuHours = GpuHours(address(0));
        vm.expectRevert(ILendingPool.ZeroAddress.selector);
        new LendingPool(p, "", "");
    }

    // ================================================================ pledge / unpledge

    function test_pledge_pullsUnits() public {
        vm.expectEmit(address(pool));
        emit ILendingPool.Pledged(renter, cap, 50);
        _pledge(50);
        _pledge(10);
        assertEq(gpuHours.balanceOf(address(pool), cap), 60);
        (uint256[] memory ids, uint256[] memory units) = pool.collateralOf(renter);
        assertEq(ids.length, 1);
        assertEq(units[0], 60);
    }

    function test_pledge_rejects() public {
        vm.expectRevert(ILendingPool.ZeroAmount.selector);
        _pledge(0);
        vm.startPrank(provider);
        uint64 a100 = gpuHours.registerNode("A100-80GB", 8, 80, "eu-west", "NVLink", _gpus());
        uint40 start = uint40(block.timestamp - (block.timestamp % 1 hours) + 1 hours);
        uint256 other = gpuHours.createCapacity(a100, start, start + 24 hours, BACKING, 0);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.WrongGpuClass.selector, other, bytes32("A100-80GB"), CLASS));
        vm.prank(renter);
        pool.pledge(other, 1);
    }

    function test_pledge_atMostMaxCapacities() public {
        _pledge(1);
        for (uint256 i = 1; i < pool.MAX_CAPACITIES(); ++i) {
            (, uint256 c) = _capacity(provider, 24, 0);
            _buyPrimary(renter, c, 1, BACKING);
            vm.prank(renter);
            pool.pledge(c, 1);
        }
        (, uint256 ninth) = _capacity(provider, 24, 0);
        _buyPrimary(renter, ninth, 1, BACKING);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.TooManyCapacities.selector, renter, 8));
        vm.prank(renter);
        pool.pledge(ninth, 1);
        vm.prank(renter); // units of a capacity already held do not take a slot
        pool.pledge(cap, 1);
    }

    function test_unpledge_returnsUnits() public {
        _pledge(50);
        vm.expectEmit(address(pool));
        emit ILendingPool.Unpledged(renter, cap, 20, buyer);
        vm.prank(renter);
        pool.unpledge(cap, 20, buyer);
        assertEq(gpuHours.balanceOf(buyer, cap), 20);
        vm.prank(renter);
        pool.unpledge(cap, 30, renter);
        (uint256[] memory ids,) = pool.collateralOf(renter);
        assertEq(ids.length, 0);
    }

    function test_unpledge_rejects() public {
        _pledge(50);
        vm.startPrank(renter);
        vm.expectRevert(ILendingPool.ZeroAmount.selector);
        pool.unpledge(cap, 0, renter);
        vm.expectRevert(ILendingPool.ZeroAddress.selector);
        pool.unpledge(cap, 1, address(0));
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.InsufficientCollateral.selector, renter, cap, 50, 51));
        pool.unpledge(cap, 51, renter);
        vm.stopPrank();
    }

    function test_unpledge_keepsHealthy() public {
        _supply(SUPPLY);
        _pledge(100);
        uint256 value = pool.collateralValue(renter);
        vm.prank(renter);
        pool.borrow(value * LLTV / 1e18 / 2, renter);
        vm.prank(renter);
        pool.unpledge(cap, 40, renter); // 60 % of the value left covers half of it
        vm.expectPartialRevert(ILendingPool.Unhealthy.selector);
        vm.prank(renter);
        pool.unpledge(cap, 20, renter);
    }

    function test_unpledge_staleMarkBlocksOnlyWithDebt() public {
        _supply(SUPPLY);
        _pledge(100);
        vm.prank(renter);
        pool.borrow(1e6, renter);
        (, uint64 epoch) = oracle.markPrice(CLASS);
        vm.warp(block.timestamp + MAX_AGE + 1 hours);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.StaleMark.selector, CLASS, epoch, MAX_AGE));
        vm.prank(renter);
        pool.unpledge(cap, 1, renter);
        vm.prank(renter);
        pool.repay(type(uint256).max, renter);
        vm.prank(renter);
        pool.unpledge(cap, 100, renter);
    }

    // ================================================================ valuation

    function _expected(uint256 units, uint256 mark) internal view returns (uint256) {
        uint256 circulating = gpuHours.totalSupply(cap);
        uint256 usable = Math.min(units, circulating) * gpuHours.usableUnits(cap) / circulating;
        return usable * Math.min(mark, BACKING) * oracle.reliabilityBps(nodeId) / 10_000;
    }

    function test_value_beforeWindow() public view {
        assertGt(oracle.reliabilityBps(nodeId), 9_000);
        assertEq(pool.unitValue(cap, 100, BACKING), _expected(100, BACKING));
        assertGt(pool.unitValue(cap, 100, BACKING), 0);
    }

    function test_value_markCappedAtBacking() public view {
        assertEq(pool.unitValue(cap, 100, 2 * BACKING), pool.unitValue(cap, 100, BACKING));
        assertEq(pool.unitValue(cap, 100, BACKING / 2), _expected(100, BACKING / 2));
    }

    function test_value_halfOver() public {
        vm.warp(_start(cap) + 84 hours);
        _attestNode(nodeId, uint64(block.timestamp / 1 hours) - 1);
        uint256 usable = gpuHours.usableUnits(cap);
        assertEq(usable, 200); // 8 GPUs × 84 h left, more than the 200 out
        assertEq(pool.unitValue(cap, 300, BACKING), _expected(300, BACKING));
        assertEq(_expected(300, BACKING), _expected(200, BACKING));
    }

    function test_value_insideBufferIsZero() public {
        vm.warp(_end(cap) - BUFFER * 1 hours - 1);
        assertGt(pool.unitValue(cap, 100, BACKING), 0);
        vm.warp(_end(cap) - BUFFER * 1 hours);
        assertEq(pool.unitValue(cap, 100, BACKING), 0);
        vm.warp(_end(cap));
        assertEq(pool.unitValue(cap, 100, BACKING), 0);
    }

    function test_value_fullyBookedIsZero() public {
        (uint64 node2, uint256 short) = _capacity(provider, 24, 0);
        _buyPrimary(renter, short, 100, BACKING);
        _buyPrimary(buyer, short, 88, BACKING);
        uint40 start = _start(short);
        vm.prank(buyer);
        gpuHours.activate(short, start + 13 hours, 11, 8); // the last 11 hours, every GPU
        _attestNode(node2, uint64(block.timestamp / 1 hours) - 1);
        assertGt(pool.unitValue(short, 100, BACKING), 0);
        vm.warp(_start(short) + 13 hours); // from here every hour left is booked
        assertEq(gpuHours.usableUnits(short), 0);
        assertEq(pool.unitValue(short, 100, BACKING), 0);
    }

    /// @dev The attack: two positions pledge units of one capacity whose node can deliver fewer hours
    ///      than both hold. Each is valued at its share of the usable hours, never all of them.
    function test_value_sharesUsableHoursAcrossPositions() public {
        (uint64 node2, uint256 day) = _capacity(provider, 24, 0);
        _buyPrimary(renter, day, 100, BACKING);
        _buyPrimary(buyer, day, 92, BACKING); // all 8 × 24 sold
        vm.warp(_start(day) + 12 hours); // 12 hours left: 96 GPU-hours usable of the 192 out
        _attestNode(node2, uint64(block.timestamp / 1 hours) - 1);
        assertEq(gpuHours.usableUnits(day), 96);
        uint256 perUnit = BACKING * oracle.reliabilityBps(node2) / 10_000;
        uint256 renters = pool.unitValue(day, 100, BACKING);
        uint256 buyers = pool.unitValue(day, 92, BACKING);
        assertEq(renters, 50 * BACKING * oracle.reliabilityBps(node2) / 10_000, "100 x 96 / 192");
        assertEq(buyers, 46 * BACKING * oracle.reliabilityBps(node2) / 10_000, "92 x 96 / 192");
        assertLe(renters + buyers, 96 * perUnit + 1, "together at most the usable hours");
    }

    function test_value_nothingCirculatingIsZero() public {
        (, uint256 unsold) = _capacity(provider, 24 * 7, 0);
        assertEq(gpuHours.totalSupply(unsold), 0);
        assertEq(pool.unitValue(unsold, 10, BACKING), 0);
    }

    function test_value_neverAttestedIsZero() public {
        (uint64 fresh, uint256 c) = _capacity(provider, 24 * 7, 0);
        assertEq(oracle.reliabilityBps(fresh), 0);
        _buyPrimary(renter, c, 10, BACKING);
        assertEq(pool.unitValue(c, 10, BACKING), 0);
    }

    // ================================================================ borrow / repay

    function test_borrow_upToLltv() public {
        _supply(SUPPLY);
        _pledge(200);
        uint256 maxDebt = pool.collateralValue(renter) * LLTV / 1e18;
        uint256 before = usdc.balanceOf(buyer);
        vm.expectEmit(address(pool));
        emit ILendingPool.Borrowed(renter, buyer, maxDebt, maxDebt * 1e6);
        vm.prank(renter);
        pool.borrow(maxDebt, buyer);
        assertEq(usdc.balanceOf(buyer), before + maxDebt);
        (uint256 debt,) = pool.debtOf(renter);
        assertEq(debt, maxDebt);
    }

    function test_borrow_rejects() public {
        _pledge(200);
        vm.startPrank(renter);
        vm.expectRevert(ILendingPool.ZeroAmount.selector);
        pool.borrow(0, renter);
        vm.expectRevert(ILendingPool.ZeroAddress.selector);
        pool.borrow(1, address(0));
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.InsufficientCash.selector, 1, 0));
        pool.borrow(1, renter);
        vm.stopPrank();
        _supply(SUPPLY);
        uint256 maxDebt = pool.collateralValue(renter) * LLTV / 1e18;
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.Unhealthy.selector, renter, maxDebt + 1, maxDebt));
        vm.prank(renter);
        pool.borrow(maxDebt + 1, renter);
    }

    function test_borrow_staleOrMissingMark() public {
        _supply(SUPPLY);
        _pledge(200);
        (, uint64 epoch) = oracle.markPrice(CLASS);
        vm.warp((uint256(epoch) + 1) * 1 hours + MAX_AGE);
        vm.prank(renter);
        pool.borrow(1e6, renter); // exactly max age: still fresh
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.StaleMark.selector, CLASS, epoch, MAX_AGE));
        vm.prank(renter);
        pool.borrow(1e6, renter);

        PoolParams memory p = _params();
        p.gpuClass = "B200";
        LendingPool other = new LendingPool(p, "", "");
        usdc.mint(address(other), 1e6); // cash to lend, so the mark is what stops it
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.StaleMark.selector, bytes32("B200"), 0, MAX_AGE));
        vm.prank(renter);
        other.borrow(1, renter);
    }

    function test_repay_partialAndAll() public {
        _supply(SUPPLY);
        _pledge(200);
        vm.prank(renter);
        pool.borrow(100e6, renter);
        vm.warp(block.timestamp + 30 days);
        (uint256 owed, uint256 shares) = pool.debtOf(renter);
        assertGt(owed, 100e6);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.RepayExceedsDebt.selector, buyer, 1, 0));
        vm.prank(renter);
        pool.repay(1, buyer);
        vm.expectRevert(ILendingPool.ZeroAmount.selector);
        vm.prank(renter);
        pool.repay(0, renter);
        vm.expectRevert(ILendingPool.ZeroAmount.selector); // everything of nothing owed
        vm.prank(renter);
        pool.repay(type(uint256).max, buyer);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.RepayExceedsDebt.selector, renter, owed + 1, owed));
        vm.prank(renter);
        pool.repay(owed + 1, renter);
        vm.prank(renter);
        (uint256 repaid, uint256 burnt) = pool.repay(40e6, renter);
        assertEq(repaid, 40e6);
        assertLt(burnt, shares);
        (owed, shares) = pool.debtOf(renter);
        vm.expectEmit(address(pool));
        emit ILendingPool.Repaid(renter, renter, owed, shares);
        vm.prank(renter);
        pool.repay(type(uint256).max, renter);
        (owed, shares) = pool.debtOf(renter);
        assertEq(owed + shares, 0);
        (uint256 totalAssets_, uint256 totalShares) = pool.totalBorrow();
        assertEq(totalAssets_ + totalShares, 0);
        vm.expectRevert(ILendingPool.ZeroAmount.selector);
        vm.prank(renter);
        pool.repay(type(uint256).max, renter);
    }

    // ================================================================ interest

    function test_interest_kink() public {
        _buyPrimary(renter, cap, 200, BACKING);
        _supply(1_000e6);
        _pledge(200);
        RateModel memory r = _rates();
        (uint256 rate, uint256 u) = pool.borrowRate();
        assertEq(rate, r.base);
        assertEq(u, 0);
        vm.prank(renter);
        pool.borrow(300e6, renter); // 30 %
        (rate, u) = pool.borrowRate();
        assertEq(u, 0.3e18);
        assertEq(rate, r.base + uint256(r.slope1) * 0.3e18 / 1e18);

        PoolParams memory p = _params();
        LendingPool small = new LendingPool(p, "", "");
        vm.prank(lender);
        usdc.approve(address(small), type(uint256).max);
        vm.prank(lender);
        small.deposit(300e6, lender);
        vm.startPrank(renter);
        gpuHours.setApprovalForAll(address(small), true);
        small.pledge(cap, 200);
        small.borrow(270e6, renter); // 90 %
        vm.stopPrank();
        (rate, u) = small.borrowRate();
        assertEq(u, 0.9e18);
        assertEq(rate, r.base + uint256(r.slope1) * 0.8e18 / 1e18 + uint256(r.slope2) * 0.1e18 / 1e18);
    }

    function test_interest_accruesIntoTotalAssets() public {
        _supply(1_000e6);
        _pledge(200);
        vm.prank(renter);
        pool.borrow(300e6, renter);
        (uint256 rate,) = pool.borrowRate();
        uint256 before = pool.totalAssets();
        vm.warp(block.timestamp + 7 days);
        uint256 interest = 300e6 * rate * 7 days / 1e18;
        assertGt(interest, 0);
        assertEq(pool.totalAssets(), before + interest);
        (uint256 borrowed,) = pool.totalBorrow();
        assertEq(borrowed, 300e6 + interest);
        assertApproxEqAbs(pool.previewRedeem(pool.balanceOf(lender)), 1_000e6 + interest, 1);
        vm.expectEmit(address(pool));
        emit ILendingPool.InterestAccrued(interest, rate, 300e6 + interest);
        _supply(1e6);
    }

    // ================================================================ vault

    function test_withdraw_limitedByCash() public {
        _supply(1_000e6);
        _pledge(200);
        vm.prank(renter);
        pool.borrow(300e6, renter);
        assertEq(pool.maxWithdraw(lender), 700e6);
        assertEq(pool.maxRedeem(lender), pool.convertToShares(700e6));
        vm.expectPartialRevert(ERC4626.ERC4626ExceededMaxWithdraw.selector);
        vm.prank(lender);
        pool.withdraw(700e6 + 1, lender, lender);
        vm.prank(lender);
        pool.withdraw(700e6, lender, lender);
        assertEq(usdc.balanceOf(address(pool)), 0);
    }

    function test_inflationAttackFails() public {
        address attacker = makeAddr("attacker");
        _fund(attacker);
        vm.startPrank(attacker);
        usdc.approve(address(pool), type(uint256).max);
        pool.deposit(1, attacker);
        usdc.transfer(address(pool), 10_000e6); // donation
        vm.stopPrank();
        uint256 shares = _supply(10_000e6);
        assertGt(shares, 0);
        uint256 victim = pool.previewRedeem(shares);
        assertGe(victim, 10_000e6 - 10_000e6 / 1e6 - 1);
        assertLt(pool.previewRedeem(pool.balanceOf(attacker)), 10_000e6 + 1);
    }

    /// @dev A deposit redeemed at once never returns more than went in, and never lowers what the
    ///      other lender can redeem, with interest in the share price.
    function testFuzz_shareMath_roundsForLenders(uint256 first, uint256 second, uint256 borrowed, uint256 wait) public {
        first = bound(first, 1, 500_000e6);
        second = bound(second, 1, 500_000e6);
        _supply(first);
        _pledge(200);
        borrowed = bound(borrowed, 0, Math.min(first, pool.collateralValue(renter) * LLTV / 1e18));
        if (borrowed >= MIN_DEBT) {
            vm.prank(renter);
            pool.borrow(borrowed, renter);
        }
        vm.warp(block.timestamp + bound(wait, 0, 1 hours));
        uint256 lenderBefore = pool.previewRedeem(pool.balanceOf(lender));
        vm.prank(buyer);
        usdc.approve(address(pool), type(uint256).max);
        vm.prank(buyer);
        uint256 shares = pool.deposit(second, buyer);
        assertLe(pool.previewRedeem(shares), second);
        assertGe(pool.previewRedeem(pool.balanceOf(lender)), lenderBefore);
        uint256 redeemable = Math.min(shares, pool.maxRedeem(buyer));
        vm.prank(buyer);
        uint256 out = pool.redeem(redeemable, buyer, buyer);
        assertLe(out, second);
        assertGe(pool.previewRedeem(pool.balanceOf(lender)), lenderBefore);
    }

    /// @dev Borrow shares round against the borrower: the debt is never below what was borrowed.
    function testFuzz_borrowShares_roundAgainstBorrower(uint256 a, uint256 b, uint256 wait) public {
        _supply(SUPPLY);
        _pledge(200);
        uint256 maxDebt = pool.collateralValue(renter) * LLTV / 1e18;
        a = bound(a, MIN_DEBT, maxDebt / 3);
        b = bound(b, MIN_DEBT, maxDebt / 3);
        vm.prank(renter);
        pool.borrow(a, renter);
        vm.warp(block.timestamp + bound(wait, 0, 1 hours));
        vm.prank(renter);
        pool.borrow(b, renter);
        (uint256 debt,) = pool.debtOf(renter);
        assertGe(debt, a + b);
        (uint256 total,) = pool.totalBorrow();
        assertLe(total, debt); // the total never exceeds what borrowers owe
    }

    /// @dev A stateful run of deposits, withdrawals, borrows, repays and time. With ghost sums of
    ///      what went in and out: the debt is at most what lenders supplied net plus the interest
    ///      accrued, and cash plus debt covers every lender's shares.
    function testFuzz_accounting_staysSolvent(uint8[24] memory ops, uint256[24] memory amounts) public {
        _pledge(200);
        uint256[4] memory sums; // deposited, withdrawn, borrowed, repaid
        for (uint256 i; i < ops.length; ++i) {
            uint256 amount = bound(amounts[i], 1, 200e6);
            uint256 op = ops[i] % 5;
            vm.startPrank(op < 2 ? lender : renter);
            if (op == 0) {
                pool.deposit(amount, lender);
                sums[0] += amount;
            } else if (op == 1) {
                amount = Math.min(amount, pool.maxWithdraw(lender));
                if (amount != 0) pool.withdraw(amount, lender, lender);
                sums[1] += amount;
            } else if (op == 2) {
                try pool.borrow(amount, renter) {
                    sums[2] += amount;
                } catch {}
            } else if (op == 3) {
                (uint256 owed,) = pool.debtOf(renter);
                if (owed != 0) {
                    // A repayment leaving dust repays all.
                    (uint256 repaid,) = pool.repay(owed - Math.min(amount, owed) < MIN_DEBT ? owed : amount, renter);
                    sums[3] += repaid;
                }
            } else {
                vm.warp(block.timestamp + amount % 1 hours);
            }
            vm.stopPrank();
            (uint256 borrowed,) = pool.totalBorrow();
            uint256 interest = borrowed + sums[3] - Math.min(borrowed + sums[3], sums[2]);
            assertLe(borrowed + sums[1], sums[0] + interest);
            assertGe(usdc.balanceOf(address(pool)) + borrowed, pool.previewRedeem(pool.totalSupply()));
        }
    }
}
