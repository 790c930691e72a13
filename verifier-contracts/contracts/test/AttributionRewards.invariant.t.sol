// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Test} from "./utils/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {DatanetRegistry} from "../DatanetRegistry.sol";
import {AttributionRewards} from "../AttributionRewards.sol";
import {TestOnlyHashVerifier} from "./utils/TestOnlyHashVerifier.sol";

/// Drives the system with random opens, submits (fresh proofs and replays, from random
/// senders, naming random provers) and claims, keeping ghost totals.
contract RewardsHandler is Fixture {
    address[5] internal actors = [address(0xA1), address(0xB1), address(0xC1), address(0xD1), address(0xE1)];

    uint256 public feesTaken;
    uint256 public paidOut;
    uint256 public acceptances;
    uint256 public doublePays;
    uint256 public refundedOut;
    uint256 public doubleCloses;
    mapping(uint256 => uint256) public timesClosed;
    mapping(uint256 => uint256) public timesPaid;
    uint256[] internal paidNonces;

    constructor() {
        _deployOpen();
    }

    function open(uint256 fee) external {
        fee = bound(fee, 0, 1e6 ether);
        _open(requester, fee);
        feesTaken += fee;
    }

    function submit(uint256 nonceSeed, uint256 proverSeed, uint256 scoreSeed, uint256 senderSeed) external {
        uint256 last = rewards.lastNonce();
        if (last == 0) return;
        uint256 nonce = rewards.nonceAt(bound(nonceSeed, 1, last));
        address[8] memory who;
        uint256[8] memory scores;
        for (uint256 t = 0; t < 8; ++t) {
            who[t] = actors[uint256(keccak256(abi.encode(scoreSeed, t))) % 5];
            scores[t] = uint256(keccak256(abi.encode(scoreSeed, t, "s"))) % 1000;
        }
        uint256[] memory inst = _instances(nonce, actors[proverSeed % 5], who, scores);
        bytes memory proof = _prove(inst);
        vm.prank(actors[senderSeed % 5]);
        try rewards.submit(proof, inst) {
            acceptances += 1;
            if (++timesPaid[nonce] > 1) doublePays += 1;
            if (++timesClosed[nonce] > 1) doubleCloses += 1;
            paidNonces.push(nonce);
        } catch {}
    }

    /// Replays a proof of an already-paid request; must never pay again.
    function replay(uint256 i, uint256 scoreSeed) external {
        if (paidNonces.length == 0) return;
        uint256 nonce = paidNonces[i % paidNonces.length];
        address[8] memory who;
        uint256[8] memory scores;
        for (uint256 t = 0; t < 8; ++t) {
            who[t] = actors[t % 5];
            scores[t] = scoreSeed % (t + 2);
        }
        uint256[] memory inst = _instances(nonce, actors[0], who, scores);
        bytes memory proof = _prove(inst);
        try rewards.submit(proof, inst) {
            if (++timesPaid[nonce] > 1) doublePays += 1;
            if (++timesClosed[nonce] > 1) doubleCloses += 1;
        } catch {}
    }

    /// Lets time pass (requests expire after `TTL`).
    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 0, 2 * TTL));
    }

    /// The requester tries to refund a random request (paid, expired, open or refunded).
    function refund(uint256 nonceSeed) external {
        uint256 last = rewards.lastNonce();
        if (last == 0) return;
        uint256 nonce = rewards.nonceAt(bound(nonceSeed, 1, last));
        vm.prank(requester);
        try rewards.refund(nonce) returns (uint256 fee) {
            refundedOut += fee;
            if (++timesClosed[nonce] > 1) doubleCloses += 1;
        } catch {}
    }

    function claim(uint256 actorSeed) external {
        address[8] memory everyone = [actors[0], actors[1], actors[2], actors[3], actors[4], modelOwner, treasury, prover];
        address who = everyone[actorSeed % 8];
        uint256 owed = rewards.balanceOf(who);
        if (owed == 0) return;
        vm.prank(who);
        paidOut += rewards.claim();
    }

    /// Sum of credited, unclaimed balances of everyone who can be credited.
    function outstandingCredits() external view returns (uint256 sum) {
        for (uint256 i = 0; i < 5; ++i) {
            sum += rewards.balanceOf(actors[i]);
        }
        sum += rewards.balanceOf(modelOwner) + rewards.balanceOf(treasury) + rewards.balanceOf(prover);
    }

    /// Fees of requests not yet settled.
    function unsettledFees() external view returns (uint256 sum) {
        for (uint256 n = 1; n <= rewards.lastNonce(); ++n) {
            (, uint96 fee,, bytes24 binding,) = rewards.requests(rewards.nonceAt(n));
            if (binding != 0) sum += fee;
        }
    }

    function held() external view returns (uint256) {
        return token.balanceOf(address(rewards));
    }
}

contract AttributionRewardsInvariantTest is Test {
    RewardsHandler internal handler;

    function setUp() public {
        handler = new RewardsHandler();
        targetContract(address(handler));
    }

    /// Fees in == claimed + refunded + held.
    function invariant_openIsConserved() public view {
        assertEq(
            handler.paidOut() + handler.refundedOut() + handler.held(), handler.feesTaken(), "claimed + refunded + held == fees"
        );
    }

    /// No nonce is ever closed twice: paid twice, refunded twice, or paid and refunded.
    function invariant_noNoncePaidOrRefundedTwice() public view {
        assertEq(handler.doubleCloses(), 0, "double closes");
    }

    /// What the contract holds is exactly what it owes: credits plus unsettled fees.
    function invariant_heldEqualsOwed() public view {
        assertEq(handler.held(), handler.outstandingCredits() + handler.unsettledFees(), "held == credits + open fees");
    }

    /// No nonce is ever paid twice.
    function invariant_noNoncePaidTwice() public view {
        assertEq(handler.doublePays(), 0, "double pays");
    }
}
