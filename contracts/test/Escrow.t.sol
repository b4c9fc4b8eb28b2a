// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Fixtures} from "./utils/Fixtures.sol";
import {Escrow} from "../src/Escrow.sol";
import {IEscrow, Funds, Payee} from "../src/interfaces/IEscrow.sol";

contract EscrowTest is Fixtures {
    address internal settler = makeAddr("settler");
    address internal payeeA = makeAddr("payeeA");
    address internal payeeB = makeAddr("payeeB");
    address internal payeeC = makeAddr("payeeC");

    uint256 internal id;

    function setUp() public override {
        super.setUp();
        (, id) = _capacity(provider, 24, 100 * USDC);
        vm.prank(owner);
        escrow.setSettler(settler);
    }

    /// @dev Sells `units` at PRICE with the 1 % fee: sales 99 %, fees 1 % (rounded up).
    function _sell(uint256 units) internal returns (uint256 total, uint256 fee) {
        total = units * PRICE;
        fee = _buyPrimary(renter, id, units, PRICE);
    }

    function _split2(address a, uint16 aBps, address b, uint16 bBps) internal pure returns (Payee[] memory p) {
        p = new Payee[](2);
        p[0] = Payee(a, aBps);
        p[1] = Payee(b, bBps);
    }

    // ================================================================ constructor / admin

    function test_constructor_wiring() public view {
        assertEq(address(escrow.stablecoin()), address(usdc));
        assertEq(escrow.gpuHours(), address(gpuHours));
        assertEq(escrow.exchange(), address(exchange));
        assertEq(escrow.treasury(), treasury);
        assertEq(escrow.owner(), owner);
        assertEq(escrow.MAX_PAYEES(), 8);
    }

    function test_constructor_revertsZeroStablecoin() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        new Escrow(IERC20(address(0)), address(1), address(2), owner, treasury);
    }

    function test_constructor_revertsZeroGpuHours() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        new Escrow(usdc, address(0), address(2), owner, treasury);
    }

    function test_constructor_revertsZeroExchange() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        new Escrow(usdc, address(1), address(0), owner, treasury);
    }

    function test_constructor_revertsZeroTreasury() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        new Escrow(usdc, address(1), address(2), owner, address(0));
    }

    function test_setSettler_setsAndEmits() public {
        address next = makeAddr("next");
        vm.expectEmit(address(escrow));
        emit IEscrow.SettlerSet(next);
        vm.prank(owner);
        escrow.setSettler(next);
        assertEq(escrow.settler(), next);
    }

    function test_setSettler_revertsNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, settler));
        vm.prank(settler);
        escrow.setSettler(settler);
    }

    function test_setTreasury_setsAndEmits() public {
        address next = makeAddr("next");
        vm.expectEmit(address(escrow));
        emit IEscrow.TreasurySet(next);
        vm.prank(owner);
        escrow.setTreasury(next);
        assertEq(escrow.treasury(), next);
    }

    function test_setTreasury_revertsZeroAddress() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        vm.prank(owner);
        escrow.setTreasury(address(0));
    }

    function test_setTreasury_revertsNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, renter));
        vm.prank(renter);
        escrow.setTreasury(renter);
    }

    // ================================================================ gpuHours seam

    function test_postBond_pullsFromProvider() public {
        uint256 before = usdc.balanceOf(provider);
        vm.prank(address(gpuHours));
        escrow.postBond(id, provider, 5 * USDC);
        assertEq(escrow.funds(id).bond, 105 * USDC);
        assertEq(usdc.balanceOf(provider), before - 5 * USDC);
        assertEq(usdc.balanceOf(address(escrow)), 105 * USDC);
    }

    function test_postBond_revertsNotGpuHours() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlyGpuHours.selector, provider));
        vm.prank(provider);
        escrow.postBond(id, provider, 1);
    }

    function test_postBond_revertsAmountTooLarge() public {
        uint256 amount = uint256(type(uint128).max) - 100 * USDC + 1;
        vm.expectRevert(abi.encodeWithSelector(IEscrow.AmountTooLarge.selector, uint256(type(uint128).max) + 1));
        vm.prank(address(gpuHours));
        escrow.postBond(id, provider, amount);
    }

    function test_openRefunds_revertsNotGpuHours() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlyGpuHours.selector, provider));
        vm.prank(provider);
        escrow.openRefunds(id, 0, provider);
    }

    function test_openRefunds_emitsAndCreditsBond() public {
        (uint256 total,) = _sell(10);
        vm.expectEmit(address(escrow));
        emit IEscrow.CapacityRefundOpened(id, 10, total);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, 100 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.Credited(provider, 100 * USDC);
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        assertEq(escrow.funds(id).refundableUnits, 10);
        assertEq(escrow.claimable(provider), 100 * USDC);
    }

    function test_refund_revertsNotGpuHours() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlyGpuHours.selector, renter));
        vm.prank(renter);
        escrow.refund(id, renter, 1);
    }

    function test_refund_revertsNotRefundable() public {
        _sell(10);
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.NotRefundable.selector, id, 11, 10));
        vm.prank(address(gpuHours));
        escrow.refund(id, renter, 11);
    }

    function test_refund_revertsBeforeCancellation() public {
        _sell(10);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.NotRefundable.selector, id, 1, 0));
        vm.prank(address(gpuHours));
        escrow.refund(id, renter, 1);
    }

    function test_refund_afterSettlerMovedFundsLastTakesTheRest() public {
        (uint256 total,) = _sell(10);
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        // Not a flow the settler should follow, but refunds must still neither fail nor strand funds.
        uint256 half = escrow.funds(id).sales / 2;
        vm.prank(settler);
        escrow.refundUndelivered(id, buyer, half);
        uint256 moved = escrow.claimable(buyer);
        vm.startPrank(renter);
        gpuHours.redeemCancelled(id, 4);
        gpuHours.redeemCancelled(id, 6);
        vm.stopPrank();
        assertEq(escrow.claimable(renter), total - moved);
        Funds memory f = escrow.funds(id);
        assertEq(uint256(f.sales) + f.fees, 0);
    }

    // ================================================================ exchange seam

    function test_creditSale_recordsSaleAndFee() public {
        vm.expectEmit(address(escrow));
        emit IEscrow.SaleCredited(id, 990, 10);
        vm.prank(address(exchange));
        escrow.creditSale(id, 990, 10);
        Funds memory f = escrow.funds(id);
        assertEq(f.sales, 990);
        assertEq(f.fees, 10);
    }

    function test_creditSale_viaPrimaryFill() public {
        (uint256 total, uint256 fee) = _sell(10);
        Funds memory f = escrow.funds(id);
        assertEq(f.sales, total - fee);
        assertEq(f.fees, fee);
        assertEq(usdc.balanceOf(address(escrow)), 100 * USDC + total);
    }

    function test_creditSale_revertsNotExchange() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlyExchange.selector, provider));
        vm.prank(provider);
        escrow.creditSale(id, 1, 0);
    }

    function test_creditSale_revertsSalesTooLarge() public {
        uint256 net = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IEscrow.AmountTooLarge.selector, net));
        vm.prank(address(exchange));
        escrow.creditSale(id, net, 0);
    }

    function test_creditSale_revertsFeesTooLarge() public {
        vm.prank(address(exchange));
        escrow.creditSale(id, 0, type(uint128).max);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.AmountTooLarge.selector, uint256(type(uint128).max) + 1));
        vm.prank(address(exchange));
        escrow.creditSale(id, 0, 1);
    }

    // ================================================================ settler: release

    function test_release_paysProviderAndProportionalFee() public {
        vm.prank(owner);
        exchange.setFee(0);
        vm.prank(address(exchange));
        escrow.creditSale(id, 1000, 30); // sales 1000, fees 30
        vm.expectEmit(address(escrow));
        emit IEscrow.Released(id, provider, 250, 7); // 30 × 250 / 1000 = 7.5, rounded down
        vm.prank(settler);
        escrow.release(id, provider, 250);
        assertEq(escrow.claimable(provider), 250);
        assertEq(escrow.claimable(treasury), 7);
        Funds memory f = escrow.funds(id);
        assertEq(f.sales, 750);
        assertEq(f.fees, 23);
    }

    function test_release_lastReleaseTakesAllFees() public {
        vm.prank(address(exchange));
        escrow.creditSale(id, 1000, 30);
        vm.startPrank(settler);
        escrow.release(id, provider, 333);
        escrow.release(id, provider, 333);
        escrow.release(id, provider, 334);
        vm.stopPrank();
        assertEq(escrow.claimable(provider), 1000);
        assertEq(escrow.claimable(treasury), 30);
        Funds memory f = escrow.funds(id);
        assertEq(f.sales, 0);
        assertEq(f.fees, 0);
    }

    function test_release_afterPrimaryFillsIsSolvent() public {
        (uint256 total, uint256 fee) = _sell(10);
        vm.prank(settler);
        escrow.release(id, provider, total - fee);
        assertEq(escrow.claimable(provider) + escrow.claimable(treasury), total);
        vm.prank(provider);
        escrow.withdraw(provider);
        vm.prank(treasury);
        escrow.withdraw(treasury);
        assertEq(usdc.balanceOf(address(escrow)), escrow.funds(id).bond);
    }

    function test_release_splitsRevenue() public {
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 7_000, payeeB, 3_000));
        vm.prank(address(exchange));
        escrow.creditSale(id, 1001, 0);
        vm.prank(settler);
        escrow.release(id, provider, 1001);
        // payeeB takes 3,000 bps rounded down; the first payee takes the remainder.
        assertEq(escrow.claimable(payeeB), 300);
        assertEq(escrow.claimable(payeeA), 701);
        assertEq(escrow.claimable(provider), 0);
    }

    function test_release_zeroAmountMovesNothing() public {
        vm.prank(address(exchange));
        escrow.creditSale(id, 1000, 30);
        vm.prank(settler);
        escrow.release(id, provider, 0);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.funds(id).fees, 30);
    }

    function test_release_revertsInsufficientFunds() public {
        vm.prank(address(exchange));
        escrow.creditSale(id, 1000, 30);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InsufficientFunds.selector, id, 1001, 1000));
        vm.prank(settler);
        escrow.release(id, provider, 1001);
    }

    function test_release_revertsNotSettler() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, provider));
        vm.prank(provider);
        escrow.release(id, provider, 0);
    }

    // ================================================================ settler: refundUndelivered

    function test_refundUndelivered_returnsSalesAndFee() public {
        vm.prank(address(exchange));
        escrow.creditSale(id, 1000, 30);
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 0, 515); // 500 + 30 × 500 / 1000
        vm.prank(settler);
        escrow.refundUndelivered(id, renter, 500);
        assertEq(escrow.claimable(renter), 515);
        assertEq(escrow.claimable(treasury), 0);
        Funds memory f = escrow.funds(id);
        assertEq(f.sales, 500);
        assertEq(f.fees, 15);
    }

    function test_refundUndelivered_revertsInsufficientFunds() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InsufficientFunds.selector, id, 1, 0));
        vm.prank(settler);
        escrow.refundUndelivered(id, renter, 1);
    }

    function test_refundUndelivered_revertsNotSettler() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, renter));
        vm.prank(renter);
        escrow.refundUndelivered(id, renter, 0);
    }

    // ================================================================ settler: bond

    function test_slashBond_creditsVictim() public {
        vm.expectEmit(address(escrow));
        emit IEscrow.BondSlashed(id, renter, 40 * USDC);
        vm.prank(settler);
        escrow.slashBond(id, renter, 40 * USDC);
        assertEq(escrow.funds(id).bond, 60 * USDC);
        assertEq(escrow.claimable(renter), 40 * USDC);
    }

    function test_slashBond_revertsAboveBond() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InsufficientFunds.selector, id, 100 * USDC + 1, 100 * USDC));
        vm.prank(settler);
        escrow.slashBond(id, renter, 100 * USDC + 1);
    }

    function test_slashBond_revertsNotSettler() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, renter));
        vm.prank(renter);
        escrow.slashBond(id, renter, 1);
    }

    function test_returnBond_returnsWhatIsLeft() public {
        vm.startPrank(settler);
        escrow.slashBond(id, renter, 30 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, 70 * USDC);
        escrow.returnBond(id, provider);
        vm.stopPrank();
        assertEq(escrow.funds(id).bond, 0);
        assertEq(escrow.claimable(provider), 70 * USDC);
    }

    function test_returnBond_revertsNotSettler() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, provider));
        vm.prank(provider);
        escrow.returnBond(id, provider);
    }

    function test_settlerSeam_revertsBeforeSettlerIsSet() public {
        vm.prank(owner);
        escrow.setSettler(address(0));
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, settler));
        vm.prank(settler);
        escrow.returnBond(id, provider);
    }

    // ================================================================ withdraw

    function test_withdraw_sendsEverythingCredited() public {
        vm.prank(settler);
        escrow.returnBond(id, provider);
        address to = makeAddr("to");
        vm.expectEmit(address(escrow));
        emit IEscrow.Withdrawn(provider, to, 100 * USDC);
        vm.expectEmit(address(usdc));
        emit IERC20.Transfer(address(escrow), to, 100 * USDC);
        vm.prank(provider);
        uint256 amount = escrow.withdraw(to);
        assertEq(amount, 100 * USDC);
        assertEq(usdc.balanceOf(to), 100 * USDC);
        assertEq(escrow.claimable(provider), 0);
    }

    function test_withdraw_revertsNothingToWithdraw() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.NothingToWithdraw.selector, renter));
        vm.prank(renter);
        escrow.withdraw(renter);
    }

    function test_withdraw_revertsTwice() public {
        vm.prank(settler);
        escrow.returnBond(id, provider);
        vm.prank(provider);
        escrow.withdraw(provider);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.NothingToWithdraw.selector, provider));
        vm.prank(provider);
        escrow.withdraw(provider);
    }

    function test_withdraw_revertsZeroAddress() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        vm.prank(provider);
        escrow.withdraw(address(0));
    }

    // ================================================================ setRevenueSplit

    function test_setRevenueSplit_storesAndEmits() public {
        Payee[] memory p = _split2(payeeA, 6_000, payeeB, 4_000);
        vm.expectEmit(address(escrow));
        emit IEscrow.RevenueSplitSet(provider, p);
        vm.prank(provider);
        escrow.setRevenueSplit(p);
        Payee[] memory stored = escrow.revenueSplit(provider);
        assertEq(stored.length, 2);
        assertEq(stored[0].account, payeeA);
        assertEq(stored[0].bps, 6_000);
        assertEq(stored[1].account, payeeB);
        assertEq(stored[1].bps, 4_000);
    }

    function test_setRevenueSplit_replacesPrevious() public {
        vm.startPrank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 6_000, payeeB, 4_000));
        Payee[] memory p = new Payee[](1);
        p[0] = Payee(payeeC, 10_000);
        escrow.setRevenueSplit(p);
        vm.stopPrank();
        Payee[] memory stored = escrow.revenueSplit(provider);
        assertEq(stored.length, 1);
        assertEq(stored[0].account, payeeC);
    }

    function test_setRevenueSplit_emptyPaysProviderAlone() public {
        vm.startPrank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 6_000, payeeB, 4_000));
        escrow.setRevenueSplit(new Payee[](0));
        vm.stopPrank();
        assertEq(escrow.revenueSplit(provider).length, 0);
        vm.prank(address(exchange));
        escrow.creditSale(id, 500, 0);
        vm.prank(settler);
        escrow.release(id, provider, 500);
        assertEq(escrow.claimable(provider), 500);
    }

    function test_setRevenueSplit_eightPayees() public {
        Payee[] memory p = new Payee[](8);
        for (uint256 i; i < 8; ++i) {
            p[i] = Payee(address(uint160(0x1000 + i)), 1_250);
        }
        vm.prank(provider);
        escrow.setRevenueSplit(p);
        assertEq(escrow.revenueSplit(provider).length, 8);
    }

    function test_setRevenueSplit_revertsNinePayees() public {
        Payee[] memory p = new Payee[](9);
        for (uint256 i; i < 9; ++i) {
            p[i] = Payee(address(uint160(0x1000 + i)), i == 0 ? 2_000 : 1_000);
        }
        vm.expectRevert(IEscrow.InvalidSplit.selector);
        vm.prank(provider);
        escrow.setRevenueSplit(p);
    }

    function test_setRevenueSplit_revertsZeroAccount() public {
        vm.expectRevert(IEscrow.InvalidSplit.selector);
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 5_000, address(0), 5_000));
    }

    function test_setRevenueSplit_revertsZeroShare() public {
        vm.expectRevert(IEscrow.InvalidSplit.selector);
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 10_000, payeeB, 0));
    }

    function test_setRevenueSplit_revertsSharesBelowWhole() public {
        vm.expectRevert(IEscrow.InvalidSplit.selector);
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 5_000, payeeB, 4_999));
    }

    function test_setRevenueSplit_revertsSharesAboveWhole() public {
        vm.expectRevert(IEscrow.InvalidSplit.selector);
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 5_000, payeeB, 5_001));
    }

    function test_setRevenueSplit_failedUpdateKeepsPrevious() public {
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 6_000, payeeB, 4_000));
        vm.prank(provider);
        try escrow.setRevenueSplit(_split2(payeeA, 1, payeeB, 1)) {
            fail();
        } catch {}
        assertEq(escrow.revenueSplit(provider).length, 2);
        assertEq(escrow.revenueSplit(provider)[0].bps, 6_000);
    }
}
