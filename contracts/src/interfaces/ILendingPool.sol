// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CapacityStatus} from "./IGpuHours.sol";

/// @notice A utilization-kink interest rate model. Rates are per second, in WAD (1e18 = 100 % a
///         second); `kink` is a utilization in WAD. With u = borrowed / (cash + borrowed):
///         rate(u) = base + slope1·u                          for u ≤ kink,
///         rate(u) = base + slope1·kink + slope2·(u - kink)   above it.
struct RateModel {
    uint64 base;
    uint64 slope1;
    uint64 slope2;
    uint64 kink;
}

/// @title ILendingPool
/// @notice A lending pool for one GPU class: lenders deposit the stablecoin into an ERC-4626 vault;
///         borrowers pledge GPU-hour units (GpuHours ERC-1155 ids) of capacities on nodes of that
///         class and borrow the stablecoin against them. One pool per class, so a class's risk stays
///         in its own pool. Every parameter is fixed at deployment: there is no owner.
///
///         Valuation of a position, summed over its pledged capacities (at most {MAX_CAPACITIES}):
///
///             value(id) = units × usable(id) / circulating(id) × min(mark, backing(id)) × reliabilityBps(node) / 10,000
///
///         rounded down, where usable is {IGpuHours-usableUnits} and circulating {IGpuHours-totalSupply}
///         (units above circulating count as circulating): the hours the node can still deliver are
///         shared by every holder of the id, so two positions pledging units of one capacity never
///         count the same hour twice. Mark is the oracle's mark of
///         the pool's class and reliabilityBps the node's attested reliability (0 for a node never
///         attested). A capacity that is not Active, or whose window ends within {maturityBuffer}
///         hours from now (or has ended), counts for 0: its units are about to expire and could not
///         be sold in time. The mark is capped at the capacity's fixed backing: the backing is what
///         escrow holds behind each unit and what a holder gets back if the provider fails or
///         cancels, whereas a mark above it is a premium only a buyer on the market would pay; so
///         the pool never lends against more than the stablecoin escrowed behind its collateral.
///
///         A position is healthy when debt ≤ value × {lltv} / 1e18 (debt rounded up, the product
///         down). Borrowing and unpledging with debt outstanding need a mark no older than
///         {markMaxAge} seconds after its epoch ended; a stale or missing mark blocks them.
///
///         Interest accrues on every state change (linear over the time since the last one, rounded
///         down) and {totalAssets} includes what accrued up to now, so vault share prices are right
///         between calls. Lenders withdraw at most the pool's cash.
///
///         Pledged units whose capacity ends or is cancelled are never lost: {settleExpired} (anyone,
///         once Settlement can settle the window, or at once after a cancel) expires or redeems the
///         pool's units of the capacity, records what they returned, and credits each position its
///         share by its units (rounded down; the last position of a capacity gets the remainder):
///         first to its debt, the rest sent to the borrower. Collected and not yet credited, the
///         amount is reserved: it is never the lenders' cash. Units can be pledged only while their
///         capacity is active and its window has not ended, so a capacity's units are collected once.
///
///         Liquidation is not in this version: an unhealthy position can only be repaid or topped
///         up. Liquidation, bad-debt accounting and its keeper come next.
interface ILendingPool {
    // ---------------------------------------------------------------- errors

    /// @notice The LLTV must be in (0, 1e18).
    error InvalidLltv(uint256 lltv);
    /// @notice The kink must be in (0, 1e18) and base + slope1 + slope2 at most {MAX_RATE}.
    error InvalidRateModel(uint256 base, uint256 slope1, uint256 slope2, uint256 kink);
    /// @notice The mark max age must be non-zero.
    error InvalidMarkMaxAge(uint256 markMaxAge);
    error ZeroAddress();
    error ZeroAmount();
    /// @notice The capacity's node registered `gpuModel`; this pool lends against `gpuClass` only.
    error WrongGpuClass(uint256 capacityId, bytes32 gpuModel, bytes32 gpuClass);
    /// @notice A position holds at most `max` capacities.
    error TooManyCapacities(address borrower, uint256 max);
    /// @notice `borrower` pledged `pledged` units of `capacityId`, fewer than `units`.
    error InsufficientCollateral(address borrower, uint256 capacityId, uint256 pledged, uint256 units);
    /// @notice The mark of `gpuClass` from `epoch` is missing (epoch 0) or more than `maxAge` old.
    error StaleMark(bytes32 gpuClass, uint64 epoch, uint256 maxAge);
    /// @notice The position would owe `debt`, more than the `maxDebt` its collateral allows.
    error Unhealthy(address borrower, uint256 debt, uint256 maxDebt);
    /// @notice The pool holds `cash`, less than the `assets` asked for.
    error InsufficientCash(uint256 assets, uint256 cash);
    /// @notice `onBehalf` owes `owed`, less than the `assets` offered (pass type(uint256).max to repay all).
    error RepayExceedsDebt(address onBehalf, uint256 assets, uint256 owed);

