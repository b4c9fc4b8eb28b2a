// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "../utils/Fixtures.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";

/// @notice Refunds of a cancelled capacity: buyers at random prices, some hours activated into
///         bookings, then tokens redeemed in random chunks and bookings refunded in random order.
///         The refunds add up to the pot exactly and each is its pro-rata share, rounded either way.
contract EscrowRefundsFuzzTest is Fixtures {
    uint256 internal constant MAX_HOLDERS = 6;
    uint256 internal constant WINDOW = 24;

    uint256 internal id;

    /// @dev One claim on the pot: a holder's tokens, or one booking.
    struct Claim {
        address holder;
        uint256 units; // left to refund
        uint256 bookingId; // 0 for tokens
    }

    function setUp() public override {
        super.setUp();
        (, id) = _capacity(provider, WINDOW, 25 * USDC);
    }

    function testFuzz_refunds_addUpToPotProRata(uint256 seed, uint256 holders, uint256 bps) public {
        holders = bound(holders, 1, MAX_HOLDERS);
        vm.prank(owner);
        exchange.setFee(uint16(bound(bps, 0, 1_000)));

        Claim[] memory claims = new Claim[](2 * holders);
        uint256 n;
        for (uint256 i; i < holders; ++i) {
            address holder = makeAddr(string(abi.encode("holder", i)));
            _fund(holder);
            uint256 r = _rand(seed, i, "buy");
            uint256 units = 1 + r % 30;
            _buyPrimary(holder, id, units, 1 + (r >> 64) % (5 * USDC));
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

        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        Funds memory f = escrow.funds(id);
        uint256 pot = uint256(f.sales) + f.fees;
        uint256 sold = f.refundableUnits;
        assertEq(sold, gpuHours.capacity(id).minted);

        uint256 refunded;
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

            assertLe(amount, _ceilDiv(pot * units, sold), "at most pro rata, rounded up");
            assertGe(amount, pot * units / sold, "at least pro rata, rounded down");
            refunded += amount;

            claims[c].units -= units;
            if (claims[c].units == 0) claims[c] = claims[--n];
        }

        assertEq(refunded, pot, "refunds add up to the pot");
        f = escrow.funds(id);
        assertEq(f.sales, 0);
        assertEq(f.fees, 0);
        assertEq(f.refundableUnits, 0);
        // What the escrow holds is exactly what it owes: the refunds and the returned bond.
        assertEq(usdc.balanceOf(address(escrow)), pot + 25 * USDC);
    }

    function _rand(uint256 seed, uint256 i, string memory tag) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, i, tag)));
    }
}
