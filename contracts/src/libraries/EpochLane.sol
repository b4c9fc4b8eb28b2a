// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice One node's record of one epoch, 32 bits: bit 31 attested, bits 16-30 uptime in basis
///         points (at most 10,000 < 2^15), bits 0-15 verified GFLOP per joule (saturating).
///         Eight lanes pack into a storage word: epoch `e` sits in word `e / 8` at lane `e % 8`.
type EpochLane is uint32;

using EpochLaneLib for EpochLane global;

/// @title EpochLaneLib
/// @notice Packs, reads and places {EpochLane}s, so no contract shifts raw bits.
library EpochLaneLib {
    uint256 internal constant LANES_PER_WORD = 8;
    uint32 private constant ATTESTED = 1 << 31;
    uint32 private constant UPTIME_MASK = 0x7fff;
    uint256 private constant LANE_MASK = 0xffffffff;

    /// @notice An attested lane; `gflopsPerJoule` saturates at 16 bits. `uptimeBps` must be at most 10,000.
    function attest(uint16 uptimeBps_, uint256 gflopsPerJoule_) internal pure returns (EpochLane) {
        if (gflopsPerJoule_ > type(uint16).max) gflopsPerJoule_ = type(uint16).max;
        return EpochLane.wrap(ATTESTED | (uint32(uptimeBps_) << 16) | uint32(gflopsPerJoule_));
    }

    function attested(EpochLane lane) internal pure returns (bool) {
        return EpochLane.unwrap(lane) & ATTESTED != 0;
    }

    function uptimeBps(EpochLane lane) internal pure returns (uint16) {
        return uint16((EpochLane.unwrap(lane) >> 16) & UPTIME_MASK);
    }

    function gflopsPerJoule(EpochLane lane) internal pure returns (uint16) {
        return uint16(EpochLane.unwrap(lane));
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
        return EpochLane.wrap(uint32((word >> _shift(epoch)) & LANE_MASK));
    }

    /// @notice `word` with `lane` written over `epoch`'s lane, which must be empty.
    function place(EpochLane lane, uint256 word, uint256 epoch) internal pure returns (uint256) {
        return word | (uint256(EpochLane.unwrap(lane)) << _shift(epoch));
    }

    function _shift(uint256 epoch) private pure returns (uint256) {
        return (epoch % LANES_PER_WORD) * 32;
    }
}
