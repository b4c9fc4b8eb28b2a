// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice What an order does.
/// - PrimarySell: the capacity's provider sells hours that are minted on fill; payment goes to escrow.
/// - Sell: a holder sells hours it owns; payment goes to the holder.
/// - Buy: a bid for hours of a capacity; filled by a holder (transfer) or by the provider (mint).
enum OrderKind {
    PrimarySell,
    Sell,
    Buy
}

/// @notice An EIP-712 signed order. `price` is in stablecoin base units per GPU-hour.
struct Order {
    address maker;
    OrderKind kind;
    uint256 capacityId;
    uint256 amount;
    uint256 price;
    uint256 expiry;
    uint256 salt;
    uint256 counter;
}

/// @notice One fill of a batch.
struct Fill {
    Order order;
    bytes signature;
    uint256 amount;
}

/// @notice An EIP-2612 permit for the stablecoin, signed by the caller, used in the same transaction.
struct Permit {
    uint256 value;
    uint256 deadline;
    uint8 v;
    bytes32 r;
    bytes32 s;
}

/// @notice How much of an order has been filled, and whether its maker cancelled it. One slot.
struct OrderStatus {
    uint128 filled;
    bool cancelled;
}

/// @title IExchange
/// @notice Fills EIP-712 signed orders for GPU-hours against the stablecoin. Partial fills, cancel
///         by hash or by bumping the maker's counter, expiry, ERC-1271 makers, permit in the same
///         transaction, batches, and a protocol fee. The taker pays `amount × price` exactly; the
///         fee is taken from the seller's side and rounds up, so rounding never favours a taker.
///         A primary fill escrows exactly the capacity's fixed backing per unit (the provider pays in
///         any shortfall of a sale below it) and the premium above it, which the provider earns as it
///         delivers; its fee is taken then, so a primary fill reports a fee of 0.
interface IExchange {
    error OrderExpired(bytes32 orderHash, uint256 expiry);
    error CancelledOrder(bytes32 orderHash);
    /// @notice The order was signed under `counter` but its maker's counter is now `current`.
    error StaleCounter(bytes32 orderHash, uint256 counter, uint256 current);
    /// @notice Asked to fill `amount`; only `remaining` is left.
    error InsufficientRemaining(bytes32 orderHash, uint256 amount, uint256 remaining);
    /// @notice A fill of zero units.
    error ZeroAmount(bytes32 orderHash);
    error InvalidSignature(bytes32 orderHash, address maker);
    error NotMaker(bytes32 orderHash, address caller);
    error ZeroAddress();
    /// @notice GpuHours and Escrow were not deployed pointing at this exchange and each other: they
    ///         name `gpuHoursExchange`, `escrowExchange` and `escrowGpuHours`.
    error WiringMismatch(address gpuHoursExchange, address escrowExchange, address escrowGpuHours);
    /// @notice `amount × price` does not fit 128 bits.
    error PriceOverflow(uint256 amount, uint256 price);

    event OrderFilled(
        bytes32 indexed orderHash,
        address indexed maker,
        address indexed taker,
        uint256 capacityId,
        OrderKind kind,
        uint256 amount,
        uint256 price,
        uint256 fee
    );
    event OrderCancelled(bytes32 indexed orderHash, address indexed maker);
    event CounterIncremented(address indexed maker, uint256 counter);

    /// @notice Fills `amount` of `order` for the caller. Returns the fee charged.
    function fill(Order calldata order, bytes calldata signature, uint256 amount) external returns (uint256 fee);

    /// @notice Uses the caller's stablecoin permit, then fills.
    function fillWithPermit(Order calldata order, bytes calldata signature, uint256 amount, Permit calldata permit)
        external
        returns (uint256 fee);

    /// @notice Fills several orders in one transaction; all or nothing.
    function fillBatch(Fill[] calldata fills) external;

    /// @notice Cancels orders made by the caller.
    function cancel(Order[] calldata orders) external;

    /// @notice Invalidates every order the caller signed under its current counter.
    function incrementCounter() external returns (uint256 newCounter);

    function hashOrder(Order calldata order) external view returns (bytes32);
    function status(bytes32 orderHash) external view returns (OrderStatus memory);
    function counter(address maker) external view returns (uint256);
    /// @notice The protocol fee in bps: the escrow's, immutable.
    function feeBps() external view returns (uint16);
    /// @notice Where fees go: the escrow's treasury, immutable.
    function treasury() external view returns (address);
}
