// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IGpuHours, CapacityStatus} from "./IGpuHours.sol";
import {IAttestationOracle} from "./IAttestationOracle.sol";

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

/// @notice What a pool is deployed with; every field becomes an immutable. `minDebt` is the smallest
///         debt a position may carry, in stablecoin units (0: no dust rule).
struct PoolParams {
    IERC20 stablecoin;
    IGpuHours gpuHours;
    IAttestationOracle oracle;
    bytes32 gpuClass;
    uint256 lltv;
    RateModel rates;
    uint256 maturityBuffer;
    uint256 markMaxAge;
    uint256 minDebt;
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
///         Liquidation (Morpho Blue's shape): anyone may repay part of an unhealthy position's debt
///         and seize units of one of its capacities, worth the repaid assets times the incentive,
///         each unit valued exactly as the position is (the formula above at the mark). The
///         incentive is {liquidationIncentive} (LIF = min(1.15, 1 / (1 − 0.3 × (1 − LLTV)))), shrunk
///         to value / debt when that is lower and never below 1. With value V, debt D, repaid r and
///         seized value r·i, health is V / D before and (V − r·i) / (D − r) after, and
///
///             (V − r·i) / (D − r) ≥ V / D  ⇔  D·V − D·r·i ≥ D·V − V·r  ⇔  i ≤ V / D,
///
///         so a liquidation never lowers the health of what remains while the position still covers
///         its debt; below that (V < D) the incentive is 1: a liquidator never pays more than the value
///         it seizes, and the shortfall is bad debt. Rounding is always against the liquidator: the
///         repayment for given units rounds up, the units for a given repayment round down.
///
///         Liquidation values at the last mark whatever its age: a stale mark must not freeze
///         liquidations while the oracle is down, and the value still decays with the usable hours
///         and never exceeds the backing. A missing mark (never set) gives no price to seize at:
///         liquidation and {realiseBadDebt} revert with {StaleMark}.
///
///         Dust: no debt may be left in (0, {minDebt}) by a borrow, a repay or a partial liquidation,
///         so every debt is worth a liquidator's gas. A liquidation that leaves a position with debt
///         but no collateral value (its last valued units seized) writes the debt off at once: no
///         position with debt and nothing to seize can remain.
///
///         Bad debt: a position with debt and a collateral value of 0 (every capacity inside the
///         buffer, cancelled, fully booked or on an unattested node; or no units left) has its debt
///         written off against lenders in the transaction that finds it: the total borrow assets and
///         shares fall, and so does {totalAssets}, with a {BadDebt} event; never left as phantom
///         assets. Its remaining units, worth 0 to the valuation, move to the pool's own position
///         (keyed by the pool's address, see {collateralOf}) so they are never lost: what they
///         yield (a settlement payout, a refund of the backing) becomes the lenders' cash through
///         {settleExpired}. Once written off the position owes nothing, so bad debt is realised
///         exactly once. A position holding units whose capacity has ended or was cancelled is not
///         written off until {settleExpired} has credited what they returned (its debt first):
///         {ExpiryPending} says which; what then remains unpaid with nothing pledged is written off
///         in that same call.
///
///         Expiry: pledged units whose capacity ends or is cancelled are never lost. {settleExpired}
///         (anyone, once Settlement can settle the window, or at once after a cancel) expires or
///         redeems the pool's units of the capacity, records what they returned, and credits each
///         position its share by its units (rounded down; the last position of a capacity gets the
///         remainder): first to its debt, the rest sent to the borrower. Collected and not yet
///         credited, the amount is reserved: never the lenders' cash. Units can be pledged only while
///         their capacity is active and its window has not ended, so a capacity's units are
///         collected once.
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
    /// @notice The position's `debt` would be in (0, `minDebt`): too small to be worth liquidating.
    error DustDebt(address borrower, uint256 debt, uint256 minDebt);
    /// @notice Exactly one of `seizedUnits` and `repaidShares` must be non-zero.
    error InconsistentInput(uint256 seizedUnits, uint256 repaidShares);
    /// @notice `borrower` owes `debt`, at most the `maxDebt` its collateral allows: it may not be liquidated.
    error HealthyPosition(address borrower, uint256 debt, uint256 maxDebt);
    /// @notice The liquidation would burn `repaidShares` borrow shares of `borrower`, who holds `shares`.
    error RepaidSharesExceedDebt(address borrower, uint256 repaidShares, uint256 shares);
    /// @notice The liquidation would seize `seizedUnits` of `capacityId` for `repaidShares`: one is 0
    ///         (the units are worth nothing, or the repayment buys less than one unit).
    error EmptyLiquidation(uint256 capacityId, uint256 seizedUnits, uint256 repaidShares);
    /// @notice `borrower` owes `debt` against a collateral value of `value`: no bad debt to realise.
    error NoBadDebt(address borrower, uint256 debt, uint256 value);
    /// @notice `borrower` holds units of `capacityId`, ended or cancelled: {settleExpired} credits
    ///         what they returned before any of its debt can be written off.
    error ExpiryPending(address borrower, uint256 capacityId);
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
    /// @notice `liquidator` repaid `repaidAssets` (`repaidShares`) of `borrower`'s debt and seized
    ///         `seizedUnits` of `capacityId`; `badDebtAssets` of what remained was written off.
    event Liquidated(
        address indexed liquidator,
        address indexed borrower,
        uint256 indexed capacityId,
        uint256 repaidAssets,
        uint256 repaidShares,
        uint256 seizedUnits,
        uint256 badDebtAssets
    );
    /// @notice `assets` (`shares`) of `borrower`'s debt were written off against lenders.
    event BadDebt(address indexed borrower, uint256 assets, uint256 shares);
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
    ///         The capacity's node must be of the pool's class, the capacity active and its window
    ///         not ended.
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

