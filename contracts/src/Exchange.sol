// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IExchange, Order, OrderKind, OrderStatus, Fill, Permit} from "./interfaces/IExchange.sol";
import {IGpuHours} from "./interfaces/IGpuHours.sol";
import {IEscrow} from "./interfaces/IEscrow.sol";

/// @title Exchange
/// @notice Fills EIP-712 signed orders for GPU-hours. Primary sales mint and pay each unit's fixed
///         backing into escrow (the provider pays in what a sale below it lacks; what a sale above
///         it brings is held there too, and paid for delivery); secondary sales and bids move tokens
///         between holders and pay the seller directly. No owner: fee and treasury are the escrow's,
///         immutable.
/// @dev No reentrancy lock: every fill checks and records the order before any external call, and
///      the only untrusted code it calls is an ERC-1155 receiver, which can do no more than start
///      other, fully checked fills.
contract Exchange is IExchange, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address maker,uint8 kind,uint256 capacityId,uint256 amount,uint256 price,uint256 expiry,uint256 salt,uint256 counter)"
    );
    uint256 private constant BPS = 10_000;

    // ---------------------------------------------------------------- storage

    IERC20 public immutable stablecoin;
    IGpuHours public immutable gpuHours;
    IEscrow public immutable escrow;

    /// @inheritdoc IExchange
    address public immutable treasury;
    /// @inheritdoc IExchange
    uint16 public immutable feeBps;

    mapping(bytes32 orderHash => OrderStatus) private _status;
    /// @inheritdoc IExchange
    mapping(address maker => uint256) public counter;

    constructor(IERC20 stablecoin_, IGpuHours gpuHours_, IEscrow escrow_) EIP712("gpuhours Exchange", "1") {
        if (address(stablecoin_) == address(0) || address(gpuHours_) == address(0) || address(escrow_) == address(0)) {
            revert ZeroAddress();
        }
        (address gpuHoursExchange, address escrowExchange, address escrowGpuHours) =
            (gpuHours_.exchange(), escrow_.exchange(), escrow_.gpuHours());
        if (
            gpuHoursExchange != address(this) || escrowExchange != address(this) || escrowGpuHours != address(gpuHours_)
        ) {
            revert WiringMismatch(gpuHoursExchange, escrowExchange, escrowGpuHours);
        }
        stablecoin = stablecoin_;
        gpuHours = gpuHours_;
        escrow = escrow_;
        treasury = escrow_.treasury();
        feeBps = escrow_.feeBps();
    }

    // ---------------------------------------------------------------- fills

    /// @inheritdoc IExchange
    function fill(Order calldata order, bytes calldata signature, uint256 amount) external returns (uint256 fee) {
        return _fill(order, signature, amount);
    }

    /// @inheritdoc IExchange
    function fillWithPermit(Order calldata order, bytes calldata signature, uint256 amount, Permit calldata permit)
        external
        returns (uint256 fee)
    {
        // A permit already used (say, front-run from the mempool) must not block the fill: the fill
        // itself fails cleanly if the allowance is not there.
        try IERC20Permit(address(stablecoin))
            .permit(msg.sender, address(this), permit.value, permit.deadline, permit.v, permit.r, permit.s) {}
            catch {}
        return _fill(order, signature, amount);
    }

    /// @inheritdoc IExchange
    function fillBatch(Fill[] calldata fills) external {
        for (uint256 i; i < fills.length; ++i) {
            _fill(fills[i].order, fills[i].signature, fills[i].amount);
        }
    }

    // ---------------------------------------------------------------- cancels

    /// @inheritdoc IExchange
    function cancel(Order[] calldata orders) external {
        for (uint256 i; i < orders.length; ++i) {
            bytes32 orderHash = _hashOrder(orders[i]);
            if (orders[i].maker != msg.sender) revert NotMaker(orderHash, msg.sender);
            _status[orderHash].cancelled = true;
            emit OrderCancelled(orderHash, msg.sender);
        }
    }

    /// @inheritdoc IExchange
    function incrementCounter() external returns (uint256 newCounter) {
        newCounter = ++counter[msg.sender];
        emit CounterIncremented(msg.sender, newCounter);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IExchange
    function hashOrder(Order calldata order) external view returns (bytes32) {
        return _hashOrder(order);
    }

    /// @inheritdoc IExchange
    function status(bytes32 orderHash) external view returns (OrderStatus memory) {
        return _status[orderHash];
    }

    // ---------------------------------------------------------------- internal

    /// @dev Records the fill and emits it, then moves the hours and the money.
    function _fill(Order calldata order, bytes calldata signature, uint256 amount) private returns (uint256 fee) {
        bytes32 orderHash = _consume(order, signature, amount);
        uint256 total = _total(order.price, amount);
        (address seller, address buyer, bool primary) = _parties(order);
        fee = primary ? 0 : _fee(total);
        _emitFilled(orderHash, order, amount, fee);
        if (primary) _sellPrimary(order.capacityId, seller, buyer, amount, total);
        else _sellSecondary(order.capacityId, seller, buyer, amount, total, fee);
    }

    /// @dev Checks that `amount` of the order may be filled now and records it as filled.
    function _consume(Order calldata order, bytes calldata signature, uint256 amount)
        private
        returns (bytes32 orderHash)
    {
        orderHash = _hashOrder(order);
        address maker = order.maker;
        if (block.timestamp > order.expiry) revert OrderExpired(orderHash, order.expiry);
        uint256 current = counter[maker];
        if (order.counter != current) revert StaleCounter(orderHash, order.counter, current);
        OrderStatus memory s = _status[orderHash];
        if (s.cancelled) revert CancelledOrder(orderHash);
        if (amount == 0) revert ZeroAmount(orderHash);
        uint256 remaining = order.amount - s.filled;
        if (amount > remaining) revert InsufficientRemaining(orderHash, amount, remaining);
        // A signature is checked on the first fill; later fills of the same hash were authorised by it.
        if (s.filled == 0) _verifySignature(maker, orderHash, signature);
        // order.amount - s.filled did not underflow, so the sum is at most order.amount; an order
        // for more than 2^128 units cannot be filled past what uint128 holds.
        _status[orderHash] = OrderStatus({filled: SafeCast.toUint128(s.filled + amount), cancelled: false});
    }

    function _emitFilled(bytes32 orderHash, Order calldata order, uint256 amount, uint256 fee) private {
        emit OrderFilled(orderHash, order.maker, msg.sender, order.capacityId, order.kind, amount, order.price, fee);
    }

    /// @dev What `amount` units at `price` each cost: below 2^128, or the fill reverts.
    function _total(uint256 price, uint256 amount) private pure returns (uint256) {
        if (price != 0 && amount > type(uint128).max / price) revert PriceOverflow(amount, price);
        return amount * price;
    }

    /// @dev Who sells and who buys in a fill, and whether the hours are minted (a primary sale: a
    ///      provider's sell, or a bid its provider fills) or move between holders.
    function _parties(Order calldata order) private view returns (address seller, address buyer, bool primary) {
        if (order.kind == OrderKind.PrimarySell) return (order.maker, msg.sender, true);
        if (order.kind == OrderKind.Sell) return (order.maker, msg.sender, false);
        return (msg.sender, order.maker, msg.sender == gpuHours.providerOf(order.capacityId));
    }

    /// @dev Mints to `buyer`, who pays `total`; escrow receives exactly the units' fixed backing, and
    ///      holds any premium above it until the window settles. No fee is taken here: it is taken
    ///      when the provider is paid for delivery.
    function _sellPrimary(uint256 capacityId, address provider, address buyer, uint256 amount, uint256 total) private {
        uint256 backing = amount * gpuHours.mint(buyer, capacityId, amount, provider);
        uint256 premium;
        if (total >= backing) {
            premium = total - backing;
        } else {
            // Sold below its backing: the provider pays in the difference, so every unit of the id
            // stays backed alike and a sale at any price takes nothing from other holders.
            stablecoin.safeTransferFrom(provider, address(escrow), backing - total);
        }
        if (total != 0) stablecoin.safeTransferFrom(buyer, address(escrow), total);
        escrow.deposit(capacityId, amount, backing, premium);
    }

    function _sellSecondary(
        uint256 capacityId,
        address seller,
        address buyer,
        uint256 amount,
        uint256 total,
        uint256 fee
    ) private {
        gpuHours.exchangeTransfer(seller, buyer, capacityId, amount);
        stablecoin.safeTransferFrom(buyer, seller, total - fee);
        if (fee != 0) stablecoin.safeTransferFrom(buyer, treasury, fee);
    }

    /// @dev The protocol fee on `amount`, rounded up against the seller (amount < 2^128: no overflow).
    function _fee(uint256 amount) private view returns (uint256) {
        return Math.mulDiv(amount, feeBps, BPS, Math.Rounding.Ceil);
    }

    /// @dev The struct hash of the order's eight static words as they stand in calldata. Every field
    ///      is also read through Solidity's checked accessors during a fill, so an order with dirty
    ///      padding or an out-of-range kind reverts rather than hashing to something unsigned.
    function _hashOrder(Order calldata order) private view returns (bytes32) {
        bytes32 typeHash = ORDER_TYPEHASH;
        bytes32 structHash;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            calldatacopy(add(m, 0x20), order, 0x100)
            structHash := keccak256(m, 0x120)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @dev ECDSA first, read straight from calldata: an EOA maker costs no code lookup and no copy.
    ///      Contracts answer through ERC-1271.
    function _verifySignature(address maker, bytes32 orderHash, bytes calldata signature) private view {
        if (signature.length == 65) {
            (address recovered, ECDSA.RecoverError err,) =
                ECDSA.tryRecover(orderHash, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64]));
            if (err == ECDSA.RecoverError.NoError && recovered == maker) return;
        }
        if (maker.code.length != 0 && SignatureChecker.isValidERC1271SignatureNow(maker, orderHash, signature)) return;
        revert InvalidSignature(orderHash, maker);
    }
}
