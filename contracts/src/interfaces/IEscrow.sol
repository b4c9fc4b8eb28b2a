// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Stablecoin held for one capacity. `backing` is the capacity's fixed backing per unit times
///         the units minted and not yet paid out; `bond` is the provider's; `premium` is what primary
///         sales brought above the backing, held until the window is settled; once the capacity is
///         cancelled, `penaltyPerUnit` is what each refunded unit also takes from the bond.
struct Funds {
    uint128 backing;
    uint128 bond;
    uint128 penaltyPerUnit;
    uint128 premium;
}

/// @notice One payee of a provider's revenue split; shares are in basis points and sum to 10,000.
struct Payee {
    address account;
    uint16 bps;
}

/// @title IEscrow
/// @notice Holds every stablecoin the protocol owes: each capacity's backing (the same fixed amount
///         behind every unit of the id, paid in on every primary sale whatever its price), providers'
///         bonds, and balances credited to accounts, which they withdraw (pull payments). Backing
///         leaves only per unit: to the provider for delivered units (less the protocol fee), back to
///         the holder for the rest. The settler is the settlement contract GpuHours is wired to, set
///         once there; no owner can move funds.
interface IEscrow {
    error OnlyGpuHours(address caller);
    error OnlyExchange(address caller);
    error OnlySettler(address caller);
    error ZeroAddress();
    /// @notice Asked to move `amount` from a pot of `capacityId` that holds only `available`.
    error InsufficientFunds(uint256 capacityId, uint256 amount, uint256 available);
    /// @notice Delivered units cannot exceed the units settled.
    error DeliveredAboveUnits(uint256 units, uint256 delivered);
    /// @notice Nothing is credited to the caller.
    error NothingToWithdraw(address account);
    /// @notice A split needs at most `maxPayees` payees, no zero address, shares summing to 10,000.
    error InvalidSplit(uint256 payees, uint256 totalBps);
    /// @notice An amount does not fit the escrow's 128-bit accounting.
    error AmountTooLarge(uint256 amount);
    /// @notice The fee is at most 10 %.
    error FeeTooHigh(uint256 bps, uint256 maxBps);

    event BondPosted(uint256 indexed capacityId, address indexed provider, uint256 amount);
    /// @notice A primary sale of `units` paid their backing, `amount`, into the capacity's funds.
    event BackingDeposited(uint256 indexed capacityId, uint256 units, uint256 amount);
    /// @notice A primary sale above the backing: the excess, `amount`, is held until the window settles.
    event PremiumDeposited(uint256 indexed capacityId, uint256 amount);
    /// @notice The window settled (or was cancelled): `paid` of the premium went to the provider's payees
    ///         (`fee` of it to the treasury); `forfeited`, the share of hours not delivered, went to the
    ///         treasury: a provider earns a premium only by delivering.
    event PremiumSettled(
        uint256 indexed capacityId, address indexed provider, uint256 paid, uint256 fee, uint256 forfeited
    );
    /// @notice Capacity cancelled: its `units` sold are refundable, each with `penaltyPerUnit` of the bond.
    event RefundsOpened(uint256 indexed capacityId, uint256 units, uint256 penaltyPerUnit);
    /// @notice The backing of `units` delivered went to the provider: `amount` in all, `fee` of it to
    ///         the treasury.
    event Released(uint256 indexed capacityId, address indexed provider, uint256 units, uint256 amount, uint256 fee);
    /// @notice The backing of `units` not delivered (or cancelled) went back to `holder`.
    event Refunded(uint256 indexed capacityId, address indexed holder, uint256 units, uint256 amount);
    event BondSlashed(uint256 indexed capacityId, address indexed to, uint256 amount);
    event BondReturned(uint256 indexed capacityId, address indexed provider, uint256 amount);
    event Credited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, address indexed to, uint256 amount);
    event RevenueSplitSet(address indexed provider, Payee[] payees);

    // ---------------------------------------------------------------- wiring-restricted

    /// @notice Pulls `amount` from `provider` as the bond of `capacityId`. GpuHours only.
    function postBond(uint256 capacityId, address provider, uint256 amount) external;

    /// @notice Records a primary sale of `units` of `capacityId` whose backing `amount` (`units` × the
    ///         capacity's backing) plus `premium` the exchange already paid in. Exchange only.
    function deposit(uint256 capacityId, uint256 units, uint256 amount, uint256 premium) external;

    /// @notice Capacity cancelled: each of its `unitsSold` refunds its backing plus `penaltyPerUnit`
    ///         (capped so the bond covers them all), the rest of the bond is credited back to
    ///         `provider`, and the premium is forfeited to the treasury. GpuHours only.
    function openRefunds(uint256 capacityId, uint256 unitsSold, address provider, uint256 penaltyPerUnit) external;

    /// @notice Credits `holder` the backing and the penalty share of `units` of a cancelled capacity.
    ///         GpuHours only.
    function refund(uint256 capacityId, address holder, uint256 units) external returns (uint256 amount);

    /// @notice Settles `units` of `capacityId` held by `holder`: the backing of `delivered` of them goes
    ///         to the provider's payees (less the fee, to the treasury), the rest back to `holder`.
    ///         Settler only.
    function settle(uint256 capacityId, address holder, uint256 units, uint256 delivered) external;

    /// @notice Moves `amount` of the bond of `capacityId` to `to`. Settler only.
    function slashBond(uint256 capacityId, address to, uint256 amount) external;

    /// @notice Closes the funds of a settled window: the premium's share of `deliveredHours` of
    ///         `windowHours` to `provider`'s payees (less the fee), the rest of it to the treasury, and
    ///         what is left of the bond back to `provider`. Settler only.
    function settleWindow(uint256 capacityId, address provider, uint256 deliveredHours, uint256 windowHours) external;

    // ---------------------------------------------------------------- accounts

    /// @notice Sends everything credited to the caller to `to`.
    function withdraw(address to) external returns (uint256 amount);

    /// @notice Sets how the caller's released revenue is split; an empty list pays the caller alone.
    function setRevenueSplit(Payee[] calldata payees) external;

    // ---------------------------------------------------------------- views

    function gpuHours() external view returns (address);
    function exchange() external view returns (address);
    /// @notice The one treasury: protocol fees of the escrow and of the exchange go here. Immutable.
    function treasury() external view returns (address);
    /// @notice The protocol fee on released backing and on premiums, in bps. Immutable.
    function feeBps() external view returns (uint16);
    function funds(uint256 capacityId) external view returns (Funds memory);
    function claimable(address account) external view returns (uint256);
    function revenueSplit(address provider) external view returns (Payee[] memory);
}
