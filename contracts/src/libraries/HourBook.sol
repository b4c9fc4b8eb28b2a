// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title HourBook
/// @notice Per-hour booked-GPU counters packed 32 to a storage word (one byte per hour), so a day of
///         bookings touches one or two slots. Hour `i` of a window lives in word `i / 32`, byte `i % 32`.
/// @dev Words are updated lane-parallel: even and odd bytes are spread into 16-bit containers, so
///      adding a bias to every lane shows, in bit 8 of its container, whether that lane would pass
///      the limit; no lane can carry into its neighbour.
library HourBook {
    uint256 private constant ONES = 0x0101010101010101010101010101010101010101010101010101010101010101;
    uint256 private constant EVEN = 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
    uint256 private constant LANES16 = 0x0001000100010001000100010001000100010001000100010001000100010001;
    uint256 private constant CARRY = 0x0100010001000100010001000100010001000100010001000100010001000100;

    /// @notice Adds `gpus` to hours [first, first + count) if every one of them stays at or below
    ///         `limit` (both at most 255). On success returns (true, 0, 0); otherwise it returns
    ///         (false, the first hour that would overflow, what that hour already holds) and the
    ///         caller must revert, since earlier words may already have been written.
    function book(
        mapping(uint256 word => uint256 counts) storage words,
        uint256 first,
        uint256 count,
        uint256 gpus,
        uint256 limit
    ) internal returns (bool ok, uint256 fullHour, uint256 held) {
        if (gpus > limit) return (false, first, at(words, first));
        unchecked {
            uint256 end = first + count;
            uint256 bias = 255 - (limit - gpus); // a lane holding more than limit - gpus reaches 256
            uint256 i = first;
            while (i < end) {
                uint256 w = i >> 5;
                uint256 hi = end - (w << 5);
                uint256 lanes = _lanes(i & 31, hi > 32 ? 32 : hi);
                uint256 word = words[w];
                if (_overflows(word, lanes * bias)) return _firstFull(words, i, end, gpus, limit);
                words[w] = word + lanes * gpus;
                i = (w + 1) << 5;
            }
            return (true, 0, 0);
        }
    }

    /// @notice Takes `gpus` off hours [first, first + count), each of which holds at least that many (a
    ///         booking's own hours), so no lane borrows from its neighbour.
    function unbook(mapping(uint256 word => uint256 counts) storage words, uint256 first, uint256 count, uint256 gpus)
        internal
    {
        unchecked {
            uint256 end = first + count;
            uint256 i = first;
            while (i < end) {
                uint256 w = i >> 5;
                uint256 hi = end - (w << 5);
                words[w] -= _lanes(i & 31, hi > 32 ? 32 : hi) * gpus;
                i = (w + 1) << 5;
            }
        }
    }

    /// @notice GPU-hours booked over hours [from, to): one word read per 32 hours.
    function sum(mapping(uint256 word => uint256 counts) storage words, uint256 from, uint256 to)
        internal
        view
        returns (uint256 total)
    {
        unchecked {
            uint256 i = from;
            while (i < to) {
                uint256 w = i >> 5;
                uint256 hi = to - (w << 5);
                uint256 word = words[w] & (_lanes(i & 31, hi > 32 ? 32 : hi) * 0xff);
                // Bytes into sixteen 16-bit lanes (each at most 510), then all lanes into the top one.
                total += (((word & EVEN) + ((word >> 8) & EVEN)) * LANES16) >> 240;
                i = (w + 1) << 5;
            }
        }
    }

    /// @notice GPUs booked in each of hours [first, first + count): one word read per 32 hours.
    function range(mapping(uint256 word => uint256 counts) storage words, uint256 first, uint256 count)
        internal
        view
        returns (uint8[] memory booked)
    {
        booked = new uint8[](count);
        uint256 word;
        for (uint256 k; k < count; ++k) {
            uint256 i = first + k;
            if (k == 0 || i & 31 == 0) word = words[i >> 5];
            booked[k] = uint8(word >> ((i & 31) << 3));
        }
    }

    /// @notice GPUs booked in hour `i`.
    function at(mapping(uint256 word => uint256 counts) storage words, uint256 i) internal view returns (uint256) {
        return (words[i >> 5] >> ((i & 31) << 3)) & 0xff;
    }

    /// @dev 0x01 in every byte lane in [lo, hi), 0 elsewhere.
    function _lanes(uint256 lo, uint256 hi) private pure returns (uint256) {
        unchecked {
            uint256 upTo = hi == 32 ? ONES : ONES & ((uint256(1) << (hi << 3)) - 1);
            return upTo & ~((uint256(1) << (lo << 3)) - 1);
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
    function _firstFull(
        mapping(uint256 word => uint256 counts) storage words,
        uint256 i,
        uint256 end,
        uint256 gpus,
        uint256 limit
    ) private view returns (bool, uint256, uint256) {
        for (; i < end; ++i) {
            uint256 held = at(words, i);
            if (held + gpus > limit) return (false, i, held);
        }
        return (false, end, 0); // unreachable: the caller saw a lane over the limit
    }
}
