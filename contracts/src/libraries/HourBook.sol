// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title HourBook
/// @notice Per-hour booked-GPU counters packed 32 to a storage word (one byte per hour), so a day of
///         bookings touches one or two slots. Hour `i` of a window lives in word `i / 32`, byte `i % 32`.
///         Beside them, each word's total, sixteen 16-bit lanes to a slot (512 hours), so what is
///         booked before and from any hour reads that hour's word and one totals slot per 512 hours
///         of the window: at most six reads over the longest window, where reading every word took 68.
/// @dev Words are updated lane-parallel: even and odd bytes are spread into 16-bit containers, so
///      adding a bias to every lane shows, in bit 8 of its container, whether that lane would pass
///      the limit; no lane can carry into its neighbour. A word's total is at most 32 × 255 = 8,160,
///      below bit 15 of its lane, which {open} sets in every lane so a totals slot is never zero and
///      a booking pays for changing it, not for creating it.
library HourBook {
    struct Book {
        mapping(uint256 word => uint256 counts) words;
        mapping(uint256 slot => uint256 totals) totals;
    }

    uint256 private constant ONES = 0x0101010101010101010101010101010101010101010101010101010101010101;
    uint256 private constant EVEN = 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
    uint256 private constant LANES16 = 0x0001000100010001000100010001000100010001000100010001000100010001;
    uint256 private constant CARRY = 0x0100010001000100010001000100010001000100010001000100010001000100;
    uint256 private constant MARK = 0x8000800080008000800080008000800080008000800080008000800080008000;
    uint256 private constant EVEN16 = 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
    uint256 private constant LANES32 = 0x0000000100000001000000010000000100000001000000010000000100000001;

    /// @notice Opens the totals of a window of `count` hours: one slot per 512 hours, written once here
    ///         so that bookings only ever change them.
    function open(Book storage book_, uint256 count) internal {
        for (uint256 s; s < (count + 511) >> 9; ++s) {
            book_.totals[s] = MARK;
        }
    }

    /// @notice Adds `gpus` to hours [first, first + count) if every one of them stays at or below
    ///         `limit` (both at most 255). On success returns (true, 0, 0); otherwise it returns
    ///         (false, the first hour that would overflow, what that hour already holds) and the
    ///         caller must revert, since earlier words may already have been written.
    function book(Book storage book_, uint256 first, uint256 count, uint256 gpus, uint256 limit)
        internal
        returns (bool ok, uint256 fullHour, uint256 held)
    {
        if (gpus > limit) return (false, first, at(book_, first));
        unchecked {
            uint256 end = first + count;
            uint256 bias = 255 - (limit - gpus); // a lane holding more than limit - gpus reaches 256
            for (uint256 i = first; i < end; i = ((i >> 5) + 1) << 5) {
                uint256 w = i >> 5;
                uint256 lanes = _lanes(i & 31, _top(end, w));
                uint256 word = book_.words[w];
                if (_overflows(word, lanes * bias)) return _firstFull(book_, i, end, gpus, limit);
                book_.words[w] = word + lanes * gpus;
            }
            _retotal(book_, first, end, gpus, true);
            return (true, 0, 0);
        }
    }

    /// @notice Takes `gpus` off hours [first, first + count), each of which holds at least that many (a
    ///         booking's own hours), so no lane borrows from its neighbour.
    function unbook(Book storage book_, uint256 first, uint256 count, uint256 gpus) internal {
        unchecked {
            uint256 end = first + count;
            for (uint256 i = first; i < end; i = ((i >> 5) + 1) << 5) {
                uint256 w = i >> 5;
                book_.words[w] -= _lanes(i & 31, _top(end, w)) * gpus;
            }
            _retotal(book_, first, end, gpus, false);
        }
    }

    /// @notice GPU-hours booked in a window of `count` hours before hour `hour` and from it on: the
    ///      word of `hour` and every totals slot, so at most six reads over the longest window.
    function split(Book storage book_, uint256 hour, uint256 count)
        internal
        view
        returns (uint256 before, uint256 ahead)
    {
        unchecked {
            uint256 w = hour >> 5;
            if (w < (count + 31) >> 5) {
                uint256 word = book_.words[w];
                before = _wordSum(word & (_lanes(0, hour & 31) * 0xff));
                ahead = _wordSum(word & (_lanes(hour & 31, 32) * 0xff));
            }
            for (uint256 s; s < (count + 511) >> 9; ++s) {
                uint256 totals = book_.totals[s] & ~MARK;
                uint256 base = s << 4;
                before += _laneSum(totals & _lanes16(0, w > base ? Math.min(w - base, 16) : 0));
                ahead += _laneSum(totals & _lanes16(w + 1 > base ? Math.min(w + 1 - base, 16) : 0, 16));
            }
        }
    }

    /// @notice GPUs booked in each of hours [first, first + count): one word read per 32 hours.
    function range(Book storage book_, uint256 first, uint256 count) internal view returns (uint8[] memory booked) {
        booked = new uint8[](count);
        uint256 word;
        for (uint256 k; k < count; ++k) {
            uint256 i = first + k;
            if (k == 0 || i & 31 == 0) word = book_.words[i >> 5];
            booked[k] = uint8(word >> ((i & 31) << 3));
        }
    }

    /// @notice GPUs booked in hour `i`.
    function at(Book storage book_, uint256 i) internal view returns (uint256) {
        return (book_.words[i >> 5] >> ((i & 31) << 3)) & 0xff;
    }

    /// @dev Adds (or takes) `gpus` × the hours of [first, end) in each word to (from) that word's total,
    ///      one write per totals slot.
    function _retotal(Book storage book_, uint256 first, uint256 end, uint256 gpus, bool add) private {
        unchecked {
            for (uint256 i = first; i < end;) {
                uint256 s = i >> 9;
                uint256 totals = book_.totals[s];
                for (; i < end && i >> 9 == s; i = ((i >> 5) + 1) << 5) {
                    uint256 w = i >> 5;
                    uint256 delta = (_top(end, w) - (i & 31)) * gpus << ((w & 15) << 4);
                    totals = add ? totals + delta : totals - delta;
                }
                book_.totals[s] = totals;
            }
        }
    }

    /// @dev Where hours up to `end` stop in word `w`: 32 when they run past it.
    function _top(uint256 end, uint256 w) private pure returns (uint256) {
        unchecked {
            uint256 hi = end - (w << 5);
            return hi > 32 ? 32 : hi;
        }
    }

    /// @dev The bytes of a word added up: into sixteen 16-bit lanes (each at most 510), then all lanes
    ///      into the top one.
    function _wordSum(uint256 word) private pure returns (uint256) {
        unchecked {
            return (((word & EVEN) + ((word >> 8) & EVEN)) * LANES16) >> 240;
        }
    }

    /// @dev The 16-bit lanes of a totals slot (each at most 8,160) added up: into eight 32-bit lanes,
    ///      then all into the top one.
    function _laneSum(uint256 totals) private pure returns (uint256) {
        unchecked {
            return (((totals & EVEN16) + ((totals >> 16) & EVEN16)) * LANES32) >> 224;
        }
    }

    /// @dev 0x01 in every byte lane in [lo, hi), 0 elsewhere.
    function _lanes(uint256 lo, uint256 hi) private pure returns (uint256) {
        unchecked {
            uint256 upTo = hi == 32 ? ONES : ONES & ((uint256(1) << (hi << 3)) - 1);
            return upTo & ~((uint256(1) << (lo << 3)) - 1);
        }
    }

    /// @dev 0xffff in every 16-bit lane in [lo, hi), 0 elsewhere.
    function _lanes16(uint256 lo, uint256 hi) private pure returns (uint256) {
        unchecked {
            uint256 upTo = hi == 16 ? type(uint256).max : (uint256(1) << (hi << 4)) - 1;
            return upTo & ~((uint256(1) << (lo << 4)) - 1);
        }
    }

    /// @dev Whether any lane of `word` plus its lane of `biased` reaches 256.
    function _overflows(uint256 word, uint256 biased) private pure returns (bool) {
        unchecked {
            return (((word & EVEN) + (biased & EVEN)) & CARRY) != 0
                || ((((word >> 8) & EVEN) + ((biased >> 8) & EVEN)) & CARRY) != 0;
        }
    }

    /// @dev The slow path, only to name the hour in the revert.
    function _firstFull(Book storage book_, uint256 i, uint256 end, uint256 gpus, uint256 limit)
        private
        view
        returns (bool, uint256, uint256)
    {
        for (; i < end; ++i) {
            uint256 held = at(book_, i);
            if (held + gpus > limit) return (false, i, held);
        }
        return (false, end, 0); // unreachable: the caller saw a lane over the limit
    }
}
