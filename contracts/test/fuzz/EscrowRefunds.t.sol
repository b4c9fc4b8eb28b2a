// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "../utils/Fixtures.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";

/// @notice Refunds of a cancelled capacity: buyers at random prices (above and below the backing),
///         some hours activated into bookings, then tokens redeemed in random chunks and bookings
///         refunded in random order. Every refund is exactly units × (backing + penalty per unit),
///         whatever the order and split, and the capacity's backing and bond end at zero.
contract EscrowRefundsFuzzTest is Fixtures {
    uint256 internal constant MAX_HOLDERS = 6;
    uint256 internal constant WINDOW = 24;
    uint256 internal constant CAP = 8 * WINDOW;

    uint256 internal id;
    uint256 internal premiumSold; // what sales above the backing paid above it

    /// @dev One claim on the capacity's funds: a holder's tokens, or one booking.
    struct Claim {
        address holder;
        uint256 units; // left to refund
        uint256 bookingId; // 0 for tokens
    }

    function testFuzz_refunds_exactPerUnit(uint256 seed, uint256 holders, uint96 backing, uint64 slash, uint256 extra)
        public
    {
        holders = bound(holders, 1, MAX_HOLDERS);
        backing = uint96(bound(backing, 1, 10 * USDC));
        slash = uint64(bound(slash, 0, 5 * USDC));
        uint256 bond = CAP * slash + bound(extra, 0, 100 * USDC); // at least the minimum
        vm.prank(owner);
        settlement.setSla(Sla({minUptimeBps: 9_000, minGflopsPerJoule: 0, graceHours: 1, slashPerGpuHour: slash}));
        (, id) = _capacityBacked(provider, WINDOW, backing, bond);

        Claim[] memory claims = new Claim[](2 * holders);
        uint256 n = _buyAndActivate(seed, holders, claims);
        uint256 sold = gpuHours.capacity(id).minted;
        assertEq(escrow.funds(id).backing, sold * backing, "backing escrowed per unit, whatever the price");

        uint256 providerBefore = escrow.claimable(provider);
        assertEq(escrow.funds(id).premium, premiumSold, "premium held");
        premiumSold += escrow.claimable(treasury); // what the treasury must hold after the cancel
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        // The premium of the sales above the backing is forfeited to the treasury, never refunded
        // pro rata (it was paid at different prices) nor returned to the provider.
        assertEq(escrow.claimable(treasury), premiumSold, "premium forfeited to the treasury");
        assertEq(escrow.funds(id).premium, 0, "premium emptied");
        // GpuHours sizes the bond for a full slash of every unit: the penalty is never cut.
        uint256 penalty = slash;
        assertEq(escrow.funds(id).penaltyPerUnit, penalty, "penalty per unit");
        assertEq(escrow.funds(id).bond, sold * penalty, "bond kept for the holders");
        assertEq(escrow.claimable(provider) - providerBefore, bond - sold * penalty, "rest of the bond returned");

        uint256 refunded = _refundAll(seed, claims, n, backing + penalty);

        assertEq(refunded, sold * (backing + penalty), "refunds add up");
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0, "backing emptied");
        assertEq(f.bond, 0, "bond emptied");
        // What the escrow holds is exactly what it owes.
        uint256 owed = refunded + escrow.claimable(provider) + escrow.claimable(treasury);
        assertEq(usdc.balanceOf(address(escrow)), owed, "solvent and nothing stranded");
    }

    /// @dev The escrow alone, asked for a penalty the bond may not cover: it caps the penalty at
    ///      bond / units sold, and every refund is still exactly units × (backing + capped penalty).
    function testFuzz_openRefunds_penaltyCappedByBond(uint256 seed, uint256 sold, uint256 bond, uint256 penalty)
        public
    {
        sold = bound(sold, 1, CAP);
        bond = bound(bond, 0, 1_000 * USDC);
        penalty = bound(penalty, 0, 2_000 * USDC);
        (, id) = _capacity(provider, WINDOW, bond);
        _buyPrimary(renter, id, sold, PRICE);

        vm.prank(address(gpuHours));
        escrow.openRefunds(id, sold, provider, penalty);
        uint256 capped = penalty < bond / sold ? penalty : bond / sold;
        assertEq(escrow.funds(id).penaltyPerUnit, capped, "capped penalty");
        assertLe(sold * capped, bond, "the bond covers every unit's penalty");
        assertEq(escrow.claimable(provider), bond - sold * capped, "rest of the bond returned");

        Claim[] memory claims = new Claim[](1);
        claims[0] = Claim(renter, sold, 0);
        uint256 refunded;
        for (uint256 k; claims[0].units != 0; ++k) {
            uint256 units = 1 + _rand(seed, k, "chunk") % claims[0].units;
            vm.prank(address(gpuHours));
            uint256 amount = escrow.refund(id, renter, units);
            assertEq(amount, units * (uint256(BACKING) + capped), "refund per unit");
            refunded += amount;
            claims[0].units -= units;
        }
        assertEq(refunded, sold * (uint256(BACKING) + capped));
        assertEq(escrow.claimable(renter), refunded);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0);
        assertEq(f.bond, 0);
    }

    /// @dev Each holder buys 1..30 units at a random price, and maybe activates some on 1 GPU.
    function _buyAndActivate(uint256 seed, uint256 holders, Claim[] memory claims) internal returns (uint256 n) {
        for (uint256 i; i < holders; ++i) {
            address holder = makeAddr(string(abi.encode("holder", i)));
            _fund(holder);
            uint256 r = _rand(seed, i, "buy");
            uint256 units = 1 + r % 30;
            uint256 price = (r >> 64) % (5 * USDC);
            uint256 backing = gpuHours.terms(id).backing;
            if (price > backing) premiumSold += units * (price - backing);
            _buyPrimary(holder, id, units, price);
            // Some holders activate part of their hours: 1 GPU each, so nothing is overbooked.
            if ((r >> 128) % 2 == 0) {
                uint256 hours_ = 1 + (r >> 136) % (units < WINDOW ? units : WINDOW);
                uint40 at = uint40(_start(id) + ((r >> 160) % (WINDOW - hours_ + 1)) * 1 hours);
                vm.prank(holder);
                uint256 bookingId = gpuHours.activate(id, at, uint16(hours_), 1);
                claims[n++] = Claim(holder, hours_, bookingId);
                units -= hours_;
            }
            if (units != 0) claims[n++] = Claim(holder, units, 0);
        }
    }

    /// @dev Refunds every claim in random order and random chunks; each exactly units × perUnit.
    function _refundAll(uint256 seed, Claim[] memory claims, uint256 n, uint256 perUnit)
        internal
        returns (uint256 refunded)
    {
        for (uint256 k; n != 0; ++k) {
            uint256 r = _rand(seed, k, "refund");
            uint256 c = r % n;
            Claim memory claim = claims[c];
            uint256 units = claim.bookingId != 0 ? claim.units : 1 + (r >> 64) % claim.units;
            uint256 before = escrow.claimable(claim.holder);
            vm.prank(claim.holder);
            if (claim.bookingId != 0) gpuHours.refundBooking(claim.bookingId);
            else gpuHours.redeemCancelled(id, units);
            uint256 amount = escrow.claimable(claim.holder) - before;
            assertEq(amount, units * perUnit, "refund is exactly units x (backing + penalty)");
            refunded += amount;

            claims[c].units -= units;
            if (claims[c].units == 0) claims[c] = claims[--n];
        }
    }

    function _rand(uint256 seed, uint256 i, string memory tag) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, i, tag)));
    }
}
