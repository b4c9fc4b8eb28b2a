// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A minimal smart-contract wallet: signatures by its owner key are valid for it (ERC-1271),
///         it holds ERC-1155 hours and lets its owner approve spenders of its stablecoin.
contract ERC1271Wallet is IERC1271, ERC1155Holder {
    address public immutable signer;

    constructor(address signer_) {
        signer = signer_;
    }

    function approve(IERC20 token, address spender, uint256 amount) external {
        require(msg.sender == signer, "not signer");
        token.approve(spender, amount);
    }

    function isValidSignature(bytes32 hash, bytes memory signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }
}
