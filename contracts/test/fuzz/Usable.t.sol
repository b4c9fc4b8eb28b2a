// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "../utils/Fixtures.sol";
import {IGpuHours} from "../../src/interfaces/IGpuHours.sol";

/// @notice Only hours that can still be activated are minted. Random sequences of mints, bookings
///         and time warps across a window; each mint must succeed exactly when
///         circulating + booked in the hours not yet over + amount ≤ gpuCount × hours left
///         (counted naively, hour by hour, from `bookedAt`), and after each success every unit in
///         circulation can still be activated: usableUnits == circulating.
contract UsableFuzzTest is Fixtures {
    uint256 internal constant STEPS = 32;

    uint256 internal id;
    uint256 internal gpuCount;
    uint256 internal window;
    uint40 internal start;
    uint40 internal end;

    // The test's own ledger, not read back from the contract.
    uint256 internal minted;
    uint256 internal circulating;

    function testFuzz_mint_onlyUsableHours(uint256 gpus, uint256 hours_, uint256 seed) public {
        gpuCount = bound(gpus, 1, 16);
        window = bound(hours_, 1, 80); // up to three packed words
        id = _capacityOf(provider, uint8(gpuCount), window);
        start = _start(id);
        end = _end(id);

        for (uint256 k; k < STEPS; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint256 action = r % 8;
            if (action < 3) _tryMint(r >> 8);
            else if (action < 6) _book(r >> 8);
            else _warp(r >> 8);
            _assertUsable();
        }
    }

    /// @dev The same, starting with the whole supply bought before the window: as hours pass
    ///      unused, usable hours fall below what is held and no mint fits until bookings are over.
    function testFuzz_mint_afterSellOut(uint256 gpus, uint256 hours_, uint256 seed) public {
        gpuCount = bound(gpus, 1, 16);
        window = bound(hours_, 2, 80);
        id = _capacityOf(provider, uint8(gpuCount), window);
        start = _start(id);
        end = _end(id);
        _mint(gpuCount * window);
        assertEq(gpuHours.usableUnits(id), circulating);

        for (uint256 k; k < STEPS; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k, "sold out")));
            if (r % 2 == 0) _book(r >> 8);
            else _warp(r >> 8);
            _tryMint(r >> 16);
            _assertUsable();
        }
    }

    // ================================================================ steps

    /// @dev Attempts a mint, expecting success exactly when the naive count says it fits.
    function _tryMint(uint256 r) internal {
        uint256 cap = gpuCount * window;
        (uint256 left, uint256 bookedAhead) = _naive();
        uint256 out = circulating + bookedAhead;
        uint256 usable = out < left ? left - out : 0;
        uint256 amount;
        uint256 pick = r % 4;
        if (pick == 0) amount = usable == 0 ? 1 : usable;
        else if (pick == 1) amount = usable + 1;
        else amount = 1 + (r >> 8) % cap;

        bool fits = out + amount <= left; // == circulating + bookedAhead + amount <= gpuCount × hoursLeft
        if (minted + amount > cap) {
            assertFalse(fits, "over the cap is never usable");
            vm.expectRevert(abi.encodeWithSelector(IGpuHours.SupplyCapExceeded.selector, id, minted, amount, cap));
        } else if (!fits) {
            vm.expectRevert(abi.encodeWithSelector(IGpuHours.HoursNotUsable.selector, id, amount, usable));
        }
        vm.prank(address(exchange));
        uint256 backing = gpuHours.mint(renter, id, amount, provider);
        if (!fits) return;
        assertEq(backing, BACKING, "backing per unit");
        minted += amount;
        circulating += amount;
        assertEq(gpuHours.balanceOf(renter, id), circulating, "balance");
        assertEq(gpuHours.usableUnits(id), circulating, "every unit out can still be activated");
    }

    function _mint(uint256 amount) internal {
        _mintAsExchange(renter, id, amount);
        minted += amount;
        circulating += amount;
    }

    /// @dev Books some of the renter's units on hours not yet over, when they fit.
    function _book(uint256 r) internal {
        uint256 h0 = _hourIndex();
        if (circulating == 0 || h0 >= window) return;
        uint256 first = h0 + r % (window - h0);
        uint256 count = 1 + (r >> 32) % (window - first);
        uint256 gpus = 1 + (r >> 64) % gpuCount;
        if (gpus > circulating) gpus = circulating;
        if (gpus * count > circulating) count = circulating / gpus;
        for (uint256 h = first; h < first + count; ++h) {
            if (gpuHours.bookedAt(id, start + h * 1 hours) + gpus > gpuCount) return; // full: skip
        }
        vm.prank(renter);
        gpuHours.activate(id, uint40(start + first * 1 hours), uint16(count), uint8(gpus));
        circulating -= gpus * count;
    }

    /// @dev Moves time forward, by minutes or by hours, never past the window's last second.
    function _warp(uint256 r) internal {
        uint256 step = r % 4 == 0 ? (r >> 8) % (window * 1 hours / 3 + 1) : (r >> 8) % 2 hours;
        uint256 t = block.timestamp + step;
        vm.warp(t < end ? t : end - 1);
    }

    // ================================================================ model

    /// @dev Current hour's index in the window, 0 before it starts.
    function _hourIndex() internal view returns (uint256) {
        if (block.timestamp < start) return 0;
        return (block.timestamp - start) / 1 hours;
    }

    /// @dev GPU-hours left from the current hour on, and what is booked in them, hour by hour.
    function _naive() internal view returns (uint256 left, uint256 bookedAhead) {
        uint256 h0 = _hourIndex();
        left = gpuCount * (window - h0);
        for (uint256 h = h0; h < window; ++h) {
            bookedAhead += gpuHours.bookedAt(id, start + h * 1 hours);
        }
    }

    function _assertUsable() internal view {
        (uint256 left, uint256 bookedAhead) = _naive();
        uint256 free = left - bookedAhead;
        assertEq(gpuHours.usableUnits(id), circulating < free ? circulating : free, "usableUnits");
        assertEq(gpuHours.totalSupply(id), circulating, "circulating");
    }
}
