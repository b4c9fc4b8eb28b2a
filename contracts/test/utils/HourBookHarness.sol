// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {HourBook} from "../../src/libraries/HourBook.sol";

/// @notice Exposes HourBook on one mapping of words and reverts a failed booking, as GpuHours does.
contract HourBookHarness {
    using HourBook for mapping(uint256 => uint256);

    error Full(uint256 fullHour, uint256 held);

    mapping(uint256 word => uint256 counts) internal _words;

    function book(uint256 first, uint256 count, uint256 gpus, uint256 limit) external {
        (bool ok, uint256 fullHour, uint256 held) = _words.book(first, count, gpus, limit);
        if (!ok) revert Full(fullHour, held);
    }

    function at(uint256 i) external view returns (uint256) {
        return _words.at(i);
    }
}
