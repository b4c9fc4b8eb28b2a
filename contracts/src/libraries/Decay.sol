// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Decay
/// @notice Exponential decay with a half-life of {HALF_LIFE} epochs: `decayDown(x, k)` is
///         x * 2^(-k / HALF_LIFE), in fixed point with {WAD} = 1, always rounded down.
/// @dev 2^(-k/168) = 2^(-floor(k/168)) * prod over the set bits b of (k mod 168) of 2^(-2^b/168);
///      each factor is a constant floored to 18 decimals, and each product is floored, so the
///      result never exceeds the exact value.
library Decay {
    uint256 internal constant WAD = 1e18;
    /// @notice One week of hourly epochs.
    uint256 internal constant HALF_LIFE = 168;
    /// @notice 1 - 2^(-1/168), as WAD - decayDown(WAD, 1) (so rounded up by under 1e-18).
    uint256 internal constant ONE_MINUS_STEP = WAD - F1;

    uint256 private constant F1 = 995_882_623_658_297_423; // 2^(-1/168)
    uint256 private constant F2 = 991_782_200_104_534_058; // 2^(-2/168)
    uint256 private constant F4 = 983_631_932_444_190_036;
    uint256 private constant F8 = 967_531_778_523_891_631;
    uint256 private constant F16 = 936_117_742_453_604_888;
    uint256 private constant F32 = 876_316_427_736_433_731;
    uint256 private constant F64 = 767_930_481_520_744_282;
    uint256 private constant F128 = 589_717_224_448_682_175; // 2^(-128/168)

    /// @notice x * 2^(-k / 168), rounded down. `x` must be below 2^192 (so no product overflows).
    function decayDown(uint256 x, uint256 k) internal pure returns (uint256) {
        unchecked {
            if (k == 1) return x * F1 / WAD; // the steady hour, one multiplication
            uint256 halvings = k / HALF_LIFE;
            if (halvings >= 192) return 0;
            x >>= halvings;
            uint256 r = k % HALF_LIFE;
            if (r & 1 != 0) x = x * F1 / WAD;
            if (r & 2 != 0) x = x * F2 / WAD;
            if (r & 4 != 0) x = x * F4 / WAD;
            if (r & 8 != 0) x = x * F8 / WAD;
            if (r & 16 != 0) x = x * F16 / WAD;
            if (r & 32 != 0) x = x * F32 / WAD;
            if (r & 64 != 0) x = x * F64 / WAD;
            if (r & 128 != 0) x = x * F128 / WAD;
            return x;
        }
    }
}
