// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice A booking's id: capacityId << 24 | start hour index in its window << 8 | GPUs already
///         booked in that hour before it. Unique, since that count only grows.
type BookingId is uint256;

using {capacityId, firstHour} for BookingId global;

/// @notice The id of a booking of `capacityId` starting at hour `first` of its window, where `held`
///         GPUs were booked before it. `first` < 2^16 and `held` < 2^8 by the window and GPU limits.
function makeBookingId(uint256 capacityId_, uint256 first, uint256 held) pure returns (BookingId) {
    return BookingId.wrap((capacityId_ << 24) | (first << 8) | held);
}

/// @notice The capacity a booking belongs to.
function capacityId(BookingId id) pure returns (uint256) {
    return BookingId.unwrap(id) >> 24;
}

/// @notice The booking's start hour, as an index into its capacity's window.
function firstHour(BookingId id) pure returns (uint256) {
    return (BookingId.unwrap(id) >> 8) & 0xffff;
}
