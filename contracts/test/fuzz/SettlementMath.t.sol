// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SettlementFixtures} from "../utils/SettlementFixtures.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";
import {CloseReason} from "../../src/interfaces/IGpuHours.sol";

/// @notice Random windows, backings, SLAs and per-hour uptime patterns (attested good, attested
///         bad, or never attested), holders buying at random prices above and below the backing,
///         some booking part of their hours, and settlement in a random order. Every settlement
///         moves exactly its units' backing: the delivered units' to the provider less the fee,
///         the rest back to the holder, plus the slash the window's grace rule gives; the bond
///         always covers it; and in the end every stablecoin unit is accounted for.
contract SettlementMathFuzzTest is SettlementFixtures {
    uint256 internal constant MAX_HOLDERS = 4;

    struct Holder {
        address who;
        uint256 units; // bought
        uint256 bookingId; // 0: none
        uint8 gpus;
        uint16 hours_;
        uint16 from; // first hour of the booking, within the window
    }

    /// @dev One settlement to make: a booking, or a holder's unused hours.
    struct Task {
        uint256 holder;
        bool booking;
    }

    uint64 internal nodeId;
    uint256 internal id;
    uint40 internal start;
    uint40 internal end;
    uint256 internal windowHours;
    uint256 internal backing;
    uint256 internal bond;
    Sla internal sla_;
    uint8[] internal state; // per hour: 0 not attested, 1 attested failed, 2 attested delivered
    Holder[] internal holders;
    uint256 internal premiumIn; // what sales paid above the backing, held until the window settles
    uint256 internal paidIn; // stablecoin paid into the escrow by sales (buyers and provider top-ups)
    uint256 internal minted;

    uint256 internal slashSum;

    function _rand(uint256 seed, string memory tag, uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, tag, i)));
    }

    function testFuzz_settlement_paysExactBackingAndConserves(uint256 seed) public {
        _market(seed);
        _attestAll(seed);
        vm.warp(_readyAt(end));
        _settleAll(seed);
        _closeAndCheckTotals();
    }

    // ================================================================ setup

    function _market(uint256 seed) internal {
        uint256 r = _rand(seed, "market", 0);
        windowHours = 4 + r % 13; // 4-16 hours: crosses 8-epoch oracle words
        backing = 1 + (r >> 8) % (5 * USDC);
        sla_ = Sla({
            minUptimeBps: 9_000,
            minGflopsPerJoule: 0,
            graceHours: uint8((r >> 40) % 3),
            slashPerGpuHour: uint64((r >> 48) % (3 * USDC))
        });
        vm.prank(owner);
        settlement.setSla(sla_);
        // the least bond allowed (a full slash of every unit), plus something now and then
        bond = 8 * windowHours * sla_.slashPerGpuHour + ((r >> 112) % 2 == 0 ? 0 : (r >> 120) % (50 * USDC));
        (nodeId, id) = _capacityBacked(provider, windowHours, uint96(backing), bond);
        start = _start(id);
        end = _end(id);

        uint256 n = 1 + (r >> 96) % MAX_HOLDERS;
        uint256 escrowBefore = usdc.balanceOf(address(escrow));
        for (uint256 i; i < n; ++i) {
            uint256 h = _rand(seed, "holder", i);
            address who = makeAddr(string(abi.encode("holder", i)));
            _fund(who);
            uint256 units = 1 + h % (2 * windowHours); // at most 8 × window in all
            uint256 price = (h >> 16) % (10 * USDC); // 0-10 USDC an hour, often below the backing
            _buyPrimary(who, id, units, price);
            if (price > backing) premiumIn += units * (price - backing);
            minted += units;
            Holder memory hd;
            hd.who = who;
            hd.units = units;
            if ((h >> 64) % 3 != 0) {
                // book g ≤ 2 GPUs (so four holders never overbook 8 GPUs) for part of the window
                hd.gpus = uint8(units >= 2 && (h >> 72) % 2 == 0 ? 2 : 1);
                uint256 most = units / hd.gpus < windowHours ? units / hd.gpus : windowHours;
                hd.hours_ = uint16(1 + (h >> 80) % most);
                hd.from = uint16((h >> 96) % (windowHours - hd.hours_ + 1));
            }
            holders.push(hd);
        }
        paidIn = usdc.balanceOf(address(escrow)) - escrowBefore;
        assertEq(escrow.funds(id).backing, minted * backing, "every unit backed alike");
        vm.warp(start);
        for (uint256 i; i < holders.length; ++i) {
            Holder storage hd = holders[i];
            if (hd.hours_ == 0) continue;
            vm.prank(hd.who);
            hd.bookingId = gpuHours.activate(id, uint40(start + uint256(hd.from) * 1 hours), hd.hours_, hd.gpus);
        }
    }

    function _attestAll(uint256 seed) internal {
        uint64 first = uint64(start / 1 hours);
        for (uint256 i; i < windowHours; ++i) {
            uint256 r = _rand(seed, "hour", i);
            uint8 s = uint8(r % 4 == 0 ? 0 : r % 4 == 1 ? 1 : 2);
            state.push(s);
            if (s == 0) continue;
            uint16 uptime = s == 1 ? uint16((r >> 8) % 9_000) : uint16(9_000 + (r >> 8) % 1_001);
            _attest(nodeId, first + uint64(i), uptime, MFLOPS_PER_JOULE);
        }
    }

    // ================================================================ settle

    function _count(uint256 from, uint256 count) internal view returns (uint256 delivered, uint256 failed) {
        for (uint256 i = from; i < from + count; ++i) {
            if (state[i] == 2) ++delivered;
            else if (state[i] == 1) ++failed;
        }
    }

    function _settleAll(uint256 seed) internal {
        Task[] memory tasks = new Task[](2 * holders.length);
        uint256 n;
        for (uint256 i; i < holders.length; ++i) {
            Holder storage hd = holders[i];
            if (hd.bookingId != 0) tasks[n++] = Task(i, true);
            if (hd.units > uint256(hd.gpus) * hd.hours_) tasks[n++] = Task(i, false);
        }
        for (uint256 k; n != 0; ++k) {
            uint256 pick = _rand(seed, "order", k) % n;
            _settleOne(tasks[pick], _rand(seed, "dup", k) % 4 == 0);
            tasks[pick] = tasks[--n];
        }
    }

    /// @dev One settlement's expected outcome, from the model, and the state just before it.
    struct Ctx {
        address who;
        uint256 units;
        uint256 paidUnits; // units whose backing goes to the provider
        uint256 slash;
        Funds f; // the capacity's funds before
        uint256 provider; // claimable before
        uint256 holder;
        uint256 treasury;
    }

    function _settleOne(Task memory t, bool listTwice) internal {
        Holder storage hd = holders[t.holder];
        Ctx memory c;
        c.who = hd.who;
        if (t.booking) {
            c.units = uint256(hd.gpus) * hd.hours_;
            (uint256 delivered, uint256 failed) = _count(hd.from, hd.hours_);
            c.paidUnits = uint256(hd.gpus) * delivered;
            // grace per window: failed hours before the booking use it up first
            (, uint256 failedBefore) = _count(0, hd.from);
            uint256 graceLeft = failedBefore >= sla_.graceHours ? 0 : sla_.graceHours - failedBefore;
            uint256 forgiven = failed < graceLeft ? failed : graceLeft;
            c.slash = uint256(hd.gpus) * (failed - forgiven) * sla_.slashPerGpuHour;
        } else {
            c.units = hd.units - uint256(hd.gpus) * hd.hours_;
            (uint256 delivered, uint256 failed) = _count(0, windowHours);
            c.paidUnits = c.units * delivered / windowHours;
            uint256 beyond = failed > sla_.graceHours ? failed - sla_.graceHours : 0;
            // Rounded once, at the end: units × slashed hours × slash / window hours.
            c.slash = c.units * beyond * sla_.slashPerGpuHour / windowHours;
        }
        c.f = escrow.funds(id);
        c.provider = escrow.claimable(provider);
        c.holder = escrow.claimable(hd.who);
        c.treasury = escrow.claimable(treasury);

        if (t.booking) {
            settlement.settleBooking(hd.bookingId);
        } else {
            address[] memory list = new address[](listTwice ? 2 : 1);
            list[0] = hd.who;
            if (listTwice) list[1] = hd.who;
            settlement.settleUnused(id, list);
        }
        _check(c);
    }

    function _check(Ctx memory c) internal {
        Funds memory a = escrow.funds(id);
        uint256 released = c.paidUnits * backing;
        uint256 fee = _fee(released);
        assertEq(c.f.backing - a.backing, c.units * backing, "exactly the units' backing left the escrow");
        assertEq(escrow.claimable(provider) - c.provider, released - fee, "provider: delivered backing less fee");
        assertEq(escrow.claimable(treasury) - c.treasury, fee, "treasury: fee on delivered backing only");
        assertEq(c.f.bond - a.bond, c.slash, "slash");
        uint256 toHolder = escrow.claimable(c.who) - c.holder;
        assertEq(toHolder, (c.units - c.paidUnits) * backing + c.slash, "holder: undelivered backing plus slash");
        assertGe(toHolder, (c.units - c.paidUnits) * backing, "a failed unit refunds below its backing");
        slashSum += c.slash;
    }

    function _closeAndCheckTotals() internal {
        assertEq(settlement.settledUnits(id), minted, "every unit settled");
        assertEq(escrow.funds(id).backing, 0, "no backing left once every unit is settled");
        uint256 before = escrow.claimable(provider);
        uint256 treasuryBefore = escrow.claimable(treasury);
        (uint256 windowDelivered, uint256 windowFailed) = _count(0, windowHours);
        // The premium held since the sales: the delivered hours' share to the provider less the fee
        // (paid rounded down, fee rounded up), the rest forfeited to the treasury.
        uint256 premium = premiumIn;
        assertEq(escrow.funds(id).premium, premium, "premium held until the window settles");
        uint256 premiumPaid = premium * windowDelivered / windowHours;
        uint256 premiumFee = _fee(premiumPaid);
        vm.expectEmit(address(settlement));
        emit CapacitySettled(id, windowDelivered, windowFailed, bond - slashSum);
        settlement.settleCapacity(id);
        assertEq(
            escrow.claimable(provider) - before,
            bond - slashSum + premiumPaid - premiumFee,
            "bond returned less slashes, premium for the delivered hours less the fee"
        );
        assertEq(
            escrow.claimable(treasury) - treasuryBefore,
            premiumFee + premium - premiumPaid,
            "treasury: the premium's fee and its undelivered share"
        );
        assertEq(
            uint8(gpuHours.capacity(id).closeReason),
            uint8(windowFailed > sla_.graceHours ? CloseReason.ProviderFailed : CloseReason.Completed)
        );

        Funds memory f = escrow.funds(id);
        assertEq(uint256(f.backing) + f.bond + f.premium, 0, "funds of a settled capacity end at zero");

        uint256 credited = escrow.claimable(provider) + escrow.claimable(treasury);
        for (uint256 i; i < holders.length; ++i) {
            credited += escrow.claimable(holders[i].who);
        }
        assertEq(credited, paidIn + bond, "every unit paid in (and the bond) credited somewhere");
        assertEq(usdc.balanceOf(address(escrow)), credited, "escrow holds exactly what it owes");
    }

    event CapacitySettled(
        uint256 indexed capacityId, uint256 deliveredHours, uint256 failedHours, uint256 bondReturned
    );
}
