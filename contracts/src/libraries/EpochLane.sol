// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice One node's record of one epoch, 64 bits: bit 63 attested, bits 48-62 uptime in basis
///         points (at most 10,000 < 2^15), bits 32-47 verified GFLOP per joule (saturating), bits
///         0-19 GPU-seconds delivered to bookings (at most 255 × 3,600 = 918,000 < 2^20; bits 20-31
///         are zero). Four lanes pack into a storage word: epoch `e` sits in word `e / 4` at lane `e % 4`.
type EpochLane is uint64;

using EpochLaneLib for EpochLane global;

/// @title EpochLaneLib
/// @notice Packs, reads and places {EpochLane}s, so no contract shifts raw bits.
library EpochLaneLib {
    uint256 internal constant LANES_PER_WORD = 4;
    uint64 private constant ATTESTED = 1 << 63;
    uint64 private constant UPTIME_MASK = 0x7fff;
    uint64 private constant GPU_SECONDS_MASK = 0xfffff;
    uint256 private constant LANE_MASK = 0xffffffffffffffff;

    /// @notice An attested lane; `gflopsPerJoule` saturates at 16 bits and `gpuSeconds` at 20 bits.
    ///         `uptimeBps` must be at most 10,000.
    function attest(uint16 uptimeBps_, uint256 gflopsPerJoule_, uint256 gpuSeconds_) internal pure returns (EpochLane) {
        if (gflopsPerJoule_ > type(uint16).max) gflopsPerJoule_ = type(uint16).max;
        if (gpuSeconds_ > GPU_SECONDS_MASK) gpuSeconds_ = GPU_SECONDS_MASK;
        return
            EpochLane.wrap(
                ATTESTED | (uint64(uptimeBps_) << 48) | (uint64(gflopsPerJoule_) << 32) | uint64(gpuSeconds_)
            );
    }

    function attested(EpochLane lane) internal pure returns (bool) {
        return EpochLane.unwrap(lane) & ATTESTED != 0;
    }

    function uptimeBps(EpochLane lane) internal pure returns (uint16) {
        return uint16((EpochLane.unwrap(lane) >> 48) & UPTIME_MASK);
    }

    function gflopsPerJoule(EpochLane lane) internal pure returns (uint16) {
        return uint16(EpochLane.unwrap(lane) >> 32);
    }

    /// @notice GPU-seconds the node delivered to active bookings in the epoch.
    function gpuSeconds(EpochLane lane) internal pure returns (uint32) {
        return uint32(EpochLane.unwrap(lane) & GPU_SECONDS_MASK);
    }

    /// @notice The storage word that holds `epoch`'s lane.
    function wordOf(uint256 epoch) internal pure returns (uint256) {
        return epoch / LANES_PER_WORD;
    }

    /// @notice Whether `epoch` is the first lane of its word (where a reader loads the next word).
    function opensWord(uint256 epoch) internal pure returns (bool) {
        return epoch % LANES_PER_WORD == 0;
    }

    /// @notice The lane of `epoch` in `word` (the word that {wordOf} names for it).
    function laneOf(uint256 word, uint256 epoch) internal pure returns (EpochLane) {
        return EpochLane.wrap(uint64((word >> _shift(epoch)) & LANE_MASK));
    }

    /// @notice `word` with `lane` written over `epoch`'s lane, which must be empty.
    function place(EpochLane lane, uint256 word, uint256 epoch) internal pure returns (uint256) {
        return word | (uint256(EpochLane.unwrap(lane)) << _shift(epoch));
    }

    function _shift(uint256 epoch) private pure returns (uint256) {
        return (epoch % LANES_PER_WORD) * 64;
    }
}
