// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {Fixtures} from "../utils/Fixtures.sol";
import {HourBookHarness} from "../utils/HourBookHarness.sol";
import {IGpuHours} from "../../src/interfaces/IGpuHours.sol";

/// @notice The packed per-hour booking counters against a naive per-hour model: random bookings,
///         every hour compared after each, an overbooking revert exactly when the model says so, and
///         range sums equal to the naive sum of the hours.
contract HourBookFuzzTest is Fixtures {
    uint256 internal constant BOOKINGS = 16;

    // ================================================================ through GpuHours

    function testFuzz_activate_matchesPerHourModel(uint256 gpuCount, uint256 window, uint256 seed) public {
        gpuCount = bound(gpuCount, 1, 255);
        window = bound(window, 1, 4 * 32); // up to four packed words
        uint256 id = _capacityOf(provider, uint8(gpuCount), window);
        _mintAsExchange(renter, id, gpuCount * window);

        uint256[] memory model = new uint256[](window);
        for (uint256 k; k < BOOKINGS; ++k) {
            (uint256 first, uint256 count, uint256 gpus) = _draw(seed, k, window, gpuCount);
            _activateAndCompare(id, model, first, count, gpus);
        }
    }

    /// @dev Books through GpuHours, expecting the revert the model predicts, then compares every hour.
    function _activateAndCompare(uint256 id, uint256[] memory model, uint256 first, uint256 count, uint256 gpus)
        internal
    {
        uint40 start = _start(id);
        bool books = _expectOutcome(id, model, first, count, gpus);
        vm.prank(renter);
        uint256 bookingId = gpuHours.activate(id, uint40(start + first * 1 hours), uint16(count), uint8(gpus));
        if (books) {
            assertEq(bookingId, id << 24 | first << 8 | model[first], "booking id");
            for (uint256 h = first; h < first + count; ++h) {
                model[h] += gpus;
            }
        }
        _assertMatches(id, start, model);
    }

    /// @dev Arms the revert the model predicts for the booking; returns whether it should succeed.
    function _expectOutcome(uint256 id, uint256[] memory model, uint256 first, uint256 count, uint256 gpus)
        internal
        returns (bool)
    {
        uint256 gpuCount = gpuHours.capacity(id).gpuCount;
        uint256 units = gpus * count;
        uint256 balance = gpuHours.balanceOf(renter, id);
        if (balance < units) {
            vm.expectRevert(
                abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, renter, balance, units, id)
            );
            return false;
        }
        (bool fits, uint256 fullHour) = _fits(model, first, count, gpus, gpuCount);
        if (!fits) {
            uint256 hourStart = _start(id) + fullHour * 1 hours;
            vm.expectRevert(
                abi.encodeWithSelector(IGpuHours.Overbooked.selector, id, hourStart, model[fullHour], gpus, gpuCount)
            );
        }
        return fits;
    }

    // ================================================================ the library alone

    function testFuzz_book_matchesPerHourModel(uint256 limit, uint256 seed) public {
        limit = bound(limit, 1, 255);
        HourBookHarness book = new HourBookHarness();
        uint256 span = 10 * 32;
        uint256[] memory model = new uint256[](span);

        for (uint256 k; k < BOOKINGS; ++k) {
            (uint256 first, uint256 count, uint256 gpus) = _draw(seed, k, span, limit);
            // Keep most bookings short, around word boundaries, so that they collide.
            if (uint256(keccak256(abi.encode(seed, k, "short"))) % 4 != 0) {
                first = (first % 6) * 32 + 24 + first % 16; // hours 24..39 of words 0..5
                count = 1 + count % 48;
            }
            (bool fits, uint256 fullHour) = _fits(model, first, count, gpus, limit);
            if (!fits) {
                vm.expectRevert(abi.encodeWithSelector(HourBookHarness.Full.selector, fullHour, model[fullHour]));
            }
            book.book(first, count, gpus, limit);
            if (fits) {
                for (uint256 h = first; h < first + count; ++h) {
                    model[h] += gpus;
                }
            }
            for (uint256 h = first; h < first + count; ++h) {
                assertEq(book.at(h), model[h], "booked hour");
            }
        }
        for (uint256 h; h < span; ++h) {
            assertEq(book.at(h), model[h], "booked hour");
        }
    }

    /// @dev Over 40 words (1,280 hours), so the split reads three 512-hour totals slots.
    function testFuzz_split_matchesNaiveSums(uint256 limit, uint256 seed) public {
        (HourBookHarness book, uint256[] memory model) = _bookAtRandom(bound(limit, 1, 255), seed, false);
        _assertSplits(book, model, seed);
    }

    /// @dev Bookings given back in part (an early end frees a booking's last hours): every hour and
    ///      every split, word totals included, follow the model.
    function testFuzz_unbook_matchesNaiveSums(uint256 limit, uint256 seed) public {
        (HourBookHarness book, uint256[] memory model) = _bookAtRandom(bound(limit, 1, 255), seed, true);
        _assertSplits(book, model, seed);
        for (uint256 h; h < model.length; ++h) {
            assertEq(book.at(h), model[h], "booked hour");
        }
    }

    /// @dev Random bookings that fit over 40 words, each giving back a random tail when `giveBack`;
    ///      returns the book and the per-hour model of what it holds.
    function _bookAtRandom(uint256 limit, uint256 seed, bool giveBack)
        internal
        returns (HourBookHarness book, uint256[] memory model)
    {
        book = new HourBookHarness();
        model = new uint256[](40 * 32);
        for (uint256 k; k < BOOKINGS; ++k) {
            (uint256 first, uint256 count, uint256 gpus) = _draw(seed, k, model.length, limit);
            (bool fits,) = _fits(model, first, count, gpus, limit);
            if (!fits) continue;
            book.book(first, count, gpus, limit);
            uint256 back;
            if (giveBack) {
                back = uint256(keccak256(abi.encode(seed, k, "back"))) % (count + 1);
                book.unbook(first + count - back, back, gpus);
            }
            for (uint256 h = first; h < first + count - back; ++h) {
                model[h] += gpus;
            }
        }
    }

    function testFuzz_split_fullLanes(uint256 seed) public {
        // Every lane at 255, the most a byte holds, and every word's total at its most, 8,160, over
        // three totals slots: the lane-parallel sums must not carry across lanes.
        HourBookHarness book = new HourBookHarness();
        uint256 span = 40 * 32;
        book.book(0, span, 255, 255);
        for (uint256 k; k < 16; ++k) {
            (uint256 at,) = _range(seed, k, span);
            (uint256 before, uint256 ahead) = book.split(at, span);
            assertEq(before, 255 * at, "full lanes before");
            assertEq(ahead, 255 * (span - at), "full lanes ahead");
        }
    }

    function test_split_edges() public {
        HourBookHarness book = new HourBookHarness();
        book.book(30, 4, 5, 8); // hours 30-33: the end of word 0, the start of word 1
        _assertSplit(book, 0, 64, 0, 20);
        _assertSplit(book, 30, 64, 0, 20);
        _assertSplit(book, 31, 64, 5, 15);
        _assertSplit(book, 32, 64, 10, 10);
        _assertSplit(book, 34, 64, 20, 0);
        _assertSplit(book, 64, 64, 20, 0); // the window is over: all of it before
        _assertSplit(book, 32, 34, 10, 10); // a window ending inside word 1
        book.book(600, 8, 3, 8); // word 18, in the second totals slot
        _assertSplit(book, 31, 1_280, 5, 39);
        _assertSplit(book, 604, 1_280, 32, 12);
        _assertSplit(book, 1_280, 1_280, 44, 0);
    }

    function _assertSplit(HourBookHarness book, uint256 at, uint256 count, uint256 before, uint256 ahead)
        internal
        view
    {
        (uint256 b, uint256 a) = book.split(at, count);
        assertEq(b, before, "before");
        assertEq(a, ahead, "ahead");
    }

    /// @dev The split at points often on or next to a word boundary, and at both ends, against the model.
    function _assertSplits(HourBookHarness book, uint256[] memory model, uint256 seed) internal view {
        uint256 span = model.length;
        for (uint256 k; k < 26; ++k) {
            uint256 at;
            if (k == 24) at = 0;
            else if (k == 25) at = span;
            else (at,) = _range(seed, k, span);
            uint256 before;
            uint256 ahead;
            for (uint256 h; h < span; ++h) {
                if (h < at) before += model[h];
                else ahead += model[h];
            }
            _assertSplit(book, at, span, before, ahead);
        }
    }

    // ================================================================ internal

    /// @dev A range [from, to) inside [0, span], its ends often on or next to a word boundary.
    function _range(uint256 seed, uint256 k, uint256 span) internal pure returns (uint256 from, uint256 to) {
        uint256 r = uint256(keccak256(abi.encode(seed, k, "range")));
        from = _near(r, span);
        to = _near(r >> 128, span);
        if (from > to) (from, to) = (to, from);
    }

    /// @dev Half the time any point of [0, span], otherwise a word boundary give or take one hour.
    function _near(uint256 r, uint256 span) internal pure returns (uint256 x) {
        if (r % 2 == 0) return (r >> 8) % (span + 1);
        x = ((r >> 8) % (span / 32 + 1)) * 32;
        uint256 jitter = (r >> 64) % 3; // -1, 0, +1
        if (jitter == 0 && x != 0) x -= 1;
        else if (jitter == 2 && x < span) x += 1;
    }

    /// @dev A booking inside a window of `window` hours, for 1 to limit + 1 GPUs (at most 255).
    function _draw(uint256 seed, uint256 k, uint256 window, uint256 limit)
        internal
        pure
        returns (uint256 first, uint256 count, uint256 gpus)
    {
        uint256 r = uint256(keccak256(abi.encode(seed, k)));
        first = r % window;
        count = 1 + (r >> 64) % (window - first);
        uint256 most = limit == 255 ? 255 : limit + 1;
        // Half the time, a large booking, to make overbooking likely.
        gpus = (r >> 128) % 2 == 0 ? 1 + (r >> 136) % most : most - (r >> 136) % (most < 3 ? most : 3);
    }

    /// @dev The naive check: the first hour that `gpus` more would take above `limit`.
    function _fits(uint256[] memory model, uint256 first, uint256 count, uint256 gpus, uint256 limit)
        internal
        pure
        returns (bool, uint256)
    {
        for (uint256 h = first; h < first + count; ++h) {
            if (model[h] + gpus > limit) return (false, h);
        }
        return (true, 0);
    }

    function _assertMatches(uint256 id, uint40 start, uint256[] memory model) internal view {
        uint256 units;
        for (uint256 h; h < model.length; ++h) {
            assertEq(gpuHours.bookedAt(id, start + h * 1 hours), model[h], "bookedAt");
            units += model[h];
        }
        assertEq(gpuHours.bookedUnits(id), units, "bookedUnits");
        assertEq(gpuHours.totalSupply(id) + units, gpuHours.capacity(id).minted, "supply");
    }
}