    // ---------------------------------------------------------------- liquidators

    /// @notice Liquidates `borrower`, unhealthy at the last mark: either seizes `seizedUnits` of
    ///         `capacityId` and repays what they are worth over the incentive (rounded up), or repays
    ///         `repaidShares` and seizes the units their assets times the incentive buy (rounded down);
    ///         exactly one of the two must be non-zero. The units go to the caller first; if `data` is
    ///         non-empty the caller's {ILiquidationCallback-onLiquidate} runs next (a flash
    ///         liquidation: sell the units, then pay); then the repaid assets are pulled from the
    ///         caller. If the position is left with debt and no collateral value, the debt is written
    ///         off ({BadDebt}). Returns the units seized and the assets repaid.
    function liquidate(
        address borrower,
        uint256 capacityId,
        uint256 seizedUnits,
        uint256 repaidShares,
        bytes calldata data
    ) external returns (uint256 seized, uint256 repaidAssets);

    /// @notice Writes off the debt of `borrower`, whose collateral is worth 0 at the last mark, and
    ///         moves its units to the pool's own position. Returns the assets and shares written off.
    function realiseBadDebt(address borrower) external returns (uint256 assets, uint256 shares);

    /// @notice Collects what the pool's units of `capacityId` returned, once (after the window can be
    ///         settled, or after a cancel), and credits the positions of `borrowers` that pledged them;
    ///         a position left with debt and nothing pledged has the rest written off ({BadDebt}).
    ///         Anyone may call it, with any borrowers, any number of times; a borrower with none of
    ///         the capacity's units pledged is skipped.
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
    /// @notice The smallest debt a position may carry, in stablecoin units (0 none).
    function minDebt() external view returns (uint256);
    /// @notice min(1.15e18, 1e18 / (1e18 − 0.3e18 × (1e18 − {lltv}) / 1e18)), WAD, rounded down.
    function liquidationIncentive() external view returns (uint256);

    /// @notice Debt of all borrowers and their borrow shares, interest accrued up to now.
    function totalBorrow() external view returns (uint256 assets, uint256 shares);
    /// @notice The rate now, per second in WAD, and the utilization it follows, WAD.
    function borrowRate() external view returns (uint256 ratePerSecond, uint256 utilization);
    /// @notice What `borrower` owes now, rounded up, and its borrow shares.
    function debtOf(address borrower) external view returns (uint256 assets, uint256 shares);
    /// @notice The capacities `borrower` pledged and the units of each. The pool's own address holds
    ///         the units of positions whose debt was written off.
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
