// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {LendingCore, Proceeds} from "./LendingCore.sol";
import {ILendingPool, PoolParams} from "./interfaces/ILendingPool.sol";
import {Capacity, CapacityStatus} from "./interfaces/IGpuHours.sol";
import {IEscrow} from "./interfaces/IEscrow.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {BorrowShares} from "./libraries/BorrowShares.sol";
import {ILiquidationCallback} from "./interfaces/ILiquidationCallback.sol";

/// @title LendingPool
/// @notice An ERC-4626 stablecoin vault lending against GPU-hour units of one GPU class, with
///         liquidation, flash liquidation, bad-debt accounting and the expiry of pledged units on top
///         of {LendingCore}. See {ILendingPool}.
contract LendingPool is LendingCore {
    using SafeERC20 for IERC20;
    using Math for uint256;
    using BorrowShares for uint256;

    uint256 private constant MAX_LIQUIDATION_INCENTIVE = 1.15e18;
    uint256 private constant LIQUIDATION_CURSOR = 0.3e18;

    /// @inheritdoc ILendingPool
    uint256 public immutable liquidationIncentive;

    constructor(PoolParams memory p, string memory name_, string memory symbol_) LendingCore(p, name_, symbol_) {
        uint256 cursor = WAD.mulDiv(WAD, WAD - LIQUIDATION_CURSOR.mulDiv(WAD - p.lltv, WAD));
        liquidationIncentive = Math.min(MAX_LIQUIDATION_INCENTIVE, cursor);
    }

    // ---------------------------------------------------------------- liquidators

    /// @inheritdoc ILendingPool
    function liquidate(
        address borrower,
        uint256 capacityId,
        uint256 seizedUnits,
        uint256 repaidShares,
        bytes calldata data
    ) external nonReentrant returns (uint256, uint256) {
        if ((seizedUnits == 0) == (repaidShares == 0)) {
            revert InconsistentInput(seizedUnits, repaidShares);
        }
        Seizure memory z = _quote(borrower, capacityId, seizedUnits, repaidShares);
        uint256 badDebt = _settle(borrower, capacityId, z);
        emit Liquidated(msg.sender, borrower, capacityId, z.assets, z.shares, z.units, badDebt);
        _incoming = z.assets;
        IERC1155(address(_gpuHours)).safeTransferFrom(address(this), msg.sender, capacityId, z.units, "");
        if (data.length != 0) ILiquidationCallback(msg.sender).onLiquidate(z.assets, data);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), z.assets);
        _incoming = 0;
        return (z.units, z.assets);
    }

    /// @inheritdoc ILendingPool
    function realiseBadDebt(address borrower) external nonReentrant returns (uint256 assets, uint256 shares) {
        uint256 mark = _lastMark();
        (uint256 totalAssets_, uint256 totalShares) = _accrue();
        shares = _borrowShares[borrower];
        (uint256 value,,) = _valueWith(borrower, mark, 0);
        if (shares == 0 || value != 0) {
            revert NoBadDebt(borrower, shares.toAssetsUp(totalAssets_, totalShares), value);
        }
        (bool pending, uint256 capacityId) = _expiryPending(borrower);
        if (pending) revert ExpiryPending(borrower, capacityId);
        assets = _writeOff(borrower, shares, totalAssets_, totalShares);
    }

    // ---------------------------------------------------------------- expiry

    /// @inheritdoc ILendingPool
    function settleExpired(uint256 capacityId, address[] calldata borrowers) external nonReentrant {
        _accrue();
        Proceeds memory p = _collect(capacityId);
        for (uint256 i; i < borrowers.length; ++i) {
            p = _credit(borrowers[i], capacityId, p);
        }
        _proceeds[capacityId] = p;
    }

    /// @inheritdoc ILendingPool
    function heldUnits(uint256 capacityId) external view returns (uint256) {
        return _held[capacityId];
    }

    /// @inheritdoc ILendingPool
    function expiredProceeds(uint256 capacityId) external view returns (uint256 units, uint256 amount) {
        Proceeds memory p = _proceeds[capacityId];
        return (p.units, p.amount);
    }

    /// @inheritdoc ILendingPool
    function reserved() external view returns (uint256) {
        return _reserved;
    }

    // ---------------------------------------------------------------- internal

    /// @dev What a liquidation moves (units seized, borrow shares burnt, assets repaid) and the value
    ///      the position keeps after it, for the bad-debt rule.
    struct Seizure {
        uint256 units;
        uint256 shares;
        uint256 assets;
        uint256 valueLeft;
    }

    /// @dev Checks that `borrower` is unhealthy at the last mark and derives the side of the
    ///      liquidation not given, rounding against the liquidator. Accrues the debt.
    function _quote(address borrower, uint256 capacityId, uint256 seizedUnits, uint256 repaidShares)
        private
        returns (Seizure memory z)
    {
        uint256 mark = _lastMark();
        (uint256 totalAssets_, uint256 totalShares) = _accrue();
        (uint256 value, uint256 num, uint256 den) = _valueWith(borrower, mark, capacityId);
        uint256 incentive = _incentive(borrower, value, totalAssets_, totalShares);
        if (seizedUnits != 0) {
            // What the units are worth (rounded up) over the incentive (up), in shares (up).
            uint256 owed = num == 0 ? 0 : seizedUnits.mulDiv(num, den, Math.Rounding.Ceil);
            owed = owed.mulDiv(WAD, incentive, Math.Rounding.Ceil);
            (z.units, z.shares) = (seizedUnits, owed.toSharesUp(totalAssets_, totalShares));
        } else {
            // What the shares are worth (rounded down) times the incentive (down), in units (down).
            uint256 worth = repaidShares.toAssetsDown(totalAssets_, totalShares);
            z.units = num == 0 ? 0 : worth.mulDiv(incentive, WAD).mulDiv(den, num);
            z.shares = repaidShares;
        }
        uint256 pledged = _checkBounds(borrower, capacityId, z.units, z.shares);
        z.assets = z.shares.toAssetsUp(totalAssets_, totalShares);
        // The capacity's share of the value, before and after: the same formula as the valuation's.
        z.valueLeft = num == 0 ? value : value - pledged.mulDiv(num, den) + (pledged - z.units).mulDiv(num, den);
    }

    /// @dev Reverts unless `borrower` is unhealthy; returns the incentive, WAD: the LIF, shrunk to
    ///      value / debt (health after ≥ health before ⇔ incentive ≤ value / debt, see the
    ///      interface) and at least 1.
    function _incentive(address borrower, uint256 value, uint256 totalAssets_, uint256 totalShares)
        private
        view
        returns (uint256)
    {
        uint256 debt = _borrowShares[borrower].toAssetsUp(totalAssets_, totalShares);
        uint256 maxDebt = value.mulDiv(lltv, WAD, Math.Rounding.Floor);
        if (debt <= maxDebt) revert HealthyPosition(borrower, debt, maxDebt);
        return Math.max(WAD, Math.min(liquidationIncentive, value.mulDiv(WAD, debt)));
    }

    /// @dev Reverts unless the liquidation burns at most the borrower's shares, seizes at most its
    ///      units of `capacityId`, and moves something both ways; returns the units pledged.
    function _checkBounds(address borrower, uint256 capacityId, uint256 units, uint256 shares)
        private
        view
        returns (uint256 pledged)
    {
        pledged = _pledged[borrower][capacityId];
        if (units > pledged) revert InsufficientCollateral(borrower, capacityId, pledged, units);
        uint256 owned = _borrowShares[borrower];
        if (shares > owned) revert RepaidSharesExceedDebt(borrower, shares, owned);
        if (units == 0 || shares == 0) revert EmptyLiquidation(capacityId, units, shares);
    }

    /// @dev Books a quoted liquidation: burns the shares, takes the units off the position, then
    ///      writes off what remains if nothing of value is left, else enforces the dust rule.
    ///      Returns the assets written off.
    function _settle(address borrower, uint256 capacityId, Seizure memory z) private returns (uint256 badDebt) {
        (uint256 totalAssets_, uint256 totalShares) = (_totalBorrowAssets, _totalBorrowShares);
        uint256 sharesLeft = _borrowShares[borrower] - z.shares;
        _borrowShares[borrower] = sharesLeft;
        // The sum of rounded-up debts may exceed the total by a few wei: the total floors at zero.
        totalAssets_ -= Math.min(z.assets, totalAssets_);
        totalShares -= z.shares;
        (_totalBorrowAssets, _totalBorrowShares) = (uint128(totalAssets_), uint128(totalShares));
        uint256 pledged = _pledged[borrower][capacityId] - z.units;
        _pledged[borrower][capacityId] = pledged;
        _held[capacityId] -= z.units;
        if (pledged == 0) _dropId(borrower, capacityId);
        if (sharesLeft == 0) return 0;
        if (z.valueLeft == 0) {
            // Units of ended capacities still to return money: settleExpired credits them first.
            (bool pending,) = _expiryPending(borrower);
            return pending ? 0 : _writeOff(borrower, sharesLeft, totalAssets_, totalShares);
        }
        _checkNotDust(borrower, totalAssets_, totalShares);
    }

    /// @dev Writes off `shares` of `borrower`'s debt against lenders (the assets rounded up, at most
    ///      the total) and moves its units to the pool's own position. Returns the assets.
    function _writeOff(address borrower, uint256 shares, uint256 totalAssets_, uint256 totalShares)
        private
        returns (uint256 assets)
    {
        assets = Math.min(shares.toAssetsUp(totalAssets_, totalShares), totalAssets_);
        _borrowShares[borrower] = 0;
        (_totalBorrowAssets, _totalBorrowShares) = (uint128(totalAssets_ - assets), uint128(totalShares - shares));
        uint256[] memory ids = _ids[borrower];
        for (uint256 i; i < ids.length; ++i) {
            uint256 units = _pledged[borrower][ids[i]];
            delete _pledged[borrower][ids[i]];
            uint256 held = _pledged[address(this)][ids[i]];
            if (held == 0) _ids[address(this)].push(ids[i]);
            _pledged[address(this)][ids[i]] = held + units;
        }
        delete _ids[borrower];
        emit BadDebt(borrower, assets, shares);
    }

    /// @dev Collects the pool's units of `capacityId` the first time it is called after they can be:
    ///      records what they return (the figures Settlement or the escrow credit, computed before the
    ///      calls that credit them) and reserves it; later calls return what is left to credit.
    function _collect(uint256 capacityId) private returns (Proceeds memory p) {
        uint256 held = _held[capacityId];
        if (held == 0) return _proceeds[capacityId];
        Capacity memory c = _gpuHours.capacity(capacityId);
        IEscrow escrow = _gpuHours.escrow();
        ISettlement settlement = ISettlement(_gpuHours.settlement());
        bool cancelled = c.status == CapacityStatus.Cancelled;
        uint256 amount = cancelled
            ? held * (_gpuHours.terms(capacityId).backing + escrow.funds(capacityId).penaltyPerUnit)
            : settlement.unusedRefund(capacityId, held);
        p = Proceeds(uint128(held), uint128(amount));
        _held[capacityId] = 0;
        _reserved += uint128(amount);
        emit ExpiredCollected(capacityId, held, amount);
        if (cancelled) {
            _gpuHours.redeemCancelled(capacityId, held);
        } else if (IERC1155(address(_gpuHours)).balanceOf(address(this), capacityId) != 0) {
            address[] memory self = new address[](1);
            self[0] = address(this);
            settlement.settleUnused(capacityId, self);
        }
        // Whoever expired the units, their proceeds wait in the escrow until the pool withdraws them.
        if (escrow.claimable(address(this)) != 0) escrow.withdraw(address(this));
    }

    /// @dev Credits `borrower` its share of `p` for its units of `capacityId`, first to its debt (totals
    ///      accrued), writing off what is left unpaid once nothing is pledged; returns what is left to
    ///      credit.
    function _credit(address borrower, uint256 capacityId, Proceeds memory p) private returns (Proceeds memory) {
        uint256 units = _pledged[borrower][capacityId];
        if (units == 0) return p;
        uint256 amount = units == p.units ? p.amount : uint256(p.amount).mulDiv(units, p.units);
        (p.units, p.amount) = (p.units - uint128(units), p.amount - uint128(amount));
        _pledged[borrower][capacityId] = 0;
        _dropId(borrower, capacityId);
        _reserved -= uint128(amount);
        if (borrower == address(this)) {
            // The pool's own position (units left from bad debt): unreserved, it is the lenders' cash.
            emit ExpiredCredited(borrower, capacityId, units, amount, 0, 0);
            return p;
        }
        (uint256 repaid, uint256 shares) = _reduceDebt(borrower, amount, _totalBorrowAssets, _totalBorrowShares);
        emit ExpiredCredited(borrower, capacityId, units, amount, repaid, shares);
        uint256 sharesLeft = _borrowShares[borrower];
        if (sharesLeft != 0 && _ids[borrower].length == 0) {
            _writeOff(borrower, sharesLeft, _totalBorrowAssets, _totalBorrowShares);
        }
        if (amount > repaid) IERC20(asset()).safeTransfer(borrower, amount - repaid);
        return p;
    }

    /// @dev Whether `borrower` holds units of a capacity that ended or was cancelled (proceeds to
    ///      come), and the first such capacity.
    function _expiryPending(address borrower) private view returns (bool, uint256) {
        uint256[] storage ids = _ids[borrower];
        for (uint256 i; i < ids.length; ++i) {
            if (!_pledgeable(_gpuHours.capacity(ids[i]))) return (true, ids[i]);
        }
        return (false, 0);
    }

    /// @dev The last mark of the class whatever its age; reverts if there never was one.
    function _lastMark() private view returns (uint256 mark) {
        uint64 epoch;
        (mark, epoch) = _oracle.markPrice(gpuClass);
        if (mark == 0) revert StaleMark(gpuClass, epoch, markMaxAge);
    }
}
