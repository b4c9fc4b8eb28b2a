// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title MockUSDC
/// @notice Local stablecoin for development chains: 6 decimals, EIP-2612 permit and an open faucet
///         that only works on chains listed as development chains (Anvil's 31337 and 1337).
contract MockUSDC is ERC20, ERC20Permit {
    /// @notice Minting was attempted on a chain that is not a development chain.
    error MintDisabled(uint256 chainId);

    constructor() ERC20("Mock USD Coin", "USDC") ERC20Permit("Mock USD Coin") {}

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` to `to`. Reverts with {MintDisabled} outside development chains.
    function mint(address to, uint256 amount) external {
        if (block.chainid != 31337 && block.chainid != 1337) revert MintDisabled(block.chainid);
        _mint(to, amount);
    }
}
