// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Fixtures} from "./utils/Fixtures.sol";
import {Escrow} from "../src/Escrow.sol";
import {IEscrow, Funds, Payee} from "../src/interfaces/IEscrow.sol";
import {IGpuHours} from "../src/interfaces/IGpuHours.sol";

contract EscrowTest is Fixtures {
    address internal settler;
    address internal attacker = makeAddr("attacker");
    address internal payeeA = makeAddr("payeeA");
    address internal payeeB = makeAddr("payeeB");
    address internal payeeC = makeAddr("payeeC");

    uint256 internal id;

    function setUp() public override {
        super.setUp();
        settler = address(settlement);
        (, id) = _capacity(provider, 24, 100 * USDC);
    }

    /// @dev Sells `units` at the backing (PRICE == BACKING): no premium, no fee.
    function _sell(uint256 units) internal returns (uint256 backing) {
        backing = units * BACKING;
        assertEq(_buyPrimary(renter, id, units, PRICE), 0);
    }

    function _split2(address a, uint16 aBps, address b, uint16 bBps) internal pure returns (Payee[] memory p) {
        p = new Payee[](2);
        p[0] = Payee(a, aBps);
        p[1] = Payee(b, bBps);
    }

    /// @dev Everyone who is not `allowed`, the protocol's owner and its other contracts included.
    function _intruders(address allowed) internal view returns (address[] memory all) {
        address[7] memory candidates =
            [owner, attacker, provider, renter, address(gpuHours), address(exchange), address(settlement)];
        all = new address[](6);
        uint256 n;
        for (uint256 i; i < candidates.length; ++i) {
            if (candidates[i] != allowed) all[n++] = candidates[i];
        }
    }

    // ================================================================ constructor / wiring

    function test_constructor_wiring() public view {
        assertEq(address(escrow.stablecoin()), address(usdc));
        assertEq(escrow.gpuHours(), address(gpuHours));
        assertEq(escrow.exchange(), address(exchange));
        assertEq(escrow.treasury(), treasury);
        assertEq(escrow.feeBps(), FEE_BPS);
        assertEq(escrow.MAX_PAYEES(), 8);
        assertEq(escrow.MAX_FEE_BPS(), 1_000);
        // The exchange copies the fee and treasury once; they cannot drift apart.
        assertEq(exchange.feeBps(), FEE_BPS);
        assertEq(exchange.treasury(), treasury);
    }

    function test_constructor_revertsZeroStablecoin() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        new Escrow(IERC20(address(0)), address(1), address(2), treasury, FEE_BPS);
    }

    function test_constructor_revertsZeroGpuHours() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        new Escrow(usdc, address(0), address(2), treasury, FEE_BPS);
    }

    function test_constructor_revertsZeroExchange() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        new Escrow(usdc, address(1), address(0), treasury, FEE_BPS);
    }

    function test_constructor_revertsZeroTreasury() public {
        vm.expectRevert(IEscrow.ZeroAddress.selector);
        new Escrow(usdc, address(1), address(2), address(0), FEE_BPS);
    }

    function test_constructor_feeUpToMax() public {
        Escrow e = new Escrow(usdc, address(1), address(2), treasury, 1_000);
        assertEq(e.feeBps(), 1_000);
        e = new Escrow(usdc, address(1), address(2), treasury, 0);
        assertEq(e.feeBps(), 0);
    }

    function test_constructor_revertsFeeTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.FeeTooHigh.selector, 1_001, 1_000));
        new Escrow(usdc, address(1), address(2), treasury, 1_001);
    }

    /// @dev No owner and no setter: nothing can re-point the settler or change the fee or treasury.
    function test_noAdminSurface() public {
        bytes[8] memory calls = [
            abi.encodeWithSignature("owner()"),
            abi.encodeWithSignature("settler()"),
            abi.encodeWithSignature("setSettler(address)", attacker),
            abi.encodeWithSignature("setTreasury(address)", attacker),
            abi.encodeWithSignature("setFee(uint16)", uint16(1_000)),
            abi.encodeWithSignature("setFeeBps(uint16)", uint16(1_000)),
            abi.encodeWithSignature("transferOwnership(address)", attacker),
            abi.encodeWithSignature("setGpuHours(address)", attacker)
        ];
        address[2] memory callers = [owner, attacker];
        for (uint256 c; c < callers.length; ++c) {
            for (uint256 i; i < calls.length; ++i) {
                vm.prank(callers[c]);
                (bool ok, bytes memory ret) = address(escrow).call(calls[i]);
                assertFalse(ok, "escrow has no such function");
                assertEq(ret.length, 0, "no fallback answers it either");
            }
        }
        assertEq(escrow.treasury(), treasury);
        assertEq(escrow.feeBps(), FEE_BPS);
    }

    /// @dev The settler is GpuHours' settlement, wired once: not even the owner can re-point it.
    function test_ownerCannotRepointSettler() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.SettlementAlreadySet.selector, gpuHours.settlement()));
        vm.prank(owner);
        gpuHours.setSettlement(attacker);
        assertEq(gpuHours.settlement(), address(settlement));

        _sell(10);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, attacker));
        vm.prank(attacker);
        escrow.settle(id, attacker, 10, 0);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, owner));
        vm.prank(owner);
        escrow.settleWindow(id, owner, 24, 24);
    }

    // ================================================================ gpuHours seam

    function test_postBond_pullsFromProvider() public {
        uint256 before = usdc.balanceOf(provider);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondPosted(id, provider, 5 * USDC);
        vm.prank(address(gpuHours));
        escrow.postBond(id, provider, 5 * USDC);
        assertEq(escrow.funds(id).bond, 105 * USDC);
        assertEq(usdc.balanceOf(provider), before - 5 * USDC);
        assertEq(usdc.balanceOf(address(escrow)), 105 * USDC);
    }

    function test_postBond_revertsNotGpuHours() public {
        address[] memory intruders = _intruders(address(gpuHours));
        for (uint256 i; i < intruders.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlyGpuHours.selector, intruders[i]));
            vm.prank(intruders[i]);
            escrow.postBond(id, provider, 1);
        }
    }

    function test_postBond_revertsAmountTooLarge() public {
        uint256 amount = uint256(type(uint128).max) - 100 * USDC + 1;
        vm.expectRevert(abi.encodeWithSelector(IEscrow.AmountTooLarge.selector, uint256(type(uint128).max) + 1));
        vm.prank(address(gpuHours));
        escrow.postBond(id, provider, amount);
    }

    function test_openRefunds_revertsNotGpuHours() public {
        address[] memory intruders = _intruders(address(gpuHours));
        for (uint256 i; i < intruders.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlyGpuHours.selector, intruders[i]));
            vm.prank(intruders[i]);
            escrow.openRefunds(id, 0, intruders[i], 0);
        }
    }

    function test_openRefunds_noSlashReturnsWholeBond() public {
        _sell(10);
        vm.expectEmit(address(escrow));
        emit IEscrow.RefundsOpened(id, 10, 0);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, 100 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, 0);
        vm.expectEmit(address(escrow));
        emit IEscrow.Credited(provider, 100 * USDC);
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        Funds memory f = escrow.funds(id);
        assertEq(f.bond, 0);
        assertEq(f.penaltyPerUnit, 0);
        assertEq(f.backing, 10 * BACKING);
        assertEq(escrow.claimable(provider), 100 * USDC);
    }

    function test_openRefunds_keepsPenaltyForHolders() public {
        // 10 units sold, 3 USDC each kept from the 100 USDC bond; 70 USDC back to the provider.
        vm.expectEmit(address(escrow));
        emit IEscrow.RefundsOpened(id, 10, 3 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, 70 * USDC);
        vm.prank(address(gpuHours));
        escrow.openRefunds(id, 10, provider, 3 * USDC);
        Funds memory f = escrow.funds(id);
        assertEq(f.bond, 30 * USDC);
        assertEq(f.penaltyPerUnit, 3 * USDC);
        assertEq(escrow.claimable(provider), 70 * USDC);
    }

    function test_openRefunds_penaltyCappedByBond() public {
        // 30 units sold, 10 USDC asked each: the 100 USDC bond covers 3.333333 USDC a unit.
        vm.expectEmit(address(escrow));
        emit IEscrow.RefundsOpened(id, 30, 3_333_333);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, 10);
        vm.prank(address(gpuHours));
        escrow.openRefunds(id, 30, provider, 10 * USDC);
        Funds memory f = escrow.funds(id);
        assertEq(f.bond, 99_999_990);
        assertEq(f.penaltyPerUnit, 3_333_333);
        assertEq(escrow.claimable(provider), 10);
    }

    function test_openRefunds_nothingSoldReturnsWholeBond() public {
        vm.prank(address(gpuHours));
        escrow.openRefunds(id, 0, provider, 5 * USDC);
        assertEq(escrow.funds(id).bond, 0);
        assertEq(escrow.claimable(provider), 100 * USDC);
    }

    function test_refund_revertsNotGpuHours() public {
        _sell(1);
        address[] memory intruders = _intruders(address(gpuHours));
        for (uint256 i; i < intruders.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlyGpuHours.selector, intruders[i]));
            vm.prank(intruders[i]);
            escrow.refund(id, intruders[i], 1);
        }
    }

    function test_refund_paysBackingPlusPenalty() public {
        _sell(10);
        vm.prank(address(gpuHours));
        escrow.openRefunds(id, 10, provider, 3 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 4, 4 * BACKING);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondSlashed(id, renter, 12 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.Credited(renter, 4 * BACKING + 12 * USDC);
        vm.prank(address(gpuHours));
        uint256 amount = escrow.refund(id, renter, 4);
        assertEq(amount, 4 * (uint256(BACKING) + 3 * USDC));
        assertEq(escrow.claimable(renter), amount);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 6 * BACKING);
        assertEq(f.bond, 18 * USDC);
    }

    function test_refund_throughGpuHoursEmptiesTheCapacity() public {
        uint256 backing = _sell(10);
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        vm.startPrank(renter);
        gpuHours.redeemCancelled(id, 4);
        gpuHours.redeemCancelled(id, 6);
        vm.stopPrank();
        assertEq(escrow.claimable(renter), backing);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0);
        assertEq(f.bond, 0);
        // Everything held is owed: the refunds and the returned bond.
        assertEq(usdc.balanceOf(address(escrow)), backing + 100 * USDC);
    }

    function test_refund_revertsInsufficientFunds() public {
        _sell(2);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InsufficientFunds.selector, id, 3 * BACKING, 2 * BACKING));
        vm.prank(address(gpuHours));
        escrow.refund(id, renter, 3);
    }

    // ================================================================ exchange seam

    function test_deposit_recordsBacking() public {
        vm.expectEmit(address(escrow));
        emit IEscrow.BackingDeposited(id, 3, 3 * BACKING);
        vm.recordLogs();
        vm.prank(address(exchange));
        escrow.deposit(id, 3, 3 * BACKING, 0);
        assertEq(vm.getRecordedLogs().length, 1, "no PremiumDeposited without a premium");
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 3 * BACKING);
        assertEq(f.premium, 0);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_deposit_holdsPremium() public {
        vm.expectEmit(address(escrow));
        emit IEscrow.BackingDeposited(id, 3, 3 * BACKING);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumDeposited(id, 1_000);
        vm.prank(address(exchange));
        escrow.deposit(id, 3, 3 * BACKING, 1_000);
        vm.prank(address(exchange));
        escrow.deposit(id, 2, 2 * BACKING, 500);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 5 * BACKING);
        assertEq(f.premium, 1_500);
        // Nothing paid out at the sale: the premium waits for the window to settle.
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_deposit_revertsPremiumTooLarge() public {
        uint256 amount = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IEscrow.AmountTooLarge.selector, amount));
        vm.prank(address(exchange));
        escrow.deposit(id, 1, BACKING, amount);
    }

    function test_deposit_viaPrimaryFillAtBacking() public {
        uint256 before = usdc.balanceOf(renter);
        uint256 backing = _sell(10);
        assertEq(escrow.funds(id).backing, backing);
        assertEq(escrow.funds(id).premium, 0);
        assertEq(usdc.balanceOf(address(escrow)), 100 * USDC + backing);
        assertEq(usdc.balanceOf(renter), before - backing);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_deposit_viaPrimaryFillAbovePremiumHeld() public {
        // 10 units at 3.10 USDC: 2.10 each escrowed as backing, the 10 USDC premium held, no fee yet.
        vm.expectEmit(address(escrow));
        emit IEscrow.BackingDeposited(id, 10, 10 * BACKING);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumDeposited(id, 10 * USDC);
        uint256 fee = _buyPrimary(renter, id, 10, BACKING + USDC);
        assertEq(fee, 0);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 10 * BACKING);
        assertEq(f.premium, 10 * USDC);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
        assertEq(usdc.balanceOf(address(escrow)), 100 * USDC + 10 * (BACKING + USDC));
    }

    function test_deposit_viaPrimaryFillBelowProviderTopsUp() public {
        // 10 units at 1.10 USDC: the provider pays in the missing 1.00 USDC a unit.
        uint256 providerBefore = usdc.balanceOf(provider);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 fee = _buyPrimary(renter, id, 10, BACKING - USDC);
        assertEq(fee, 0);
        assertEq(escrow.funds(id).backing, 10 * BACKING);
        assertEq(usdc.balanceOf(provider), providerBefore - 10 * USDC);
        assertEq(usdc.balanceOf(renter), renterBefore - 10 * (BACKING - USDC));
        assertEq(usdc.balanceOf(address(escrow)), 100 * USDC + 10 * BACKING);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_deposit_revertsNotExchange() public {
        address[] memory intruders = _intruders(address(exchange));
        for (uint256 i; i < intruders.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlyExchange.selector, intruders[i]));
            vm.prank(intruders[i]);
            escrow.deposit(id, 1, BACKING, 0);
        }
    }

    function test_deposit_revertsBackingTooLarge() public {
        uint256 amount = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IEscrow.AmountTooLarge.selector, amount));
        vm.prank(address(exchange));
        escrow.deposit(id, 1, amount, 0);
    }

    // ================================================================ settler: settle

    function test_settle_paysDeliveredRefundsTheRest() public {
        _sell(10);
        uint256 released = 7 * uint256(BACKING); // 14.70 USDC
        uint256 fee = 147_000; // 1 %
        vm.expectEmit(address(escrow));
        emit IEscrow.Released(id, provider, 7, released, fee);
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 3, 3 * BACKING);
        vm.prank(settler);
        escrow.settle(id, renter, 10, 7);
        assertEq(escrow.claimable(provider), released - fee);
        assertEq(escrow.claimable(treasury), fee);
        assertEq(escrow.claimable(renter), 3 * BACKING);
        assertEq(escrow.funds(id).backing, 0);
        assertEq(escrow.funds(id).bond, 100 * USDC);
    }

    function test_settle_feeRoundsUpAgainstProvider() public {
        (, uint256 small) = _capacityBacked(provider, 24, 101, 0);
        _buyPrimary(renter, small, 3, 101);
        vm.prank(settler);
        escrow.settle(small, renter, 3, 3);
        // 303 released, 1 % = 3.03 rounded up to 4.
        assertEq(escrow.claimable(provider), 299);
        assertEq(escrow.claimable(treasury), 4);
        assertEq(escrow.claimable(renter), 0);
    }

    function test_settle_nothingDeliveredRefundsAll() public {
        _sell(5);
        vm.recordLogs();
        vm.prank(settler);
        escrow.settle(id, renter, 5, 0);
        assertEq(vm.getRecordedLogs().length, 2, "Refunded and Credited only");
        assertEq(escrow.claimable(renter), 5 * BACKING);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_settle_partOfTheBackingLeavesTheRest() public {
        _sell(10);
        vm.prank(settler);
        escrow.settle(id, renter, 4, 4);
        assertEq(escrow.funds(id).backing, 6 * BACKING);
        vm.prank(settler);
        escrow.settle(id, renter, 6, 0);
        assertEq(escrow.funds(id).backing, 0);
        assertEq(escrow.claimable(renter), 6 * BACKING);
    }

    function test_settle_splitsRevenue() public {
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 7_000, payeeB, 3_000));
        (, uint256 small) = _capacityBacked(provider, 24, 1_011, 0);
        _buyPrimary(renter, small, 1, 1_011);
        vm.prank(settler);
        escrow.settle(small, renter, 1, 1);
        // 1,011 less an 11 fee (10.11 rounded up) = 1,000: payeeB 300, payeeA the rest.
        assertEq(escrow.claimable(treasury), 11);
        assertEq(escrow.claimable(payeeB), 300);
        assertEq(escrow.claimable(payeeA), 700);
        assertEq(escrow.claimable(provider), 0);
    }

    function test_settle_revertsInsufficientFunds() public {
        _sell(10);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InsufficientFunds.selector, id, 11 * BACKING, 10 * BACKING));
        vm.prank(settler);
        escrow.settle(id, renter, 11, 0);
    }

    function test_settle_revertsInsufficientFundsNothingSold() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InsufficientFunds.selector, id, BACKING, 0));
        vm.prank(settler);
        escrow.settle(id, renter, 1, 1);
    }

    function test_settle_cannotTakeAnotherCapacitysBacking() public {
        (, uint256 other) = _capacity(provider, 24, 0);
        _buyPrimary(renter, other, 10, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InsufficientFunds.selector, id, BACKING, 0));
        vm.prank(settler);
        escrow.settle(id, renter, 1, 0);
    }

    function test_settle_revertsDeliveredAboveUnits() public {
        _sell(10);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.DeliveredAboveUnits.selector, 2, 3));
        vm.prank(settler);
        escrow.settle(id, renter, 2, 3);
    }

    function test_settle_revertsNotSettler() public {
        _sell(10);
        address[] memory intruders = _intruders(settler);
        for (uint256 i; i < intruders.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, intruders[i]));
            vm.prank(intruders[i]);
            escrow.settle(id, intruders[i], 10, 10);
        }
        assertEq(escrow.funds(id).backing, 10 * BACKING);
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
        address[] memory intruders = _intruders(settler);
        for (uint256 i; i < intruders.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, intruders[i]));
            vm.prank(intruders[i]);
            escrow.slashBond(id, intruders[i], 1);
        }
    }

    function test_settleWindow_returnsWhatIsLeftOfTheBond() public {
        vm.startPrank(settler);
        escrow.slashBond(id, renter, 30 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, 70 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, 0);
        escrow.settleWindow(id, provider, 24, 24);
        vm.stopPrank();
        assertEq(escrow.funds(id).bond, 0);
        assertEq(escrow.claimable(provider), 70 * USDC);
        assertEq(escrow.claimable(treasury), 0);
    }

    /// @dev Sells 10 units at backing + 1.20 USDC: a 12 USDC premium held.
    function _sellAbove() internal returns (uint256 premium) {
        premium = 12 * USDC;
        assertEq(_buyPrimary(renter, id, 10, BACKING + 1_200_000), 0);
        assertEq(escrow.funds(id).premium, premium);
    }

    function test_settleWindow_allDeliveredPaysWholePremiumLessFee() public {
        _sellAbove();
        // 12 USDC paid, 1 % fee = 0.12 USDC, nothing forfeited; the 100 USDC bond back.
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, 100 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 12 * USDC, 120_000, 0);
        vm.prank(settler);
        escrow.settleWindow(id, provider, 24, 24);
        assertEq(escrow.claimable(provider), 100 * USDC + 12 * USDC - 120_000);
        assertEq(escrow.claimable(treasury), 120_000);
        Funds memory f = escrow.funds(id);
        assertEq(f.premium, 0);
        assertEq(f.bond, 0);
        assertEq(f.backing, 10 * BACKING, "the backing is settled per unit, not here");
    }

    function test_settleWindow_undeliveredShareForfeitedToTreasury() public {
        _sellAbove();
        // 18 of 24 hours delivered: 12 × 18/24 = 9 USDC paid (fee 0.09), 3 USDC forfeited.
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 9 * USDC, 90_000, 3 * USDC);
        vm.prank(settler);
        escrow.settleWindow(id, provider, 18, 24);
        assertEq(escrow.claimable(provider), 100 * USDC + 9 * USDC - 90_000);
        assertEq(escrow.claimable(treasury), 90_000 + 3 * USDC);
        assertEq(escrow.funds(id).premium, 0);
    }

    function test_settleWindow_nothingDeliveredForfeitsAll() public {
        _sellAbove();
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, 12 * USDC);
        vm.prank(settler);
        escrow.settleWindow(id, provider, 0, 24);
        assertEq(escrow.claimable(provider), 100 * USDC, "the bond only");
        assertEq(escrow.claimable(treasury), 12 * USDC);
    }

    function test_settleWindow_paidRoundsDownFeeRoundsUp() public {
        // A premium of 1,001 base units, 7 of 24 hours delivered: paid = 7,007 / 24 = 291 (291.96
        // rounded down, against the provider), fee = 2.91 rounded up to 3, forfeited 710.
        vm.prank(address(exchange));
        escrow.deposit(id, 0, 0, 1_001);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 291, 3, 710);
        vm.prank(settler);
        escrow.settleWindow(id, provider, 7, 24);
        assertEq(escrow.claimable(provider), 100 * USDC + 288);
        assertEq(escrow.claimable(treasury), 3 + 710);
    }

    function test_settleWindow_feeRoundsUpOnSmallPremium() public {
        // 3 units at backing + 1: a premium of 3, all delivered; a fee of 0.03 rounded up to 1.
        assertEq(_buyPrimary(renter, id, 3, BACKING + 1), 0);
        vm.prank(settler);
        escrow.settleWindow(id, provider, 24, 24);
        assertEq(escrow.claimable(provider), 100 * USDC + 2);
        assertEq(escrow.claimable(treasury), 1);
    }

    function test_settleWindow_premiumSplitAmongPayees() public {
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 7_000, payeeB, 3_000));
        vm.prank(address(exchange));
        escrow.deposit(id, 0, 0, 1_012);
        vm.prank(settler);
        escrow.settleWindow(id, provider, 24, 24);
        // 1,012 less an 11 fee (10.12 rounded up) = 1,001: payeeB 300 (rounded down), payeeA the rest;
        // the bond goes back to the provider itself, not through the split.
        assertEq(escrow.claimable(payeeB), 300);
        assertEq(escrow.claimable(payeeA), 701);
        assertEq(escrow.claimable(treasury), 11);
        assertEq(escrow.claimable(provider), 100 * USDC);
    }

    function test_settleWindow_onceOnly() public {
        _sellAbove();
        vm.startPrank(settler);
        escrow.settleWindow(id, provider, 24, 24);
        escrow.settleWindow(id, provider, 24, 24);
        vm.stopPrank();
        assertEq(escrow.claimable(provider), 100 * USDC + 12 * USDC - 120_000, "a second call pays nothing");
        assertEq(escrow.claimable(treasury), 120_000);
    }

    function test_settleWindow_revertsNotSettler() public {
        _sellAbove();
        address[] memory intruders = _intruders(settler);
        for (uint256 i; i < intruders.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, intruders[i]));
            vm.prank(intruders[i]);
            escrow.settleWindow(id, intruders[i], 24, 24);
        }
        assertEq(escrow.funds(id).bond, 100 * USDC);
        assertEq(escrow.funds(id).premium, 12 * USDC);
    }

    function test_openRefunds_forfeitsPremiumToTreasury() public {
        _sellAbove();
        // Cancelled: no slash in Base, so the whole bond goes back; the whole premium to the treasury.
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, 100 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, 12 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.Credited(provider, 100 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.Credited(treasury, 12 * USDC);
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        assertEq(escrow.funds(id).premium, 0);
        assertEq(escrow.claimable(provider), 100 * USDC);
        assertEq(escrow.claimable(treasury), 12 * USDC);
        // The holder is refunded its backing only: the premium it paid is not its to take back.
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 10);
        assertEq(escrow.claimable(renter), 10 * BACKING);
        assertEq(usdc.balanceOf(address(escrow)), 100 * USDC + 12 * USDC + 10 * BACKING);
    }

    function test_openRefunds_forfeitsPremiumWithPenalty() public {
        vm.prank(address(exchange));
        escrow.deposit(id, 10, 10 * BACKING, 7_777);
        vm.prank(address(gpuHours));
        escrow.openRefunds(id, 10, provider, 3 * USDC);
        assertEq(escrow.funds(id).premium, 0);
        assertEq(escrow.funds(id).bond, 30 * USDC);
        assertEq(escrow.claimable(provider), 70 * USDC);
        assertEq(escrow.claimable(treasury), 7_777);
    }

    // ================================================================ withdraw

    function test_withdraw_sendsEverythingCredited() public {
        vm.prank(settler);
        escrow.settleWindow(id, provider, 24, 24);
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

    function test_withdraw_afterSettleIsSolvent() public {
        uint256 backing = _sell(10);
        vm.startPrank(settler);
        escrow.settle(id, renter, 10, 6);
        escrow.settleWindow(id, provider, 24, 24);
        vm.stopPrank();
        address[3] memory who = [provider, treasury, renter];
        uint256 paid;
        for (uint256 i; i < who.length; ++i) {
            vm.prank(who[i]);
            paid += escrow.withdraw(who[i]);
        }
        assertEq(paid, backing + 100 * USDC);
        assertEq(usdc.balanceOf(address(escrow)), 0);
    }

    function test_withdraw_revertsNothingToWithdraw() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.NothingToWithdraw.selector, renter));
        vm.prank(renter);
        escrow.withdraw(renter);
    }

    function test_withdraw_revertsTwice() public {
        vm.prank(settler);
        escrow.settleWindow(id, provider, 24, 24);
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
        escrow.deposit(id, 0, 0, 500);
        vm.prank(settler);
        escrow.settleWindow(id, provider, 24, 24);
        assertEq(escrow.claimable(provider), 100 * USDC + 495);
        assertEq(escrow.claimable(payeeA), 0);
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
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InvalidSplit.selector, 9, 0));
        vm.prank(provider);
        escrow.setRevenueSplit(p);
    }

    function test_setRevenueSplit_revertsZeroAccount() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InvalidSplit.selector, 2, 5_000));
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 5_000, address(0), 5_000));
    }

    function test_setRevenueSplit_revertsZeroShare() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InvalidSplit.selector, 2, 10_000));
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 10_000, payeeB, 0));
    }

    function test_setRevenueSplit_revertsSharesBelowWhole() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InvalidSplit.selector, 2, 9_999));
        vm.prank(provider);
        escrow.setRevenueSplit(_split2(payeeA, 5_000, payeeB, 4_999));
    }

    function test_setRevenueSplit_revertsSharesAboveWhole() public {
        vm.expectRevert(abi.encodeWithSelector(IEscrow.InvalidSplit.selector, 2, 10_001));
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
