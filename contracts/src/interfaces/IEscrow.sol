// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Stablecoin held for one capacity: primary-sale proceeds (net of fee), the protocol fee
///         kept until delivery is settled, the provider's bond, and the units those funds answer for
///         once the capacity is cancelled.
struct Funds {
    uint128 sales;
    uint128 fees;
    uint128 bond;
    uint64 refundableUnits;
}

/// @notice One payee of a provider's revenue split; shares are in basis points and sum to 10,000.
struct Payee {
    address account;
    uint16 bps;
}

/// @title IEscrow
/// @notice Holds every stablecoin the protocol owes: sale proceeds per capacity until delivery is
///         settled, providers' bonds, and balances credited to accounts, which they withdraw
///         (pull payments). Releasing against attested delivery and slashing are done by the
///         `settler`, a role the attestation-based settlement contract takes.
interface IEscrow {
    error OnlyGpuHours(address caller);
    error OnlyExchange(address caller);
    error OnlySettler(address caller);
    error ZeroAddress();
    /// @notice Asked to move `amount` from a pot of `capacityId` that holds only `available`.
    error InsufficientFunds(uint256 capacityId, uint256 amount, uint256 available);
    /// @notice A refund for `units` was asked of `capacityId`, which answers for only `refundableUnits`.
    error NotRefundable(uint256 capacityId, uint256 units, uint256 refundableUnits);
    /// @notice Nothing is credited to the caller.
    error NothingToWithdraw(address account);
    /// @notice A split needs 1 to `maxPayees` payees, no zero address, shares summing to 10,000.
    error InvalidSplit();
    /// @notice An amount does not fit the escrow's 128-bit accounting.
    error AmountTooLarge(uint256 amount);

    event BondPosted(uint256 indexed capacityId, address indexed provider, uint256 amount);
    event SaleCredited(uint256 indexed capacityId, uint256 net, uint256 fee);
    event CapacityRefundOpened(uint256 indexed capacityId, uint256 refundableUnits, uint256 funds);
    event Refunded(uint256 indexed capacityId, address indexed holder, uint256 units, uint256 amount);
    event Released(uint256 indexed capacityId, address indexed provider, uint256 amount, uint256 fee);
    event BondSlashed(uint256 indexed capacityId, address indexed to, uint256 amount);
    event BondReturned(uint256 indexed capacityId, address indexed provider, uint256 amount);
    event Credited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, address indexed to, uint256 amount);
    event RevenueSplitSet(address indexed provider, Payee[] payees);
    event TreasurySet(address treasury);
    event SettlerSet(address settler);

    // ---------------------------------------------------------------- wiring-restricted

    /// @notice Pulls `amount` from `provider` as the bond of `capacityId`. GpuHours only.
    function postBond(uint256 capacityId, address provider, uint256 amount) external;

    /// @notice Records a primary sale of `capacityId` whose `net + fee` the exchange already paid in.
    function creditSale(uint256 capacityId, uint256 net, uint256 fee) external;

    /// @notice Capacity cancelled: its sales and fees now answer for `unitsSold` units pro rata and
    ///         the bond is credited back to `provider`. GpuHours only.
    function openRefunds(uint256 capacityId, uint256 unitsSold, address provider) external;

    /// @notice Credits `holder` its pro-rata share for `units` of a cancelled capacity. GpuHours only.
    function refund(uint256 capacityId, address holder, uint256 units) external returns (uint256 amount);

    /// @notice Releases `amount` of sales to the provider's payees and the matching fee to the
    ///         treasury. Settler only.
    function release(uint256 capacityId, address provider, uint256 amount) external;

    /// @notice Returns `amount` of sales and the matching fee to `holder`. Settler only.
    function refundUndelivered(uint256 capacityId, address holder, uint256 amount) external;

    /// @notice Moves `amount` of the bond of `capacityId` to `to`. Settler only.
    function slashBond(uint256 capacityId, address to, uint256 amount) external;

    /// @notice Returns what is left of the bond of `capacityId` to `provider`. Settler only.
    function returnBond(uint256 capacityId, address provider) external;

    // ---------------------------------------------------------------- accounts

    /// @notice Sends everything credited to the caller to `to`.
    function withdraw(address to) external returns (uint256 amount);

    /// @notice Sets how the caller's released revenue is split; an empty list pays the caller alone.
    function setRevenueSplit(Payee[] calldata payees) external;

    // ---------------------------------------------------------------- views

    function gpuHours() external view returns (address);
    function exchange() external view returns (address);
    function funds(uint256 capacityId) external view returns (Funds memory);
    function claimable(address account) external view returns (uint256);
    function revenueSplit(address provider) external view returns (Payee[] memory);
}
