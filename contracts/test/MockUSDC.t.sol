// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Fixtures} from "./utils/Fixtures.sol";
import {MockUSDC} from "../src/MockUSDC.sol";

contract MockUSDCTest is Fixtures {
    address internal spender = makeAddr("spender");

    // ---------------------------------------------------------------- metadata

    function test_decimals_isSix() public view {
        assertEq(usdc.decimals(), 6);
    }

    function test_metadata_nameAndSymbol() public view {
        assertEq(usdc.name(), "Mock USD Coin");
        assertEq(usdc.symbol(), "USDC");
    }

    // ---------------------------------------------------------------- mint

    function test_mint_onAnvilChain() public {
        assertEq(block.chainid, 31337);
        address who = makeAddr("who");
        vm.expectEmit(address(usdc));
        emit IERC20.Transfer(address(0), who, 5 * USDC);
        usdc.mint(who, 5 * USDC);
        assertEq(usdc.balanceOf(who), 5 * USDC);
    }

    function test_mint_onChain1337() public {
        vm.chainId(1337);
        address who = makeAddr("who");
        usdc.mint(who, 7);
        assertEq(usdc.balanceOf(who), 7);
    }

    function test_mint_revertsOffDevelopmentChain() public {
        vm.chainId(1);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.MintDisabled.selector, 1));
        usdc.mint(renter, 1);
    }

    // ---------------------------------------------------------------- permit

    function test_permit_setsAllowanceAndBumpsNonce() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(renterKey, spender, 42 * USDC, deadline);
        vm.expectEmit(address(usdc));
        emit IERC20.Approval(renter, spender, 42 * USDC);
        usdc.permit(renter, spender, 42 * USDC, deadline, v, r, s);
        assertEq(usdc.allowance(renter, spender), 42 * USDC);
        assertEq(usdc.nonces(renter), 1);
    }

    function test_permit_validAtExactDeadline() public {
        uint256 deadline = block.timestamp;
        (uint8 v, bytes32 r, bytes32 s) = _permit(renterKey, spender, 1, deadline);
        usdc.permit(renter, spender, 1, deadline, v, r, s);
        assertEq(usdc.allowance(renter, spender), 1);
    }

    function test_permit_revertsExpired() public {
        uint256 deadline = block.timestamp - 1;
        (uint8 v, bytes32 r, bytes32 s) = _permit(renterKey, spender, 1, deadline);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        usdc.permit(renter, spender, 1, deadline, v, r, s);
    }

    function test_permit_revertsWrongSigner() public {
        uint256 deadline = block.timestamp + 1;
        // The buyer signs a permit that claims to be the renter's.
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, renter, spender, 1, 0, deadline));
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(buyerKey, keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash)));
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, buyer, renter));
        usdc.permit(renter, spender, 1, deadline, v, r, s);
    }

    function test_permit_revertsReplay() public {
        uint256 deadline = block.timestamp + 1;
        (uint8 v, bytes32 r, bytes32 s) = _permit(renterKey, spender, 1, deadline);
        usdc.permit(renter, spender, 1, deadline, v, r, s);
        // Replayed under nonce 1, the same signature recovers to some other address.
        vm.expectPartialRevert(ERC20Permit.ERC2612InvalidSigner.selector);
        usdc.permit(renter, spender, 1, deadline, v, r, s);
    }

    function test_DOMAIN_SEPARATOR_matchesEip712() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Mock USD Coin"),
                keccak256("1"),
                block.chainid,
                address(usdc)
            )
        );
        assertEq(usdc.DOMAIN_SEPARATOR(), expected);
    }
}
