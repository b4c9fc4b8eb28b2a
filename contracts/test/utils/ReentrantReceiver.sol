// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

import {IExchange, Order} from "../../src/interfaces/IExchange.sol";

/// @notice A taker whose ERC-1155 hook tries to fill the same order again, once per amount in
///         `reentryAmounts`, catching each revert so the outer fill can complete.
contract ReentrantReceiver is ERC1155Holder {
    IExchange public immutable exchange;

    Order internal _order;
    bytes internal _signature;
    uint256[] internal _reentryAmounts;
    bool internal _entered;

    /// @notice What each re-entry returned: empty for success, the revert data otherwise.
    bytes[] public results;
    bool[] public succeeded;

    constructor(IExchange exchange_, IERC20 stablecoin) {
        exchange = exchange_;
        stablecoin.approve(address(exchange_), type(uint256).max);
    }

    function attack(Order calldata order, bytes calldata signature, uint256 amount, uint256[] calldata reentryAmounts)
        external
    {
        _order = order;
        _signature = signature;
        _reentryAmounts = reentryAmounts;
        exchange.fill(order, signature, amount);
    }

    function onERC1155Received(address, address, uint256, uint256, bytes memory) public override returns (bytes4) {
        if (!_entered) {
            _entered = true;
            for (uint256 i; i < _reentryAmounts.length; ++i) {
                try exchange.fill(_order, _signature, _reentryAmounts[i]) {
                    succeeded.push(true);
                    results.push("");
                } catch (bytes memory reason) {
                    succeeded.push(false);
                    results.push(reason);
                }
            }
        }
        return this.onERC1155Received.selector;
    }

    function attempts() external view returns (uint256) {
        return results.length;
    }
}
