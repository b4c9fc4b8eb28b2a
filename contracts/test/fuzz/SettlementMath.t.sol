// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SettlementFixtures} from "../utils/SettlementFixtures.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";
import {CloseReason} from "../../src/interfaces/IGpuHours.sol";

/// @notice Random windows, per-hour uptime patterns (attested good, attested bad, or never attested),
///         holders buying at random prices, some booking part of their hours, and settlement in a
///         random order. For every settlement the provider receives exactly its units' share of the
///         sales for the delivered hours (the share itself within rounding of the ideal pro rata),
///         the holder the rest with the fee on it plus any slash; slashes never exceed the bond;
///         and in the end every stablecoin unit is accounted for.
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
    uint256 internal bond;
    Sla internal sla_;
    uint8[] internal state; // per hour: 0 not attested, 1 attested failed, 2 attested delivered
    Holder[] internal holders;
    uint256 internal sales; // S: escrowed sales (net of fee)
    uint256 internal fees; // F
    uint256 internal paidIn; // S + F
    uint256 internal minted; // M

    uint256 internal settlements;
    uint256 internal paidSum;
    uint256 internal idealSum;
    uint256 internal slashSum;

    function _rand(uint256 seed, string memory tag, uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, tag, i)));
    }

    function testFuzz_settlement_paysDeliveredShareAndConserves(uint256 seed) public {
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
        bond = (r >> 8) % (200 * USDC);
        sla_ = Sla({
            minUptimeBps: 9_000,
            minGflopsPerJoule: 0,
            graceHours: uint8((r >> 40) % 3),
            slashPerGpuHour: uint128((r >> 48) % (3 * USDC))
        });
        vm.startPrank(owner);
        settlement.setSla(sla_);
        exchange.setFee(uint16((r >> 112) % 1_001)); // 0-10 %
        vm.stopPrank();
        (nodeId, id) = _capacity(provider, windowHours, bond);
        start = _start(id);
        end = _end(id);

        uint256 n = 1 + (r >> 96) % MAX_HOLDERS;
        for (uint256 i; i < n; ++i) {
            uint256 h = _rand(seed, "holder", i);
            address who = makeAddr(string(abi.encode("holder", i)));
            _fund(who);
            uint256 units = 1 + h % (2 * windowHours); // at most 8 × window in all
            uint256 price = 10_000 + (h >> 16) % (10 * USDC); // 0.01-10 USDC an hour
            uint256 fee = _buyPrimary(who, id, units, price);
            sales += units * price - fee;
            fees += fee;
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
        paidIn = sales + fees;
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

    /// @dev One settlement's inputs and the state just before it.
    struct Ctx {
        address who;
        bool booking;
        uint256 gpus;
        uint256 units;
        uint256 hours_;
        uint256 delivered;
        uint256 failed;
        Funds f; // the capacity's funds before
        uint256 amount; // its share of the sales, as the settlement computes it
        uint256 provider; // claimable before
        uint256 holder;
        uint256 treasury;
    }

    function _settleOne(Task memory t, bool listTwice) internal {
        Holder storage hd = holders[t.holder];
        Ctx memory c;
        c.who = hd.who;
        c.booking = t.booking;
        c.gpus = hd.gpus;
        c.units = t.booking ? uint256(hd.gpus) * hd.hours_ : hd.units - uint256(hd.gpus) * hd.hours_;
        c.hours_ = t.booking ? hd.hours_ : windowHours;
        (c.delivered, c.failed) = t.booking ? _count(hd.from, hd.hours_) : _count(0, windowHours);
        c.f = escrow.funds(id);
        uint256 outstanding = minted - settlement.settledUnits(id);
        c.amount = c.units == outstanding ? c.f.sales : uint256(c.f.sales) * c.units / outstanding;
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
        ++settlements;
        uint256 paid = _checkPaid(c);
        _checkHolder(c, paid);
    }

    function _checkPaid(Ctx memory c) internal returns (uint256 paid) {
        paid = escrow.claimable(provider) - c.provider;
        // the units' share of the sales left the pot; the provider got the delivered part of it
        assertEq(c.f.sales - escrow.funds(id).sales, c.amount, "share of sales taken");
        assertEq(paid, c.amount * c.delivered / c.hours_, "provider paid exactly for delivered hours");
        if (c.delivered == 0) assertEq(paid, 0, "paid with nothing delivered");

        // the share is the ideal pro-rata share S*units/M, less at most one unit
        assertGe(c.amount * minted + minted, sales * c.units, "share short of pro rata by more than a unit");
        uint256 ideal = sales * c.units * c.delivered / (minted * c.hours_);
        // Never more than a unit below the ideal (the share is at least floor(S*units/M), then one
        // floor for the hour split); above it only by the rounding earlier takes left in the pot.
        assertGe(paid + 1, ideal, "provider paid below its share");
        assertLe(paid, ideal + settlements, "provider paid above its share");
        paidSum += paid;
        idealSum += ideal;
    }

    function _checkHolder(Ctx memory c, uint256 paid) internal {
        Funds memory a = escrow.funds(id);
        uint256 slash = c.f.bond - a.bond;
        // slashes: only bookings, only failures beyond the grace, never above the bond
        uint256 wanted = c.booking && c.failed > sla_.graceHours
            ? c.gpus * (c.failed - sla_.graceHours) * sla_.slashPerGpuHour
            : 0;
        assertEq(slash, wanted < c.f.bond ? wanted : c.f.bond, "slash");
        assertLe(slash, c.f.bond, "slash above bond");
        slashSum += slash;

        // the holder: the undelivered part with its fee, plus the slash; the treasury: the fee on
        // the delivered part; together exactly what left the fee pot
        uint256 toHolder = escrow.claimable(c.who) - c.holder;
        uint256 toTreasury = escrow.claimable(treasury) - c.treasury;
        assertGe(toHolder, c.amount - paid + slash, "holder refund");
        assertEq(toHolder - slash - (c.amount - paid) + toTreasury, c.f.fees - a.fees, "fee conservation");
        if (paid == 0) assertEq(toTreasury, 0, "fee charged on nothing delivered");
        if (paid == c.amount) assertEq(toHolder, slash, "holder refunded for delivered hours");
    }

    function _closeAndCheckTotals() internal {
        assertEq(settlement.settledUnits(id), minted, "every unit settled");
        uint256 before = escrow.claimable(provider);
        (, uint256 windowFailed) = _count(0, windowHours);
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(provider) - before, bond - slashSum, "bond returned less slashes");
        assertLe(slashSum, bond, "slashed above bond");
        assertEq(
            uint8(gpuHours.capacity(id).closeReason),
            uint8(windowFailed > sla_.graceHours ? CloseReason.ProviderFailed : CloseReason.Completed)
        );

        Funds memory f = escrow.funds(id);
        assertEq(uint256(f.sales) + f.fees + f.bond, 0, "funds of a settled capacity end at zero");

        uint256 credited = escrow.claimable(provider) + escrow.claimable(treasury);
        for (uint256 i; i < holders.length; ++i) {
            credited += escrow.claimable(holders[i].who);
        }
        assertEq(credited, paidIn + bond, "every unit paid in (and the bond) credited somewhere");
        assertEq(usdc.balanceOf(address(escrow)), credited, "escrow holds exactly what it owes");
        assertEq(paidSum, escrow.claimable(provider) - (bond - slashSum), "provider earned only settlements");
        // Rounding over all settlements: at most a unit of the share and one of the hour split each
        // (8,000 runs never needed more than one each).
        uint256 totalDev = paidSum > idealSum ? paidSum - idealSum : idealSum - paidSum;
        assertLe(totalDev, 2 * settlements, "total payout off the ideal by more than rounding");
    }
}
