// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {OracleSigning} from "../utils/OracleSigning.sol";
import {MockUSDC} from "../../src/MockUSDC.sol";
import {GpuHours} from "../../src/GpuHours.sol";
import {Escrow} from "../../src/Escrow.sol";
import {Exchange} from "../../src/Exchange.sol";
import {AttestationOracle} from "../../src/AttestationOracle.sol";
import {Settlement} from "../../src/Settlement.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";
import {Attestation, MarkPrice, Report, NodeRecord} from "../../src/interfaces/IAttestationOracle.sol";
import {Order, OrderKind} from "../../src/interfaces/IExchange.sol";
import {Capacity, Booking, CapacityStatus, CloseReason} from "../../src/interfaces/IGpuHours.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";

/// @notice Drives the oracle and settlement over time: signed reports for a few nodes (random
///         uptime, gaps, hours in any order, late catch-ups that fill gaps or lose stale epochs),
///         replays, second attestations of an hour and forged submissions that must all fail, capacities sold, booked and settled against what was
///         attested. Ghost records are what the invariants compare the contracts against. Calls
///         that may fail for a legitimate reason are wrapped in try/catch; the handler never reverts.
contract OracleHandler is StdCheats, StdUtils, OracleSigning {
    uint256 internal constant USDC = 1e6;
    uint256 internal constant HOUR = 1 hours;
    uint32 internal constant MFLOPS = 1_350_000;
    uint256 internal constant N_NODES = 3;
    uint256 internal constant N_RENTERS = 3;
    uint256 internal constant MAX_CAPS = 48;
    uint256 internal constant MAX_OPEN_CAPS = 4;
    uint256 internal constant MAX_BOOKINGS = 48;
    uint256 internal constant MAX_REPORTS = 32;

    MockUSDC public immutable usdc;
    GpuHours public immutable gpuHours;
    Escrow public immutable escrow;
    Exchange public immutable exchange;
    AttestationOracle public immutable oracle;
    Settlement public immutable settlement;
    address public immutable treasury;

    uint256[] internal oracleKeys; // ascending addresses, threshold 2
    uint256 internal immutable forgerKey;

    address[2] public providers;
    uint256[2] internal providerKeys;
    address[N_RENTERS] public renters;

    uint64[] public nodeIds;
    uint256[] public capIds;

    struct BookingRec {
        uint256 bookingId;
        uint256 capId;
        bool settled;
    }

    BookingRec[] internal _bookings;
    uint256 public currentTime;
    uint256 internal _salt;

    // ------------------------------------------------------------------ oracle ghosts

    mapping(uint64 nodeId => uint256) public ghostEpochs; // successful distinct (node, epoch) attestations
    mapping(uint64 nodeId => uint64) public ghostFirst; // the earliest attested epoch
    mapping(uint64 nodeId => uint64) public ghostLast; // the latest attested epoch
    mapping(uint64 nodeId => uint256) public ghostUptimeSum;
    /// @dev uptime + 1 of each attested (node, epoch); 0: never attested.
    mapping(uint64 nodeId => mapping(uint64 epoch => uint256)) public ghostRecord;

    bytes[] internal _reports; // abi-encoded Report of each successful submission
    bytes[] internal _reportSigs; // abi-encoded bytes[] of its signatures

    uint256 public submissions;
    uint256 public unexpectedSubmitFailures; // valid, in-time reports of unattested hours that reverted: 0
    uint256 public doubleCounted; // a success for a (node, epoch) already recorded: 0
    uint256 public replayAttempts;
    uint256 public replaySuccesses; // must stay 0
    uint256 public reattestAttempts;
    uint256 public reattestSuccesses; // must stay 0
    uint256 public outOfOrderSubmissions; // reports whose hours went newest first (coverage)
    uint256 public forgedAttempts;
    uint256 public forgedSuccesses; // must stay 0
    uint256 public recordMismatches; // oracle epochRecord disagreeing with the ghost: 0

    // ------------------------------------------------------------------ money ghosts

    /// @notice Σ credited to providers by settleBooking / settleUnused.
    uint256 public ghostReleased;
    /// @notice Σ over those settlements of the delivered units' backing (fixed per unit) less the
    ///         fee, with delivered hours read from the oracle's epoch records.
    uint256 public ghostEntitled;
    uint256 public paidWithoutDelivery; // must stay 0
    uint256 public payMismatches; // provider credit != the share for delivered hours: 0
    uint256 public unexpectedSettleFailures; // must stay 0
    uint256 public earlySettleSuccesses; // settled before its last hour stopped being attestable: 0
    uint256 public outstandingCloses; // a capacity closed with units unsettled: 0
    mapping(uint256 capId => uint256) public slashedOf;
    mapping(uint256 capId => uint256) public bondOf;

    uint256 public settledBookings;
    uint256 public settledUnusedHolders;
    uint256 public settledCaps;
    uint256 public deliveredHoursPaid; // Σ delivered hours over settled bookings (coverage)

    modifier act() {
        vm.warp(currentTime);
        _;
    }

    constructor(
        MockUSDC usdc_,
        GpuHours gpuHours_,
        Escrow escrow_,
        Exchange exchange_,
        AttestationOracle oracle_,
        Settlement settlement_,
        address treasury_,
        uint256[] memory oracleKeys_
    ) {
        usdc = usdc_;
        gpuHours = gpuHours_;
        escrow = escrow_;
        exchange = exchange_;
        oracle = oracle_;
        settlement = settlement_;
        treasury = treasury_;
        oracleKeys = oracleKeys_;
        forgerKey = uint256(keccak256("oracle forger"));
        currentTime = block.timestamp;

        for (uint256 p; p < 2; ++p) {
            (address a, uint256 k) = makeAddrAndKey(string(abi.encode("oracle provider", p)));
            providers[p] = a;
            providerKeys[p] = k;
            _fund(a);
        }
        for (uint256 i; i < N_RENTERS; ++i) {
            address a = makeAddr(string(abi.encode("oracle renter", i)));
            renters[i] = a;
            _fund(a);
        }
        for (uint256 n; n < N_NODES; ++n) {
            vm.prank(providers[n % 2]);
            nodeIds.push(gpuHours.registerNode("H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", bytes32(n)));
        }
    }

    function _fund(address a) internal {
        usdc.mint(a, 1_000_000_000 * USDC);
        vm.startPrank(a);
        usdc.approve(address(exchange), type(uint256).max);
        usdc.approve(address(escrow), type(uint256).max);
        vm.stopPrank();
    }

    // ================================================================== time

    function warp(uint256 seed) external act {
        currentTime += _bound(seed, 15 minutes, 3 hours);
    }

    // ================================================================== oracle

    /// @dev The aggregator catches up: for one node or all, every unattested epoch from the first
    ///      still acceptable one up to the last ended one, at most 8, each left out now and then
    ///      (a gap a later call may fill), newest first in one report of three. Must succeed.
    function attest(uint256 nodeSeed, uint256 uptimeSeed, bool allNodes, uint8 signersSeed) external act {
        Attestation[] memory atts = new Attestation[](8 * N_NODES);
        uint256 k;
        uint256 count = allNodes ? N_NODES : 1;
        for (uint256 i; i < count; ++i) {
            uint64 nodeId = nodeIds[(nodeSeed % N_NODES + i) % N_NODES];
            (bool ok, uint64 lo, uint64 hi) = _open(nodeId);
            if (!ok) continue;
            if (hi > lo + 7) hi = lo + 7;
            for (uint64 e = lo; e <= hi; ++e) {
                if (ghostRecord[nodeId][e] != 0) continue;
                uint256 r = uint256(keccak256(abi.encode(uptimeSeed, nodeId, e)));
                if (r % 5 == 0 && e != hi) continue; // a gap
                atts[k++] = _att(nodeId, e, _uptime(r >> 8), MFLOPS);
            }
        }
        if (k == 0) return;
        assembly ("memory-safe") {
            mstore(atts, k)
        }
        if (uptimeSeed % 3 == 0 && k > 1) {
            _reverse(atts);
            ++outOfOrderSubmissions;
        }
        Report memory rep = _report(1, atts);
        bytes[] memory sigs = _signWith(oracle, rep, _signers(signersSeed));
        try oracle.submit(rep, sigs) {
            ++submissions;
            for (uint256 i; i < k; ++i) {
                Attestation memory a = atts[i];
                if (ghostRecord[a.nodeId][a.epoch] != 0) ++doubleCounted;
                ghostRecord[a.nodeId][a.epoch] = uint256(a.uptimeBps) + 1;
                if (ghostEpochs[a.nodeId] == 0 || a.epoch < ghostFirst[a.nodeId]) ghostFirst[a.nodeId] = a.epoch;
                if (a.epoch > ghostLast[a.nodeId]) ghostLast[a.nodeId] = a.epoch;
                ghostEpochs[a.nodeId] += 1;
                ghostUptimeSum[a.nodeId] += a.uptimeBps;
            }
            if (_reports.length < MAX_REPORTS) {
                _reports.push(abi.encode(rep));
                _reportSigs.push(abi.encode(sigs));
            }
        } catch {
            ++unexpectedSubmitFailures;
        }
    }

    /// @dev Resubmits a report that already went through, as is. Must fail.
    function replay(uint256 seed) external act {
        if (_reports.length == 0) return;
        uint256 i = seed % _reports.length;
        Report memory rep = abi.decode(_reports[i], (Report));
        bytes[] memory sigs = abi.decode(_reportSigs[i], (bytes[]));
        ++replayAttempts;
        try oracle.submit(rep, sigs) {
            ++replaySuccesses;
        } catch {}
    }

    /// @dev A freshly signed second opinion on an epoch a node already has attested (at or up to
    ///      two before its latest, attested ones only). Must fail.
    function reattest(uint256 nodeSeed, uint256 backSeed, uint16 uptimeSeed) external act {
        uint64 nodeId = nodeIds[nodeSeed % N_NODES];
        if (ghostEpochs[nodeId] == 0) return;
        uint64 back = uint64(backSeed % 3);
        uint64 e = ghostLast[nodeId] >= back ? ghostLast[nodeId] - back : 0;
        if (ghostRecord[nodeId][e] == 0) e = ghostLast[nodeId];
        Report memory rep = _report(1, _att(nodeId, e, _uptime(uptimeSeed), MFLOPS));
        bytes[] memory sigs = _signWith(oracle, rep, _signers(uint8(backSeed >> 8)));
        ++reattestAttempts;
        try oracle.submit(rep, sigs) {
            ++reattestSuccesses;
        } catch {}
    }

    /// @dev A report for an acceptable epoch with bad signatures: a forger, a lone signer, one
    ///      signer twice, descending order, or the wrong signer-set version. Must fail.
    function forged(uint256 nodeSeed, uint8 kind) external act {
        uint64 nodeId = nodeIds[nodeSeed % N_NODES];
        (bool ok, uint64 lo, uint64 hi) = _open(nodeId);
        while (ok && ghostRecord[nodeId][lo] != 0) {
            if (lo == hi) return;
            ++lo;
        }
        if (!ok) return;
        Report memory rep = _report(1, _att(nodeId, lo, 10_000, MFLOPS));
        kind %= 5;
        if (kind == 4) rep.signerSet = 2;
        bytes32 digest = oracle.reportDigest(rep);
        bytes[] memory sigs;
        if (kind == 0) {
            sigs = new bytes[](2);
            uint256 real = oracleKeys[nodeSeed % 3];
            bool forgerFirst = vm.addr(forgerKey) < vm.addr(real);
            sigs[0] = _sig(forgerFirst ? forgerKey : real, digest);
            sigs[1] = _sig(forgerFirst ? real : forgerKey, digest);
        } else if (kind == 1) {
            sigs = new bytes[](1);
            sigs[0] = _sig(oracleKeys[nodeSeed % 3], digest);
        } else if (kind == 2) {
            sigs = new bytes[](2);
            sigs[0] = _sig(oracleKeys[nodeSeed % 3], digest);
            sigs[1] = sigs[0];
        } else if (kind == 3) {
            sigs = new bytes[](2);
            sigs[0] = _sig(oracleKeys[2], digest);
            sigs[1] = _sig(oracleKeys[0], digest);
        } else {
            sigs = _signWith(oracle, rep, _signers(0));
        }
        ++forgedAttempts;
        try oracle.submit(rep, sigs) {
            ++forgedSuccesses;
        } catch {}
    }

    /// @dev Epochs that can be attested now, attested already or not: ended, not stale.
    function _open(uint64) internal view returns (bool ok, uint64 lo, uint64 hi) {
        uint256 now_ = block.timestamp;
        uint256 lastEnded = now_ / HOUR - 1;
        uint256 delay = oracle.maxDelay();
        uint256 minValid = now_ > delay ? (now_ - delay + HOUR - 1) / HOUR - 1 : 0;
        if (minValid > lastEnded) return (false, 0, 0);
        return (true, uint64(minValid), uint64(lastEnded));
    }

    function _reverse(Attestation[] memory atts) internal pure {
        for (uint256 i; i < atts.length / 2; ++i) {
            (atts[i], atts[atts.length - 1 - i]) = (atts[atts.length - 1 - i], atts[i]);
        }
    }

    /// @dev Three in five hours delivered (>= 9,000 bps), the rest failed.
    function _uptime(uint256 r) internal pure returns (uint16) {
        return r % 5 < 3 ? uint16(9_000 + (r >> 8) % 1_001) : uint16((r >> 8) % 9_000);
    }

    /// @dev Two or three of the three oracle signers, ascending.
    function _signers(uint8 seed) internal view returns (uint256[] memory) {
        uint256 s = seed % 4;
        if (s == 3) return oracleKeys;
        return s == 0 ? _pick(oracleKeys, 0, 1) : s == 1 ? _pick(oracleKeys, 0, 2) : _pick(oracleKeys, 1, 2);
    }

    // ================================================================== market

    function createCapacity(uint256 nodeSeed, uint256 startSeed, uint256 lenSeed, uint256 bondSeed) external act {
        if (capIds.length >= MAX_CAPS || _openCaps() >= MAX_OPEN_CAPS) return;
        uint64 nodeId = nodeIds[nodeSeed % N_NODES];
        uint256 start = block.timestamp - block.timestamp % HOUR + HOUR * (1 + startSeed % 2);
        uint256 lastEnd = gpuHours.node(nodeId).lastWindowEnd;
        if (start < lastEnd) start = lastEnd;
        uint256 end = start + HOUR * _bound(lenSeed, 1, 8);
        // at least the minimum: every unit of supply covered for a full slash
        uint256 perUnit = gpuHours.minBondPerUnit();
        if (settlement.sla().slashPerGpuHour > perUnit) perUnit = settlement.sla().slashPerGpuHour;
        uint256 minimum = uint256(gpuHours.node(nodeId).gpuCount) * ((end - start) / HOUR) * perUnit;
        uint256 bond = _bound(bondSeed, minimum, minimum + 40 * USDC);
        vm.prank(gpuHours.node(nodeId).owner);
        uint256 id = gpuHours.createCapacity(nodeId, uint40(start), uint40(end), uint96(2_100_000), bond);
        capIds.push(id);
        bondOf[id] = bond;
    }

    function buy(uint256 capSeed, uint256 renterSeed, uint256 amountSeed, uint256 priceSeed) external act {
        (bool found, uint256 id) = _pickCap(capSeed, true);
        if (!found) return;
        Capacity memory c = gpuHours.capacity(id);
        uint256 room = gpuHours.supplyCap(id) - c.minted;
        if (room == 0) return;
        uint256 amount = _bound(amountSeed, 1, room < 16 ? room : 16);
        (Order memory o, bytes memory sig) = _primaryOrder(id, amount, priceSeed);
        vm.prank(renters[renterSeed % N_RENTERS]);
        // Refused when the window's hours left cannot take them any more (HoursNotUsable).
        try exchange.fill(o, sig, amount) {} catch {}
    }

    function _primaryOrder(uint256 id, uint256 amount, uint256 priceSeed)
        internal
        returns (Order memory o, bytes memory sig)
    {
        address maker = gpuHours.providerOf(id);
        o = Order({
            maker: maker,
            kind: OrderKind.PrimarySell,
            capacityId: id,
            amount: amount,
            price: _bound(priceSeed, USDC / 10, 5 * USDC),
            expiry: block.timestamp + 1 days,
            salt: ++_salt,
            counter: exchange.counter(maker)
        });
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(maker == providers[0] ? providerKeys[0] : providerKeys[1], exchange.hashOrder(o));
        sig = abi.encodePacked(r, s, v);
    }

    function activate(uint256 capSeed, uint256 renterSeed, uint256 offsetSeed, uint256 hoursSeed, uint256 gpusSeed)
        external
        act
    {
        if (_bookings.length >= MAX_BOOKINGS) return;
        (bool found, uint256 id, address holder) = _pickHolding(capSeed, renterSeed);
        if (!found) return;
        uint256 balance = gpuHours.balanceOf(holder, id);
        Capacity memory c = gpuHours.capacity(id);
        uint256 first = block.timestamp - block.timestamp % HOUR;
        if (first < c.start) first = c.start;
        if (first >= c.end) return;
        first += HOUR * (offsetSeed % ((c.end - first) / HOUR)); // any hour left in the window
        uint256 most = (c.end - first) / HOUR;
        uint256 hours_ = _bound(hoursSeed, 1, most < 6 ? most : 6);
        if (hours_ > balance) hours_ = balance;
        uint256 gpus = _bound(gpusSeed, 1, 4);
        if (gpus * hours_ > balance) gpus = balance / hours_;
        vm.prank(holder);
        try gpuHours.activate(id, uint40(first), uint16(hours_), uint8(gpus)) returns (uint256 bookingId) {
            _bookings.push(BookingRec(bookingId, id, false));
        } catch {} // overbooked
    }

    // ================================================================== settlement

    function settleBooking(uint256 seed, bool tryEarly) external act {
        uint256 n = _bookings.length;
        for (uint256 k; k < n; ++k) {
            BookingRec storage rec = _bookings[(seed % n + k) % n];
            if (rec.settled) continue;
            Booking memory b = gpuHours.booking(rec.bookingId);
            Capacity memory c = gpuHours.capacity(rec.capId);
            if (c.status != CapacityStatus.Active) continue;
            uint256 readyAt = uint256(b.start) + uint256(b.hours_) * HOUR + oracle.maxDelay() + 1;
            if (block.timestamp < readyAt) {
                if (!tryEarly) continue;
                try settlement.settleBooking(rec.bookingId) {
                    ++earlySettleSuccesses;
                } catch {}
                return;
            }
            _settleBooking(rec, b, c);
            return;
        }
    }

    function _settleBooking(BookingRec storage rec, Booking memory b, Capacity memory c) internal {
        (uint256 delivered,) = _delivered(c.nodeId, b.start / HOUR, b.hours_);
        uint256 entitled = _net(rec.capId, uint256(b.gpus) * delivered);
        address provider = gpuHours.providerOf(rec.capId);
        uint256 before = escrow.claimable(provider);
        uint256 bondBefore = escrow.funds(rec.capId).bond;
        try settlement.settleBooking(rec.bookingId) {
            rec.settled = true;
            uint256 paid = escrow.claimable(provider) - before;
            _account(paid, entitled, delivered);
            slashedOf[rec.capId] += bondBefore - escrow.funds(rec.capId).bond;
            ++settledBookings;
            deliveredHoursPaid += delivered;
        } catch {
            ++unexpectedSettleFailures;
        }
    }

    function settleUnused(uint256 capSeed, bool listTwice) external act {
        (bool found, uint256 id) = _pickEnded(capSeed);
        if (!found) return;
        Capacity memory c = gpuHours.capacity(id);
        uint256 windowHours = (c.end - c.start) / HOUR;
        (uint256 delivered,) = _delivered(c.nodeId, c.start / HOUR, windowHours);
        address[] memory list = new address[](listTwice ? 2 * N_RENTERS : N_RENTERS);
        uint256 entitled;
        // Each holder's units pay the provider the backing of units × delivered ÷ window hours
        // (rounded down), less the fee, holder by holder.
        for (uint256 i; i < N_RENTERS; ++i) {
            list[i] = renters[i];
            if (listTwice) list[N_RENTERS + i] = renters[i];
            uint256 units = gpuHours.balanceOf(renters[i], id);
            if (units == 0) continue;
            entitled += _net(id, units * delivered / windowHours);
            ++settledUnusedHolders;
        }
        address provider = gpuHours.providerOf(id);
        uint256 before = escrow.claimable(provider);
        try settlement.settleUnused(id, list) {
            _account(escrow.claimable(provider) - before, entitled, delivered);
        } catch {
            ++unexpectedSettleFailures;
        }
    }

    function settleCapacity(uint256 capSeed) external act {
        (bool found, uint256 id) = _pickEnded(capSeed);
        if (!found) return;
        uint256 outstanding = gpuHours.capacity(id).minted - settlement.settledUnits(id);
        try settlement.settleCapacity(id) {
            ++settledCaps;
            if (outstanding != 0) ++outstandingCloses;
        } catch {
            if (outstanding == 0) ++unexpectedSettleFailures;
        }
    }

    function withdraw(uint256 seed) external act {
        address a =
            seed % 4 == 3 ? treasury : seed % 4 == 2 ? providers[(seed >> 8) % 2] : renters[(seed >> 8) % N_RENTERS];
        if (escrow.claimable(a) == 0) return;
        vm.prank(a);
        escrow.withdraw(a);
    }

    // ================================================================== internals

    function _account(uint256 paid, uint256 entitled, uint256 delivered) internal {
        ghostReleased += paid;
        ghostEntitled += entitled;
        if (delivered == 0 && paid != 0) ++paidWithoutDelivery;
        if (paid != entitled) ++payMismatches;
    }

    /// @dev What the provider is credited for `units` delivered units of `id`: their fixed backing
    ///      less the fee, rounded up.
    function _net(uint256 id, uint256 units) internal view returns (uint256) {
        uint256 released = units * gpuHours.terms(id).backing;
        return released - (released * escrow.feeBps() + 9_999) / 10_000;
    }

    /// @dev Delivered and failed hours read epoch by epoch from the oracle's records (not through
    ///      countEpochs), each checked against the ghost record of what was submitted.
    function _delivered(uint64 nodeId, uint256 fromEpoch, uint256 count)
        internal
        returns (uint256 delivered, uint256 failed)
    {
        Sla memory s = settlement.sla();
        for (uint256 e = fromEpoch; e < fromEpoch + count; ++e) {
            // Every attestation here carries 28,000 GPU-seconds, more than a 4-GPU node's bookings
            // need at any uptime, so the delivery check passes whenever uptime and efficiency do.
            (bool attested, uint16 uptime, uint16 perJoule,) = oracle.epochRecord(nodeId, uint64(e));
            uint256 ghost = ghostRecord[nodeId][uint64(e)];
            if (attested != (ghost != 0) || (attested && uptime + 1 != ghost)) ++recordMismatches;
            if (!attested) continue;
            if (uptime >= s.minUptimeBps && perJoule >= s.minGflopsPerJoule) ++delivered;
            else ++failed;
        }
    }

    function _pickCap(uint256 seed, bool mintable) internal view returns (bool, uint256) {
        uint256 n = capIds.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = capIds[(seed % n + k) % n];
            Capacity memory c = gpuHours.capacity(id);
            if (c.status != CapacityStatus.Active) continue;
            if (mintable && block.timestamp >= c.end) continue;
            return (true, id);
        }
        return (false, 0);
    }

    function _openCaps() internal view returns (uint256 open) {
        for (uint256 i; i < capIds.length; ++i) {
            if (gpuHours.capacity(capIds[i]).status == CapacityStatus.Active) ++open;
        }
    }

    /// @dev A renter holding hours of a capacity whose window has not ended.
    function _pickHolding(uint256 capSeed, uint256 renterSeed) internal view returns (bool, uint256, address) {
        uint256 n = capIds.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = capIds[(capSeed % n + k) % n];
            Capacity memory c = gpuHours.capacity(id);
            if (c.status != CapacityStatus.Active || block.timestamp >= c.end) continue;
            for (uint256 j; j < N_RENTERS; ++j) {
                address holder = renters[(renterSeed % N_RENTERS + j) % N_RENTERS];
                if (gpuHours.balanceOf(holder, id) != 0) return (true, id, holder);
            }
        }
        return (false, 0, address(0));
    }

    /// @dev An active capacity whose window can no longer be attested.
    function _pickEnded(uint256 seed) internal view returns (bool, uint256) {
        uint256 n = capIds.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = capIds[(seed % n + k) % n];
            Capacity memory c = gpuHours.capacity(id);
            if (c.status != CapacityStatus.Active) continue;
            if (block.timestamp < uint256(c.end) + oracle.maxDelay() + 1) continue;
            return (true, id);
        }
        return (false, 0);
    }

    // ================================================================== views for invariants

    function allCapIds() external view returns (uint256[] memory) {
        return capIds;
    }

    function allNodeIds() external view returns (uint64[] memory) {
        return nodeIds;
    }

    function accounts() external view returns (address[] memory a) {
        a = new address[](2 + N_RENTERS + 1);
        a[0] = providers[0];
        a[1] = providers[1];
        for (uint256 i; i < N_RENTERS; ++i) {
            a[2 + i] = renters[i];
        }
        a[2 + N_RENTERS] = treasury;
    }

    function bookingCount() external view returns (uint256) {
        return _bookings.length;
    }
}
