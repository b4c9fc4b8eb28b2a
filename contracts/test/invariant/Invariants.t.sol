// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {console2} from "forge-std/console2.sol";

import {Base} from "../utils/Base.sol";
import {Handler} from "./Handler.sol";
import {OrderStatus} from "../../src/interfaces/IExchange.sol";
import {Capacity, CapacityStatus, Booking, CloseReason} from "../../src/interfaces/IGpuHours.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";

/// @notice Protocol-wide invariants over GpuHours, Exchange, Escrow and the real Settlement (fed by
///         the AttestationOracle), driven by {Handler}.
contract InvariantsTest is Base {
    uint256 internal constant MIN_BOND_PER_UNIT = 10_000; // 0.01 USDC per GPU-hour of supply

    Handler internal handler;

    /// @dev Slashes 0.05 USDC a GPU-hour beyond one hour of grace, so bonds and slashes matter.
    function _defaultSla() internal pure override returns (Sla memory) {
        return Sla({minUptimeBps: 9_000, minGflopsPerJoule: 0, graceHours: 1, slashPerGpuHour: 50_000});
    }

    function setUp() public override {
        super.setUp();
        vm.prank(owner);
        gpuHours.setMinBondPerUnit(MIN_BOND_PER_UNIT);

        handler = new Handler(usdc, gpuHours, escrow, exchange, treasury, oracle, settlement, owner, oracleKeys);
        handler.seedMarket();

        bytes4[] memory selectors = new bytes4[](29);
        selectors[0] = Handler.registerNode.selector;
        selectors[1] = Handler.transferNode.selector;
        selectors[2] = Handler.createCapacity.selector;
        selectors[3] = Handler.postPrimary.selector;
        selectors[4] = Handler.postSell.selector;
        selectors[5] = Handler.postBid.selector;
        selectors[6] = Handler.fillPrimary.selector;
        selectors[7] = Handler.fillSell.selector;
        selectors[8] = Handler.fillBidByHolder.selector;
        selectors[9] = Handler.fillBidByProvider.selector;
        selectors[10] = Handler.fillBatch.selector;
        selectors[11] = Handler.fillDead.selector;
        selectors[12] = Handler.cancelOrder.selector;
        selectors[13] = Handler.incrementCounter.selector;
        selectors[14] = Handler.transferHours.selector;
        selectors[15] = Handler.activate.selector;
        selectors[16] = Handler.cancelCapacity.selector;
        selectors[17] = Handler.redeemCancelled.selector;
        selectors[18] = Handler.refundBooking.selector;
        selectors[19] = Handler.warp.selector;
        selectors[20] = Handler.settleUnused.selector;
        selectors[21] = Handler.settleCapacity.selector;
        selectors[22] = Handler.settleBooking.selector;
        selectors[23] = Handler.attest.selector;
        selectors[24] = Handler.forbiddenSettle.selector;
        selectors[25] = Handler.setSla.selector;
        selectors[26] = Handler.settleTwice.selector;
        selectors[27] = Handler.withdraw.selector;
        selectors[28] = Handler.setSplit.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    // ================================================================== invariants

    /// @notice The escrow holds at least what it owes: Σ (backing + bond + premium held) over
    ///         capacities plus everything credited to an account.
    function invariant_solvency() public view {
        (uint256 pots, uint256 credits) = _escrowLiabilities();
        assertGe(usdc.balanceOf(address(escrow)), pots + credits, "escrow insolvent: balance < pots + claimable");
    }

    /// @notice Every capacity's backing is exactly its fixed backing per unit times the units minted
    ///         and not yet paid out (settled, expired, redeemed or refunded), by the handler's ghosts;
    ///         the settlement's settled-unit count agrees with the ghost.
    function invariant_backingPerUnit() public view {
        uint256[] memory ids = handler.allCapIds();
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            uint256 out = handler.ghostMinted(id) - handler.ghostPaidOut(id);
            assertEq(
                escrow.funds(id).backing, uint256(gpuHours.terms(id).backing) * out, "backing != per unit x units out"
            );
            assertEq(settlement.settledUnits(id), handler.ghostSettled(id), "settledUnits != ghost");
            if (gpuHours.capacity(id).status == CapacityStatus.Closed) {
                assertEq(out, 0, "closed capacity with units out");
                assertEq(escrow.funds(id).bond, 0, "closed capacity still holds a bond");
            }
        }
    }

    /// @notice What the escrow holds for each capacity is what it owes for it, by the handler's
    ///         ghosts: the units' backing (per unit × units out), the bond left (posted, less slashes,
    ///         less what a cancel returned and the refunds paid out), and the premium of its sales above
    ///         the backing, held until the window settles. A closed or cancelled window holds no premium.
    function invariant_fundsPerCapacity() public view {
        uint256[] memory ids = handler.allCapIds();
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            Funds memory f = escrow.funds(id);
            uint256 out = handler.ghostMinted(id) - handler.ghostPaidOut(id);
            assertEq(f.premium, handler.ghostPremium(id), "premium held != premiums sold above the backing");
            assertEq(f.bond, handler.ghostBond(id), "bond != posted less slashes and returns");
            assertEq(
                uint256(f.backing) + f.bond + f.premium,
                uint256(gpuHours.terms(id).backing) * out + handler.ghostBond(id) + handler.ghostPremium(id),
                "funds != what the escrow owes for the capacity"
            );
            if (gpuHours.capacity(id).status != CapacityStatus.Active) {
                assertEq(f.premium, 0, "a settled or cancelled window still holds a premium");
            }
        }
    }

    /// @notice Settlement and refunds paid exactly what the model says (delivered units' backing to
    ///         the provider less the fee, the rest to the holder, slashes by the window's grace;
    ///         cancelled units their backing plus the kept penalty), never a failed or cancelled unit
    ///         below its backing; only the wired settlement moved funds; nothing settled twice; no
    ///         mint left more units out than the window can still deliver.
    function invariant_settlementPayouts() public view {
        assertEq(handler.payoutMismatches(), 0, "a settlement or refund paid off the model");
        assertEq(handler.refundsBelowBacking(), 0, "a failed or cancelled unit refunded below its backing");
        assertEq(handler.forbiddenSuccesses(), 0, "someone other than the settlement moved escrowed funds");
        assertEq(handler.doubleSettles(), 0, "a booking was settled twice");
        assertEq(handler.unexpectedSettleFailures(), 0, "a due settlement reverted");
        assertEq(handler.unusableMints(), 0, "a mint left more units out than usable hours");
    }

    /// @notice With no donations in this market, the escrow's books are exact: every base unit it
    ///         holds is in a pot or credited to someone (rounding leaves nothing stranded or missing).
    function invariant_escrowAccountingExact() public view {
        (uint256 pots, uint256 credits) = _escrowLiabilities();
        assertEq(usdc.balanceOf(address(escrow)), pots + credits, "escrow balance != pots + claimable");
    }

    /// @notice Stablecoin is conserved: it only moves between the accounts the market knows, and the
    ///         exchange never keeps any.
    function invariant_stablecoinConserved() public view {
        uint256 total = usdc.balanceOf(address(escrow)) + usdc.balanceOf(address(exchange))
            + usdc.balanceOf(address(gpuHours)) + usdc.balanceOf(address(handler)) + usdc.balanceOf(provider)
            + usdc.balanceOf(renter) + usdc.balanceOf(buyer) + usdc.balanceOf(address(settlement))
            + usdc.balanceOf(address(oracle));
        address[] memory accounts = handler.allAccounts();
        for (uint256 i; i < accounts.length; ++i) {
            total += usdc.balanceOf(accounts[i]);
        }
        assertEq(total, usdc.totalSupply(), "stablecoin left the known accounts");
        assertEq(usdc.balanceOf(address(exchange)), 0, "exchange holds stablecoin");
    }

    /// @notice Per id: totalSupply == minted − burned (ghosts) == Σ balances of all holders; minted
    ///         never exceeds the supply cap, and the contract's own minted counter agrees.
    function invariant_supplyPerId() public view {
        uint256[] memory ids = handler.allCapIds();
        address[] memory holders = handler.allActors();
        uint256[] memory idList = new uint256[](holders.length);
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            for (uint256 k; k < holders.length; ++k) {
                idList[k] = id;
            }
            uint256[] memory balances = gpuHours.balanceOfBatch(holders, idList);
            uint256 sum;
            for (uint256 k; k < balances.length; ++k) {
                sum += balances[k];
            }
            uint256 minted = handler.ghostMinted(id);
            uint256 supply = gpuHours.totalSupply(id);
            assertEq(supply, minted - handler.ghostBurned(id), "totalSupply != minted - burned");
            assertEq(supply, sum, "totalSupply != sum of balances");
            assertEq(gpuHours.capacity(id).minted, minted, "capacity.minted != ghost minted");
            assertLe(minted, gpuHours.supplyCap(id), "minted above supply cap");
        }
        assertEq(handler.capOverruns(), 0, "a fill minted past the supply cap");
    }

    /// @notice No hour of any window holds more GPUs than the node has: for every capacity and every
    ///         hour of its window, bookedAt(id, hour) <= gpuCount. Each hour also equals the sum of
    ///         the bookings that cover it (the ghost hour book), in the public view and in the packed
    ///         HourBook words alike, and every activation was accepted exactly when it fit.
    function invariant_noOverbooking() public view {
        uint256[] memory ids = handler.allCapIds();
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            Capacity memory c = gpuHours.capacity(id);
            uint256 nodeGpus = gpuHours.node(c.nodeId).gpuCount;
            uint256[] memory ghost = handler.ghostHours(id);
            uint256[] memory stored = handler.storedHours(id);
            // plain comparisons in the loop (an assert per hour would be a cheatcode call per hour)
            for (uint256 k; k < ghost.length; ++k) {
                uint256 booked = gpuHours.bookedAt(id, c.start + k * 1 hours);
                if (booked > nodeGpus) assertLe(booked, nodeGpus, "hour overbooked");
                if (booked != ghost[k]) assertEq(booked, ghost[k], "bookedAt != ghost hour book");
                if (stored[k] != ghost[k]) assertEq(stored[k], ghost[k], "booked hour != ghost hour book");
            }
            assertEq(gpuHours.bookedAt(id, c.end), 0, "bookedAt past the window");
        }
        assertEq(handler.bookingMispredictions(), 0, "activation accepted an overbooking or rejected a fit");
        assertEq(handler.bookedAtMismatches(), 0, "bookedAt disagreed with the hour book");
    }

    /// @notice bookedUnits(id) equals Σ gpus × hours over the bookings recorded for it, and each
    ///         recorded booking is stored as it was made; a booking is refunded at most once.
    function invariant_bookedUnits() public view {
        uint256[] memory ids = handler.allCapIds();
        Handler.BookingRec[] memory bookings = handler.allBookings();
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            uint256 sum;
            for (uint256 j; j < bookings.length; ++j) {
                if (bookings[j].capacityId == id) sum += uint256(bookings[j].gpus) * bookings[j].hours_;
            }
            assertEq(gpuHours.bookedUnits(id), sum, "bookedUnits != sum of recorded bookings");
            assertEq(handler.ghostBookedUnits(id), sum, "ghost bookedUnits drift");
        }
        for (uint256 j; j < bookings.length; ++j) {
            Handler.BookingRec memory b = bookings[j];
            Booking memory s = gpuHours.booking(b.bookingId);
            assertEq(s.holder, b.holder, "booking holder");
            assertEq(s.start, b.start, "booking start");
            assertEq(s.hours_, b.hours_, "booking hours");
            assertEq(s.gpus, b.gpus, "booking gpus");
            assertEq(b.bookingId >> 24, b.capacityId, "booking id does not encode its capacity");
            assertEq(uint8(s.closeReason), uint8(b.closeReason), "booking close reason != ghost");
        }
        assertEq(handler.doubleRefunds(), 0, "a booking was refunded twice");
    }

    /// @notice Every signed order: filled on chain == ghost fills <= amount; cancel flags and
    ///         counters agree with the ghosts; no fill ever lands on a cancelled, stale or expired order.
    function invariant_orderFills() public view {
        Handler.OrderView[] memory orders = handler.allOrders();
        for (uint256 i; i < orders.length; ++i) {
            OrderStatus memory s = exchange.status(orders[i].hash);
            if (s.filled != orders[i].filled) assertEq(s.filled, orders[i].filled, "filled != ghost fills");
            if (s.filled > orders[i].amount) assertLe(s.filled, orders[i].amount, "order overfilled");
            if (s.cancelled != orders[i].cancelled) assertEq(s.cancelled, orders[i].cancelled, "cancel flag != ghost");
        }
        address[] memory makers = handler.allActors();
        for (uint256 k; k < makers.length; ++k) {
            assertEq(exchange.counter(makers[k]), handler.ghostCounter(makers[k]), "counter != ghost");
        }
        assertEq(handler.deadFillSuccesses(), 0, "a cancelled, stale or expired order was filled");
        assertEq(handler.batchOverfills(), 0, "a batch overfilling an order went through");
    }

    /// @notice A cancelled capacity's funds answer exactly for the units still out (tokens held plus
    ///         open bookings): each its backing and the penalty kept for it from the bond; once the
    ///         last unit is refunded nothing is left.
    function invariant_cancelledRefundsCovered() public view {
        uint256[] memory ids = handler.allCapIds();
        Handler.BookingRec[] memory bookings = handler.allBookings();
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            if (gpuHours.capacity(id).status != CapacityStatus.Cancelled) continue;
            uint256 open = gpuHours.totalSupply(id);
            for (uint256 j; j < bookings.length; ++j) {
                if (bookings[j].capacityId == id && !bookings[j].refunded) {
                    open += uint256(bookings[j].gpus) * bookings[j].hours_;
                }
            }
            Funds memory f = escrow.funds(id);
            assertEq(f.backing, uint256(gpuHours.terms(id).backing) * open, "backing != units still out");
            assertEq(f.bond, uint256(f.penaltyPerUnit) * open, "bond != penalty of the units still out");
            assertLe(f.penaltyPerUnit, gpuHours.terms(id).slashPerGpuHour, "penalty above the recorded slash");
        }
    }

    /// @dev Σ over capacities of (backing + bond + premium), and Σ claimable over every account the
    ///      escrow could credit (actors, payees, treasury).
    function _escrowLiabilities() internal view returns (uint256 pots, uint256 credits) {
        uint256 n = gpuHours.capacityCount();
        for (uint256 id = 1; id <= n; ++id) {
            Funds memory f = escrow.funds(id);
            pots += uint256(f.backing) + f.bond + f.premium;
        }
        address[] memory accounts = handler.allAccounts();
        for (uint256 i; i < accounts.length; ++i) {
            credits += escrow.claimable(accounts[i]);
        }
        credits += escrow.claimable(address(settlement)) + escrow.claimable(provider) + escrow.claimable(renter)
        + escrow.claimable(buyer);
    }

    function afterInvariant() public view {
        handler.callSummary();
    }

    // ================================================================== a fixed walk

    /// @notice A campaign in miniature, deterministic: 64 walks of 64 pseudo-random handler calls,
    ///         each from the seeded market, every invariant checked at the end of each walk. Logs
    ///         the campaign's call summary and fails if any action never did its work, so the
    ///         invariants above are known not to hold vacuously.
    function test_handlerCampaignLandsEveryAction() public {
        uint256 n = 29;
        uint256[] memory calls = new uint256[](n);
        uint256[] memory oks = new uint256[](n);
        uint256[] memory refused = new uint256[](n);
        uint256 overbooked;
        uint256 deadAttempts;
        uint256 paid;
        uint256 slashed;
        for (uint256 walk; walk < 64; ++walk) {
            uint256 snap = vm.snapshotState();
            uint256 seed = uint256(keccak256(abi.encode("walk", walk)));
            for (uint256 step; step < 64; ++step) {
                seed = uint256(keccak256(abi.encode(seed, step)));
                _step(seed);
            }
            _checkAll();
            for (uint256 a; a < n; ++a) {
                calls[a] += handler.calls(a);
                oks[a] += handler.oks(a);
                refused[a] += handler.reverts(a);
            }
            overbooked += handler.overbookRejections();
            deadAttempts += handler.deadFillAttempts();
            paid += handler.paidSettles();
            slashed += handler.slashingSettles();
            vm.revertToState(snap);
        }
        console2.log("campaign of 64 x 64 calls  calls / ok / refused");
        for (uint256 a; a < n; ++a) {
            console2.log(handler.summaryLine(handler.actionName(a), calls[a], oks[a], refused[a]));
        }
        console2.log("overbook rejections", overbooked);
        console2.log("dead-order fill attempts (all refused)", deadAttempts);
        for (uint256 a; a < n; ++a) {
            assertGt(oks[a], 0, string.concat("action never landed: ", handler.actionName(a)));
        }
        assertGt(overbooked, 0, "no activation ever hit a full hour");
        console2.log("booking settlements paying the provider / slashing", paid, slashed);
        assertGt(paid, 0, "no settlement ever paid for delivered units");
        assertGt(slashed, 0, "no settlement ever slashed");
    }

    function _checkAll() internal view {
        invariant_solvency();
        invariant_escrowAccountingExact();
        invariant_stablecoinConserved();
        invariant_supplyPerId();
        invariant_noOverbooking();
        invariant_bookedUnits();
        invariant_orderFills();
        invariant_cancelledRefundsCovered();
        invariant_backingPerUnit();
        invariant_fundsPerCapacity();
        invariant_settlementPayouts();
    }

    function _step(uint256 seed) internal {
        uint256 a = seed % 29;
        uint256 s1 = uint256(keccak256(abi.encode(seed, 1)));
        uint256 s2 = uint256(keccak256(abi.encode(seed, 2)));
        uint256 s3 = uint256(keccak256(abi.encode(seed, 3)));
        uint256 s4 = uint256(keccak256(abi.encode(seed, 4)));
        uint256 s5 = uint256(keccak256(abi.encode(seed, 5)));
        if (a == 0) handler.registerNode(s1, s2);
        else if (a == 1) handler.transferNode(s1);
        else if (a == 2) handler.createCapacity(s1, s2, s3, s4);
        else if (a == 3) handler.postPrimary(s1, s2, s3, s4);
        else if (a == 4) handler.postSell(s1, s2, s3, s4, s5);
        else if (a == 5) handler.postBid(s1, s2, s3, s4, s5);
        else if (a == 6) handler.fillPrimary(s1, s2, s3);
        else if (a == 7) handler.fillSell(s1, s2, s3);
        else if (a == 8) handler.fillBidByHolder(s1, s2, s3);
        else if (a == 9) handler.fillBidByProvider(s1, s2);
        else if (a == 10) handler.fillBatch(s1, s2, s3, s4);
        else if (a == 11) handler.fillDead(s1, s2, s3);
        else if (a == 12) handler.cancelOrder(s1);
        else if (a == 13) handler.incrementCounter(s1);
        else if (a == 14) handler.transferHours(s1, s2, s3, s4);
        else if (a == 15) handler.activate(s1, s2, s3, s4, s5);
        else if (a == 16) handler.cancelCapacity(s1);
        else if (a == 17) handler.redeemCancelled(s1, s2, s3);
        else if (a == 18) handler.refundBooking(s1, s2);
        else if (a == 19) handler.warp(s1);
        else if (a == 20) handler.settleUnused(s1, s2);
        else if (a == 21) handler.settleCapacity(s1);
        else if (a == 22) handler.settleBooking(s1);
        else if (a == 23) handler.attest(s1, s2);
        else if (a == 24) handler.forbiddenSettle(s1, s2, s3);
        else if (a == 25) handler.setSla(s1);
        else if (a == 26) handler.settleTwice(s1);
        else if (a == 27) handler.withdraw(s1, s2);
        else handler.setSplit(s1, s2);
    }
}
