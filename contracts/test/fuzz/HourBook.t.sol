// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {Fixtures} from "../utils/Fixtures.sol";
import {HourBookHarness} from "../utils/HourBookHarness.sol";
import {IGpuHours} from "../../src/interfaces/IGpuHours.sol";
import {HourBook} from "../../src/libraries/HourBook.sol";

/// @notice HourBook on one mapping of words, with `sum` exposed (the shared harness has no `sum`).
contract HourBookSumHarness {
    using HourBook for mapping(uint256 => uint256);

    mapping(uint256 word => uint256 counts) internal _words;

    /// @dev Books only what fits; a failed booking reverts, undoing any word already written.
    function book(uint256 first, uint256 count, uint256 gpus, uint256 limit) external {
        (bool ok,,) = _words.book(first, count, gpus, limit);
        require(ok, "full");
    }

    function sum(uint256 from, uint256 to) external view returns (uint256) {
        return _words.sum(from, to);
    }

    function at(uint256 i) external view returns (uint256) {
        return _words.at(i);
    }
}

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

    function testFuzz_sum_matchesNaiveSum(uint256 limit, uint256 seed) public {
        limit = bound(limit, 1, 255);
        HourBookSumHarness book = new HourBookSumHarness();
        uint256 span = 10 * 32;
        uint256[] memory model = new uint256[](span);

        for (uint256 k; k < BOOKINGS; ++k) {
            (uint256 first, uint256 count, uint256 gpus) = _draw(seed, k, span, limit);
            (bool fits,) = _fits(model, first, count, gpus, limit);
            if (!fits) continue;
            book.book(first, count, gpus, limit);
            for (uint256 h = first; h < first + count; ++h) {
                model[h] += gpus;
            }
        }
        for (uint256 k; k < 24; ++k) {
            (uint256 from, uint256 to) = _range(seed, k, span);
            uint256 naive;
            for (uint256 h = from; h < to; ++h) {
                naive += book.at(h);
                assertEq(book.at(h), model[h], "booked hour");
            }
            assertEq(book.sum(from, to), naive, "sum of a range");
        }
        uint256 all;
        for (uint256 h; h < span; ++h) {
            all += model[h];
        }
        assertEq(book.sum(0, span), all, "sum of the span");
        assertEq(book.sum(span, span + 64), 0, "nothing booked past the span");
    }

    function testFuzz_sum_fullLanes(uint256 seed) public {
        // Every lane at 255, the most a byte holds: the lane-parallel sum must not carry across lanes.
        HourBookSumHarness book = new HourBookSumHarness();
        uint256 span = 3 * 32;
        book.book(0, span, 255, 255);
        for (uint256 k; k < 16; ++k) {
            (uint256 from, uint256 to) = _range(seed, k, span);
            assertEq(book.sum(from, to), 255 * (to - from), "full lanes");
        }
        assertEq(book.sum(0, span), 255 * span);
    }

    function test_sum_emptyAndReversedRanges() public {
        HourBookSumHarness book = new HourBookSumHarness();
        book.book(30, 4, 5, 8);
        assertEq(book.sum(31, 31), 0);
        assertEq(book.sum(33, 30), 0);
        assertEq(book.sum(31, 32), 5);
        assertEq(book.sum(31, 33), 10);
        assertEq(book.sum(0, 32), 10);
        assertEq(book.sum(32, 64), 10);
        assertEq(book.sum(29, 35), 20);
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