    /// @notice Units of `capacityId` can be pledged only while it is active and before its window `end`.
    error NotPledgeable(uint256 capacityId, CapacityStatus status, uint256 end);
    /// @notice The pool's units of `capacityId` expired: settle them with {settleExpired}, not unpledge.
    error UnitsExpired(uint256 capacityId);

    // ---------------------------------------------------------------- events

    event Pledged(address indexed borrower, uint256 indexed capacityId, uint256 units);
    event Unpledged(address indexed borrower, uint256 indexed capacityId, uint256 units, address to);
    event Borrowed(address indexed borrower, address indexed receiver, uint256 assets, uint256 shares);
    event Repaid(address indexed payer, address indexed onBehalf, uint256 assets, uint256 shares);
    /// @notice `interest` was added to the debt at `ratePerSecond`, bringing it to `totalBorrowAssets`.
    event InterestAccrued(uint256 interest, uint256 ratePerSecond, uint256 totalBorrowAssets);

    /// @notice The pool's `units` of ended or cancelled `capacityId` returned `amount`, reserved for
    ///         the positions that pledged them.
    event ExpiredCollected(uint256 indexed capacityId, uint256 units, uint256 amount);
    /// @notice `borrower`'s `units` of `capacityId` returned `amount`: `repaid` of it paid its debt
    ///         (burning `shares` borrow shares) and the rest was sent to it (for the pool's own
    ///         position, it became the lenders' cash).
    event ExpiredCredited(
        address indexed borrower,
        uint256 indexed capacityId,
        uint256 units,
        uint256 amount,
        uint256 repaid,
        uint256 shares
    );

    // ---------------------------------------------------------------- borrowers

    /// @notice Pulls `units` of `capacityId` from the caller as collateral of the caller's position.
    ///         The capacity's node must be of the pool's class.
    function pledge(uint256 capacityId, uint256 units) external;

    /// @notice Sends `units` of `capacityId` back to `to`; the position must stay healthy (with debt
    ///         outstanding this needs a fresh mark; without, the check cannot fail and needs none).
    function unpledge(uint256 capacityId, uint256 units, address to) external;

    /// @notice Borrows `assets` against the caller's collateral, sent to `receiver`; returns the
    ///         borrow shares added, rounded up (against the borrower).
    function borrow(uint256 assets, address receiver) external returns (uint256 shares);

    /// @notice Pays `assets` of `onBehalf`'s debt from the caller; returns the borrow shares burnt,
    ///         rounded down (against the payer). Offering more than is owed reverts with the numbers;
    ///         type(uint256).max repays exactly what is owed now.
    function repay(uint256 assets, address onBehalf) external returns (uint256 repaid, uint256 shares);

    /// @notice Collects what the pool's units of `capacityId` returned, once (after the window can be
    ///         settled, or after a cancel), and credits the positions of `borrowers` that pledged them.
    ///         Anyone may call it, with any borrowers, any number of times; a borrower with none of the
    ///         capacity's units pledged is skipped.
    function settleExpired(uint256 capacityId, address[] calldata borrowers) external;

    // ---------------------------------------------------------------- views

    function MAX_CAPACITIES() external view returns (uint256);
    /// @notice The highest rate the model may reach, per second in WAD (1,000 % a year).
    function MAX_RATE() external view returns (uint256);

    function gpuHours() external view returns (address);
    function oracle() external view returns (address);
    function gpuClass() external view returns (bytes32);
    /// @notice Liquidation loan-to-value, WAD.
    function lltv() external view returns (uint256);
    function rateModel() external view returns (RateModel memory);
    /// @notice Hours before a window's end from which its units count for 0.
    function maturityBuffer() external view returns (uint256);
    /// @notice Seconds after its epoch ended that a mark is still fresh.
    function markMaxAge() external view returns (uint256);

    /// @notice Debt of all borrowers and their borrow shares, interest accrued up to now.
    function totalBorrow() external view returns (uint256 assets, uint256 shares);
    /// @notice The rate now, per second in WAD, and the utilization it follows, WAD.
    function borrowRate() external view returns (uint256 ratePerSecond, uint256 utilization);
    /// @notice What `borrower` owes now, rounded up, and its borrow shares.
    function debtOf(address borrower) external view returns (uint256 assets, uint256 shares);
    /// @notice The capacities `borrower` pledged and the units of each.
    function collateralOf(address borrower) external view returns (uint256[] memory ids, uint256[] memory units);
    /// @notice Units of `capacityId` the pool holds, over all positions, until they are collected.
    function heldUnits(uint256 capacityId) external view returns (uint256);
    /// @notice Of an ended or cancelled capacity's collected proceeds, the units not yet credited and
    ///         the amount left for them.
    function expiredProceeds(uint256 capacityId) external view returns (uint256 units, uint256 amount);
    /// @notice Collected proceeds not yet credited to their positions: held, not lent.
    function reserved() external view returns (uint256);
    /// @notice The position's value by the formula above, at the current mark whatever its age.
    function collateralValue(address borrower) external view returns (uint256);
    /// @notice The value of `units` of `capacityId` by the formula above, at `mark`.
    function unitValue(uint256 capacityId, uint256 units, uint256 mark) external view returns (uint256);
}
