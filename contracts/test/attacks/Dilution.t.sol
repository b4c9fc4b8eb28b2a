// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SettlementFixtures} from "../utils/SettlementFixtures.sol";
import {Order, OrderKind} from "../../src/interfaces/IExchange.sol";
import {IGpuHours} from "../../src/interfaces/IGpuHours.sol";
import {IEscrow, Funds} from "../../src/interfaces/IEscrow.sol";

/// @notice Attacks on what a unit is backed by, each written as the attacker would try it, each now
///         failing to profit. Under the old model a primary sale escrowed whatever it sold for and
///         refunds were paid pro rata out of one pot per capacity, so a provider could mint the rest
///         of its supply to itself at price 0 and take most of an honest buyer's money back on a
///         cancel or a failure. Now every unit of an id is backed by the same fixed amount: a sale
///         below it is topped up by the provider, and every refund is per unit. A sale above it
///         pays a premium that escrow holds until the window settles: the provider earns it only
///         for the hours it delivers, and a cancelled or undelivered window's premium goes to the
///         treasury, so selling high and then cancelling or failing gains the provider nothing.
///         SLA (SettlementFixtures): slash 1 USDC per GPU-hour, 1 grace hour a window, 90 % uptime.
contract DilutionAttackTest is SettlementFixtures {
    uint256 internal constant HOURS = 24;
    uint256 internal constant CAP = 8 * HOURS; // 192 units
    uint256 internal constant BOND = 250 * 1e6; // above the minimum, CAP × 1 USDC = 192 USDC
    uint256 internal constant SLASH = 1e6; // per GPU-hour
    uint256 internal constant MARKET = 2_500_000; // the honest sale: 0.40 above the 2.10 backing
    uint256 internal constant SOLD = 10; // units the honest renter buys
    uint256 internal constant REST = CAP - SOLD; // 182 units the provider mints to itself

    address internal sybil;

    function setUp() public override {
        super.setUp();
        sybil = makeAddr("sybil"); // a second address the provider controls
        _fund(sybil);
    }

    // ================================================================ helpers

    /// @dev Stablecoin in the wallet plus what escrow holds credited to `who`.
    function _wealth(address who) internal view returns (uint256) {
        return usdc.balanceOf(who) + escrow.claimable(who);
    }

    function _attackerWealth() internal view returns (uint256) {
        return _wealth(provider) + _wealth(sybil);
    }

    function _withdrawAll(address who) internal {
        if (escrow.claimable(who) == 0) return;
        vm.prank(who);
        escrow.withdraw(who);
    }

    /// @dev The provider's own primary sell of `amount` at `price`, filled by the sybil.
    function _mintToSybil(uint256 capacityId, uint256 amount, uint256 price) internal {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, capacityId, amount, price);
        bytes memory sig = _sign(providerKey, o);
        vm.prank(sybil);
        exchange.fill(o, sig, amount);
    }

    /// @dev The premium of the honest sale, 10 × 0.40 = 4.00 USDC: held in escrow, and forfeited to
    ///      the treasury on a cancel or for the hours not delivered.
    function _premium() internal pure returns (uint256) {
        return SOLD * (MARKET - BACKING);
    }

    // ================================================================ (a), (b) dilute, then cancel

    /// @dev The provider sells 10 hours at the market price to the renter, mints the other 182 to its
    ///      sybil at `sybilPrice`, and cancels before the window, hoping the sybil's 182 units soak up
    ///      the refunds.
    function _diluteAndCancel(uint256 sybilPrice) internal {
        uint256 attackerStart = _attackerWealth();
        uint256 renterStart = usdc.balanceOf(renter);
        uint256 treasuryStart = _wealth(treasury);

        (, uint256 id) = _capacity(provider, HOURS, BOND);
        _buyPrimary(renter, id, SOLD, MARKET);
        uint256 providerBeforeTopUp = usdc.balanceOf(provider);
        _mintToSybil(id, REST, sybilPrice);
        // The sybil paid only its price: the provider paid in the rest of every unit's backing.
        assertEq(providerBeforeTopUp - usdc.balanceOf(provider), REST * (BACKING - sybilPrice), "top-up");
        assertEq(escrow.funds(id).backing, CAP * uint256(BACKING), "every unit backed alike");

        assertEq(escrow.funds(id).premium, _premium(), "the honest sale's premium held");

        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, _premium());
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        // The penalty is the full slash a unit: the bond covers it for every unit sold.
        assertEq(escrow.funds(id).penaltyPerUnit, SLASH);
        assertEq(escrow.funds(id).bond, CAP * SLASH);
        assertEq(escrow.funds(id).premium, 0);
        assertEq(_wealth(treasury) - treasuryStart, _premium(), "premium forfeited to the treasury");

        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, SOLD, SOLD * uint256(BACKING));
        vm.expectEmit(address(escrow));
        emit IEscrow.BondSlashed(id, renter, SOLD * SLASH);
        vm.prank(renter);
        gpuHours.redeemCancelled(id, SOLD);
        vm.prank(sybil);
        gpuHours.redeemCancelled(id, REST);

        // The renter: exactly the backing of each unit plus the penalty share, whatever the sybil did.
        assertEq(escrow.claimable(renter), SOLD * (uint256(BACKING) + SLASH), "renter refund");
        _withdrawAll(renter);
        _withdrawAll(provider);
        _withdrawAll(sybil);
        assertEq(usdc.balanceOf(renter), renterStart - SOLD * MARKET + SOLD * (uint256(BACKING) + SLASH));
        assertGe(usdc.balanceOf(renter) + SOLD * MARKET, renterStart + SOLD * uint256(BACKING));

        // The attacker: bond out (250) and back less the 192 kept (58), top-up out and back with the
        // sybil's refund, the sybil's 182 penalties its own bond, the premium forfeited. Net: the
        // renter's penalties, exactly what an honest cancel without the sybil costs.
        uint256 attackerEnd = _attackerWealth();
        assertLe(attackerEnd, attackerStart, "attacker must not profit");
        assertEq(attackerStart - attackerEnd, SOLD * SLASH, "attacker net");
        assertEq(attackerStart - attackerEnd, 10_000_000);

        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0);
        assertEq(f.bond, 0);
    }

    function test_attack_diluteAtPriceZeroThenCancel() public {
        _diluteAndCancel(0);
    }

    function test_attack_diluteAtOneBaseUnitThenCancel() public {
        _diluteAndCancel(1);
    }

    // ================================================================ (c) dilute, then fail to deliver

    /// @dev The same dilution at price 0, but the provider lets the window fail instead of
    ///      cancelling. The renter booked 2 GPUs × 4 h from the window's start and kept 2 units.
    function test_attack_diluteThenFailToDeliver() public {
        uint256 attackerStart = _attackerWealth();
        uint256 treasuryStart = _wealth(treasury);

        (uint64 nodeId, uint256 id) = _capacity(provider, HOURS, BOND);
        _buyPrimary(renter, id, SOLD, MARKET);
        _mintToSybil(id, REST, 0);
        uint40 start = _start(id);
        vm.prank(renter);
        uint256 bookingId = gpuHours.activate(id, start, 4, 2);

        // Every hour of the window attested below the SLA.
        _attestPattern(nodeId, start, "BBBBBBBBBBBBBBBBBBBBBBBB");
        vm.warp(_readyAt(_end(id)));

        // Booking: 4 failed hours, the window's 1 grace hour forgiven: 2 GPUs × 3 h slashed.
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 8, 8 * uint256(BACKING));
        settlement.settleBooking(bookingId);
        uint256 bookingSlash = 2 * 3 * SLASH;
        assertEq(escrow.claimable(renter), 8 * uint256(BACKING) + bookingSlash, "booking: backing + slash");

        // Unused: 23 of 24 hours slashed, per holder, rounded once at the end: renter
        // 2 × 23 × 1 USDC / 24 = 1.916666, sybil 182 × 23 × 1 USDC / 24 = 174.416666.
        settlement.settleUnused(id, _holders(renter, sybil));
        uint256 renterUnusedSlash = 1_916_666;
        uint256 sybilSlash = 174_416_666;
        assertEq(
            escrow.claimable(renter),
            SOLD * uint256(BACKING) + bookingSlash + renterUnusedSlash,
            "every honest unit: its backing and its slash"
        );
        assertEq(escrow.claimable(sybil), REST * uint256(BACKING) + sybilSlash);

        uint256 bondBack = BOND - bookingSlash - renterUnusedSlash - sybilSlash; // 67.666668 USDC
        assertEq(bondBack, 67_666_668);
        // No hour delivered: none of the premium is earned, all of it goes to the treasury.
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, bondBack);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, _premium());
        settlement.settleCapacity(id);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0);
        assertEq(f.bond, 0);
        assertEq(f.premium, 0);
        assertEq(_wealth(treasury) - treasuryStart, _premium(), "premium forfeited to the treasury");

        // The attacker: the bond less the renter's slashes; the top-up comes back to the sybil unit
        // for unit, the sybil's slashes are its own bond, and the premium is forfeited.
        uint256 attackerEnd = _attackerWealth();
        assertLe(attackerEnd, attackerStart, "attacker must not profit");
        assertEq(attackerStart - attackerEnd, bookingSlash + renterUnusedSlash, "attacker net");
        assertEq(attackerStart - attackerEnd, 7_916_666);
    }

    // ================================================================ (c') sell far above the backing

    uint96 internal constant LOW_BACKING = 1e6; // 1 USDC a unit
    uint256 internal constant HIGH_PRICE = 5e6; // sold at 5 USDC: a 4 USDC premium a unit

    /// @dev The provider opens a window backed by only 1 USDC a unit, sells 10 units to the honest
    ///      renter at 5 USDC (40 USDC above the backing) and mints the rest to its sybil at 0. Under
    ///      the premium-to-provider model it would pocket the 40 USDC at the sale and then cancel or
    ///      fail, refunding only the 1 USDC backing. Now the premium waits in escrow.
    function _sellHigh() internal returns (uint64 nodeId, uint256 id) {
        (nodeId, id) = _capacityBacked(provider, HOURS, LOW_BACKING, BOND);
        _buyPrimary(renter, id, SOLD, HIGH_PRICE);
        _mintToSybil(id, REST, 0);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, CAP * uint256(LOW_BACKING), "every unit backed by 1 USDC");
        assertEq(f.premium, 40e6, "10 x 4 USDC held");
        assertEq(escrow.claimable(provider), 0, "nothing to the provider at the sale");
    }

    function test_attack_sellAboveBackingThenCancel() public {
        uint256 attackerStart = _attackerWealth();
        uint256 renterStart = _wealth(renter);
        uint256 treasuryStart = _wealth(treasury);
        (, uint256 id) = _sellHigh();

        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, 40e6);
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        vm.prank(renter);
        gpuHours.redeemCancelled(id, SOLD);
        vm.prank(sybil);
        gpuHours.redeemCancelled(id, REST);

        // The renter: exactly backing + penalty a unit, 10 × (1 + 1) USDC, for the 50 USDC it paid.
        assertEq(escrow.claimable(renter), SOLD * (uint256(LOW_BACKING) + SLASH), "renter refund");
        assertEq(renterStart - _wealth(renter), SOLD * HIGH_PRICE - SOLD * (uint256(LOW_BACKING) + SLASH));
        // The premium went to the treasury, not back to the provider.
        assertEq(_wealth(treasury) - treasuryStart, 40e6, "premium forfeited");
        // The attacker: loses the renter's penalties (10 USDC), gains nothing of the premium.
        _withdrawAll(provider);
        _withdrawAll(sybil);
        uint256 attackerEnd = _attackerWealth();
        assertLe(attackerEnd, attackerStart, "attacker must not profit");
        assertEq(attackerStart - attackerEnd, SOLD * SLASH, "attacker net");
        Funds memory f = escrow.funds(id);
        assertEq(uint256(f.backing) + f.bond + f.premium, 0);
    }

    function test_attack_sellAboveBackingThenFailToDeliver() public {
        uint256 attackerStart = _attackerWealth();
        uint256 renterStart = _wealth(renter);
        uint256 treasuryStart = _wealth(treasury);
        (uint64 nodeId, uint256 id) = _sellHigh();
        uint40 start = _start(id);
        vm.prank(renter);
        uint256 bookingId = gpuHours.activate(id, start, 4, 2); // 8 of its 10 units

        _attestPattern(nodeId, start, "BBBBBBBBBBBBBBBBBBBBBBBB");
        vm.warp(_readyAt(_end(id)));
        settlement.settleBooking(bookingId);
        settlement.settleUnused(id, _holders(renter, sybil));
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, 40e6);
        settlement.settleCapacity(id);

        // The renter: each unit's 1 USDC backing plus its slash: booking 2 GPUs × 3 h past the grace,
        // unused 2 × 23 × 1 USDC / 24 = 1.916666.
        uint256 renterSlash = 6e6 + 1_916_666;
        assertEq(escrow.claimable(renter), SOLD * uint256(LOW_BACKING) + renterSlash, "backing + slash");
        assertEq(renterStart - _wealth(renter), SOLD * HIGH_PRICE - SOLD * uint256(LOW_BACKING) - renterSlash);
        assertEq(_wealth(treasury) - treasuryStart, 40e6, "premium forfeited, no fee: nothing released");
        uint256 attackerEnd = _attackerWealth();
        assertLe(attackerEnd, attackerStart, "attacker must not profit");
        assertEq(attackerStart - attackerEnd, renterSlash, "attacker net: the renter's slashes");
        Funds memory f = escrow.funds(id);
        assertEq(uint256(f.backing) + f.bond + f.premium, 0);
    }

    /// @dev Sold high, then half delivered: the provider earns half the premium (less the fee), the
    ///      treasury the other half; still less than the 40 USDC it would have kept at the sale.
    function test_sellAboveBackingHalfDelivered_earnsHalfThePremium() public {
        uint256 treasuryStart = _wealth(treasury);
        (uint64 nodeId, uint256 id) = _sellHigh();
        uint40 start = _start(id);
        _attestPattern(nodeId, start, "GGGGGGGGGGGGBBBBBBBBBBBB");
        vm.warp(_readyAt(_end(id)));
        settlement.settleUnused(id, _holders(renter, sybil));
        uint256 before = escrow.claimable(provider);
        // 12 of 24 hours: 20 USDC paid, a 0.20 fee, 20 USDC forfeited.
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 20e6, 200_000, 20e6);
        settlement.settleCapacity(id);
        // The renter's unused 10: 5 paid, 5 refunded; 10 × 11 × 1 USDC / 24 slashed = 4.583333.
        assertEq(escrow.claimable(renter), 5 * uint256(LOW_BACKING) + 4_583_333);
        uint256 bondBack = BOND - 4_583_333 - 83_416_666; // sybil: 182 × 11 × 1 USDC / 24
        assertEq(escrow.claimable(provider) - before, bondBack + 20e6 - 200_000);
        // Treasury: the fee on each holder's released backing (renter 5, sybil 182 × 12 / 24 = 91
        // units delivered), the premium's fee and its forfeited half.
        uint256 backingFees = _fee(5e6) + _fee(91e6);
        assertEq(_wealth(treasury) - treasuryStart, backingFees + 200_000 + 20e6);
    }

    // ================================================================ (d) no attacker: per-unit refunds

    /// @dev Backing 0.64 a unit. The renter paid 0.96 for 24 units, the buyer 0.32 for 48 (the
    ///      provider topped up the rest). On failure each gets exactly 0.64 a unit back, not the
    ///      pooled average of what was paid (3.84 USDC / 72 = 0.5333...).
    function test_noAttacker_failureRefundsEachUnitItsBacking() public {
        uint96 backing = 640_000;
        (uint64 nodeId, uint256 id) = _capacityBacked(provider, HOURS, backing, BOND);
        _buyPrimary(renter, id, 24, 960_000);
        _buyPrimary(buyer, id, 48, 320_000);
        assertEq(escrow.funds(id).backing, 72 * uint256(backing));

        uint40 start = _start(id);
        vm.prank(renter);
        uint256 bookingId = gpuHours.activate(id, start, 3, 8); // all 24 units: 8 GPUs × 3 h

        _attestPattern(nodeId, start, "BBBBBBBBBBBBBBBBBBBBBBBB");
        vm.warp(_readyAt(_end(id)));

        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 24, 24 * 640_000);
        settlement.settleBooking(bookingId);
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, buyer, 48, 48 * 640_000);
        address[] memory holders = new address[](1);
        holders[0] = buyer;
        settlement.settleUnused(id, holders);

        // Renter: 3 failed hours, 1 forgiven: 8 GPUs × 2 h slashed. Buyer: 48 × 23 / 24 = 46.
        assertEq(escrow.claimable(renter), 24 * 640_000 + 16 * SLASH);
        assertEq(escrow.claimable(buyer), 48 * 640_000 + 46 * SLASH);
        assertEq(escrow.funds(id).backing, 0);
        settlement.settleCapacity(id);
    }

    // ================================================================ (e) late bid fill

    /// @dev A bid for 200 GPU-hours left open for weeks. Late in a 48-hour window, with 3 hours left,
    ///      the provider fills it by minting, selling hours nobody could use any more.
    function test_attack_lateBidFillMintsOnlyUsableHours() public {
        (, uint256 id) = _capacity(provider, 48, 8 * 48 * SLASH);
        uint40 start = _start(id);
        // Before the window: the renter buys 24, books 8 GPUs in hour 0 and 8 GPUs in hours 46-47.
        _buyPrimary(renter, id, 24, PRICE);
        vm.startPrank(renter);
        gpuHours.activate(id, start, 1, 8);
        gpuHours.activate(id, start + 46 hours, 2, 8);
        vm.stopPrank();

        Order memory bid = _freshOrder(buyer, OrderKind.Buy, id, 200, PRICE);
        bid.expiry = _end(id) + 30 days;
        bytes memory sig = _sign(buyerKey, bid);

        vm.warp(start + 45 hours + 30 minutes); // hour 45 of 48: hours 45, 46, 47 left
        // 8 GPUs × 3 h left = 24, less the units still out: 24 minted, less the 8 booked in hour 0,
        // which is over. The 16 booked in hours 46-47 still take their place. Usable: 8.
        uint256 usable = 8 * 3 - (24 - 8);
        assertEq(usable, 8);

        vm.expectRevert(abi.encodeWithSelector(IGpuHours.HoursNotUsable.selector, id, 200, usable));
        vm.prank(provider);
        exchange.fill(bid, sig, 200);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.HoursNotUsable.selector, id, usable + 1, usable));
        vm.prank(provider);
        exchange.fill(bid, sig, usable + 1);

        // What fits is sold, and can really be used: the buyer books all 8 GPUs in the current hour.
        vm.prank(provider);
        exchange.fill(bid, sig, usable);
        assertEq(gpuHours.balanceOf(buyer, id), usable);
        vm.prank(buyer);
        gpuHours.activate(id, start + 45 hours, 1, 8);

        vm.expectRevert(abi.encodeWithSelector(IGpuHours.HoursNotUsable.selector, id, 1, 0));
        vm.prank(provider);
        exchange.fill(bid, sig, 1);

        // Once the window is over, nothing more can be minted at all.
        vm.warp(_end(id));
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.WindowEnded.selector, id, _end(id)));
        vm.prank(provider);
        exchange.fill(bid, sig, 1);
        assertEq(exchange.status(exchange.hashOrder(bid)).filled, usable);
        assertEq(gpuHours.capacity(id).minted, 24 + usable);
    }

    // ================================================================ (f) same GPUs twice

    /// @dev A second address registers the provider's GPUs again, to sell their hours twice.
    function test_attack_sameGpusRegisteredTwiceReverts() public {
        bytes32 uuids = _gpus();
        vm.prank(provider);
        uint64 nodeId = gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", uuids);
        assertEq(gpuHours.nodeOfGpus(uuids), nodeId);

        vm.expectRevert(abi.encodeWithSelector(IGpuHours.GpusAlreadyRegistered.selector, uuids, nodeId));
        vm.prank(sybil);
        gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "us-east", "NVLink", uuids);
        // Nor by the provider itself, under another description.
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.GpusAlreadyRegistered.selector, uuids, nodeId));
        vm.prank(provider);
        gpuHours.registerNode("H100-PCIe-80GB", 8, 80, "eu-west", "PCIe", uuids);
        assertEq(gpuHours.nodeCount(), nodeId);
    }
}
