// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {HourBook} from "../../src/libraries/HourBook.sol";

/// @notice Exposes HourBook on one book (a window of the longest length) and reverts a failed
///         booking, as GpuHours does.
contract HourBookHarness {
    using HourBook for HourBook.Book;

    error Full(uint256 fullHour, uint256 held);

    HourBook.Book internal _words;

    constructor() {
        _words.open(90 * 24);
    }

    function book(uint256 first, uint256 count, uint256 gpus, uint256 limit) external {
        (bool ok, uint256 fullHour, uint256 held) = _words.book(first, count, gpus, limit);
        if (!ok) revert Full(fullHour, held);
    }

    function unbook(uint256 first, uint256 count, uint256 gpus) external {
        _words.unbook(first, count, gpus);
    }

    function split(uint256 at_, uint256 count) external view returns (uint256 before, uint256 ahead) {
        return _words.split(at_, count);
    }

    function at(uint256 i) external view returns (uint256) {
        return _words.at(i);
    }
}
