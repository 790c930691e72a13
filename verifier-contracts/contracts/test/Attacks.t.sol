// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {DatanetRegistry} from "../DatanetRegistry.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {AttributionRewards} from "../AttributionRewards.sol";

/// One test (or a few) per attack on the request → proof → payout protocol, named for it.
contract AttacksTest is Fixture {
    uint256 internal constant FEE = 10_007;
    uint256 internal constant COMMITMENT = 0x1c0ffee;

    function setUp() public {
        _deployOpen();
    }

    function _openWith(address who, uint256 fee, uint256 commitment, uint256 ttl) internal returns (uint256 nonce) {
        assertTrue(token.transfer(who, fee), "transfer");
        vm.startPrank(who);
        token.approve(address(rewards), fee);
        nonce = rewards.openRequest(MODEL_ID, ADAPTER_ID, datanetId, VERSION, fee, commitment, ttl);
        vm.stopPrank();
    }

    function _deadline(uint256 nonce) internal view returns (uint64 deadline) {
        (,,,, deadline) = rewards.requests(nonce);
    }

    // ------------------------------------------------------------ 1. deadline and refund

    function test_refund_after_deadline() public {
        uint256 nonce = _open(requester, FEE);
        vm.warp(_deadline(nonce) + 1);
        vm.expectEmit();
        emit AttributionRewards.Refunded(nonce, requester, FEE);
        vm.prank(requester);
        assertEq(rewards.refund(nonce), FEE);
        assertEq(token.balanceOf(requester), FEE);
        assertEq(token.balanceOf(address(rewards)), 0);
        assertTrue(rewards.refunded(nonce), "refunded");
        assertFalse(rewards.paid(nonce));
    }

    function test_refund_before_deadline_rejected() public {
        uint256 nonce = _open(requester, FEE);
        uint64 deadline = _deadline(nonce);
        vm.warp(deadline); // the deadline itself still belongs to the prover
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.NotExpired.selector, nonce, deadline));
        rewards.refund(nonce);
    }

    function test_refund_by_other_than_requester_rejected() public {
        uint256 nonce = _open(requester, FEE);
        vm.warp(_deadline(nonce) + 1);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.NotRequester.selector, nonce, prover));
        rewards.refund(nonce);
    }

    function test_refund_twice_rejected() public {
        uint256 nonce = _open(requester, FEE);
        vm.warp(_deadline(nonce) + 1);
        vm.startPrank(requester);
        rewards.refund(nonce);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.AlreadyRefunded.selector, nonce));
        rewards.refund(nonce);
        vm.stopPrank();
    }

    function test_paid_request_cannot_be_refunded() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        rewards.submit(_prove(inst), inst);
        vm.warp(block.timestamp + 365 days);
        vm.prank(requester);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.AlreadyPaid.selector, nonce));
        rewards.refund(nonce);
    }

    function test_refunded_request_cannot_be_paid() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        vm.warp(_deadline(nonce) + 1);
        vm.prank(requester);
        rewards.refund(nonce);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.AlreadyRefunded.selector, nonce));
        rewards.submit(proof, inst);
    }

    function test_submit_after_deadline_rejected() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        uint64 deadline = _deadline(nonce);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.RequestExpired.selector, nonce, deadline));
        rewards.submit(proof, inst);
    }

    function test_submit_at_deadline_accepted() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        vm.warp(_deadline(nonce));
        rewards.submit(proof, inst);
        assertTrue(rewards.paid(nonce), "paid");
    }

    function test_open_rejects_ttl_out_of_bounds() public {
        assertTrue(token.transfer(requester, FEE), "transfer");
        vm.startPrank(requester);
        token.approve(address(rewards), FEE);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.BadTtl.selector, 0));
        rewards.openRequest(MODEL_ID, ADAPTER_ID, datanetId, VERSION, FEE, 0, 0);
        uint256 tooLong = uint256(rewards.MAX_TTL()) + 1;
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.BadTtl.selector, tooLong));
        rewards.openRequest(MODEL_ID, ADAPTER_ID, datanetId, VERSION, FEE, 0, tooLong);
        rewards.openRequest(MODEL_ID, ADAPTER_ID, datanetId, VERSION, FEE, 0, rewards.MAX_TTL());
        vm.stopPrank();
    }

    /// Fees in = credited + refunded + held, whatever happens first: a proof, or the deadline.
    function testFuzz_fee_conservation_pay_or_refund(uint256 fee, uint32 ttl, uint32 wait, bool proveFirst) public {
        fee = bound(fee, 0, 1e9 ether); // the supply
        uint256 t = bound(ttl, 1, rewards.MAX_TTL());
        uint256 nonce = _openWith(requester, fee, 0, t);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        vm.warp(block.timestamp + bound(wait, 0, 2 * t));
        bool expired = block.timestamp > _deadline(nonce);
        if (proveFirst && !expired) {
            rewards.submit(proof, inst);
            vm.prank(requester);
            vm.expectRevert(abi.encodeWithSelector(AttributionRewards.AlreadyPaid.selector, nonce));
            rewards.refund(nonce);
        } else if (expired) {
            vm.prank(requester);
            rewards.refund(nonce);
            vm.expectRevert(abi.encodeWithSelector(AttributionRewards.AlreadyRefunded.selector, nonce));
            rewards.submit(proof, inst);
        }
        uint256 credited = rewards.balanceOf(modelOwner) + rewards.balanceOf(prover) + rewards.balanceOf(treasury)
            + rewards.balanceOf(address(0xA1)) + rewards.balanceOf(address(0xB1)) + rewards.balanceOf(address(0xC1));
        uint256 refundedAmt = token.balanceOf(requester);
        uint256 open = rewards.paid(nonce) || rewards.refunded(nonce) ? 0 : fee;
        assertEq(credited + refundedAmt + open, fee, "fee = credited + refunded + open");
        assertEq(token.balanceOf(address(rewards)), credited + open, "held = credited + open");
        assertFalse(rewards.paid(nonce) && rewards.refunded(nonce));
    }

    // ------------------------------------------------------------ 2. model ↔ datanet

    function test_open_refuses_unregistered_datanet() public {
        // Another datanet, sealed with a root the attacker controls: the model was not
        // registered for it.
        uint256 other = datanets.createDatanet(curator);
        vm.prank(curator);
        datanets.sealVersion(other, VERSION, ROOT + 7);
        assertTrue(token.transfer(requester, FEE), "transfer");
        vm.startPrank(requester);
        token.approve(address(rewards), FEE);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.DatanetNotAllowed.selector, other, datanetId));
        rewards.openRequest(MODEL_ID, ADAPTER_ID, other, VERSION, FEE, 0, TTL);
        vm.stopPrank();
    }

    function test_open_refuses_root_other_than_pinned() public {
        models.register(MODEL_ID + 1, ADAPTER_ID, _model(3000, 5000, 1500, 500), datanetId, ROOT);
        vm.prank(curator);
        datanets.sealVersion(datanetId, 2, ROOT + 1);
        assertTrue(token.transfer(requester, 2 * FEE), "transfer");
        vm.startPrank(requester);
        token.approve(address(rewards), 2 * FEE);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.RootNotAllowed.selector, ROOT + 1, ROOT));
        rewards.openRequest(MODEL_ID + 1, ADAPTER_ID, datanetId, 2, FEE, 0, TTL);
        rewards.openRequest(MODEL_ID + 1, ADAPTER_ID, datanetId, VERSION, FEE, 0, TTL); // the pinned root
        vm.stopPrank();
    }

    function test_register_rejects_no_datanet() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.BadScope.selector, 0, 0));
        models.register(MODEL_ID + 1, ADAPTER_ID, _model(3000, 5000, 1500, 500), 0, 0);
    }

    // ------------------------------------------------------------ 3. domain-separated nonces

    function test_nonce_differs_across_deployments() public {
        AttributionRewards twin = new AttributionRewards(token, models, datanets, treasury);
        assertTrue(twin.nonceAt(1) != rewards.nonceAt(1), "same counter, other deployment");
        // A request opened (and proven) on the twin is unknown here.
        assertTrue(token.transfer(requester, FEE), "transfer");
        vm.startPrank(requester);
        token.approve(address(twin), FEE);
        uint256 nonce = twin.openRequest(MODEL_ID, ADAPTER_ID, datanetId, VERSION, FEE, 0, TTL);
        vm.stopPrank();
        _open(requester, FEE); // counter 1 here too
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.UnknownRequest.selector, nonce));
        rewards.submit(proof, inst);
    }

    function test_nonce_differs_across_chains() public {
        uint256 here = rewards.nonceAt(1);
        vm.chainId(block.chainid + 1);
        assertTrue(rewards.nonceAt(1) != here, "same deployment address, other chain");
    }

    function test_nonce_is_domain_separated_hash_below_field() public view {
        uint256 r = rewards.FIELD_MODULUS();
        for (uint256 c = 1; c < 20; ++c) {
            uint256 n = rewards.nonceAt(c);
            assertEq(n, uint256(keccak256(abi.encode(block.chainid, address(rewards), c))) % r);
            assertTrue(n < r, "below r");
        }
    }

    function test_open_returns_domain_separated_nonce() public {
        uint256 first = _open(requester, FEE);
        uint256 second = _open(requester, FEE);
        assertEq(first, rewards.nonceAt(1));
        assertEq(second, rewards.nonceAt(2));
        assertEq(rewards.lastNonce(), 2);
    }

    // ------------------------------------------------------------ 4. input commitment

    function test_submit_rejects_other_input_commitment() public {
        // The requester asked about its input; the prover answers with another (e.g. one whose
        // top-k are its own entries) — a valid proof, of the wrong input.
        uint256 nonce = _openWith(requester, FEE, COMMITMENT, TTL);
        uint256[] memory inst = _defaultInstances(nonce);
        inst[2] = COMMITMENT + 1;
        bytes memory proof = _prove(inst);
        vm.expectRevert(
            abi.encodeWithSelector(AttributionRewards.BindingMismatch.selector, nonce, ROOT, COMMITMENT + 1)
        );
        rewards.submit(proof, inst);
    }

    function test_submit_rejects_uncommitted_proof_for_committed_request() public {
        uint256 nonce = _openWith(requester, FEE, COMMITMENT, TTL);
        uint256[] memory inst = _defaultInstances(nonce); // row 2 = 0: public/private input
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.BindingMismatch.selector, nonce, ROOT, 0));
        rewards.submit(proof, inst);
    }

    function test_submit_accepts_matching_input_commitment() public {
        uint256 nonce = _openWith(requester, FEE, COMMITMENT, TTL);
        uint256[] memory inst = _defaultInstances(nonce);
        inst[2] = COMMITMENT;
        rewards.submit(_prove(inst), inst);
        assertTrue(rewards.paid(nonce), "paid");
    }

    /// Commitment 0 binds "a proof that publishes no commitment": a hashed-input proof (any
    /// nonzero row 2) does not settle it either.
    function test_zero_commitment_request_rejects_committed_proof() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        inst[2] = COMMITMENT;
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.BindingMismatch.selector, nonce, ROOT, COMMITMENT));
        rewards.submit(proof, inst);
    }

    function test_open_rejects_commitment_outside_field() public {
        uint256 r = rewards.FIELD_MODULUS();
        assertTrue(token.transfer(requester, FEE), "transfer");
        vm.startPrank(requester);
        token.approve(address(rewards), FEE);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.BadInputCommitment.selector, r));
        rewards.openRequest(MODEL_ID, ADAPTER_ID, datanetId, VERSION, FEE, r, TTL);
        vm.stopPrank();
    }

    // ------------------------------------------------------------ 5. payees, k, disable, owner

    function test_credit_to_zero_address_goes_to_treasury() public {
        uint256 nonce = _open(requester, FEE);
        (address[8] memory who, uint256[8] memory scores) = _top();
        who[1] = address(0); // B's 3 points name address 0
        uint256[] memory inst = _instances(nonce, prover, who, scores);
        rewards.submit(_prove(inst), inst);
        assertEq(rewards.balanceOf(address(0)), 0);
        // fee 10,007: pool 5003; B's line (1364) goes to the treasury with its 503.
        assertEq(rewards.balanceOf(treasury), 503 + 1364);
    }

    function test_credit_to_rewards_contract_goes_to_treasury() public {
        uint256 nonce = _open(requester, FEE);
        (address[8] memory who, uint256[8] memory scores) = _top();
        who[1] = address(rewards);
        uint256[] memory inst = _instances(nonce, prover, who, scores);
        rewards.submit(_prove(inst), inst);
        assertEq(rewards.balanceOf(address(rewards)), 0);
        assertEq(rewards.balanceOf(treasury), 503 + 1364);
    }

    function test_prover_row_naming_rewards_contract_rejected() public {
        uint256 nonce = _open(requester, FEE);
        (address[8] memory who, uint256[8] memory scores) = _top();
        uint256[] memory inst = _instances(nonce, address(rewards), who, scores);
        bytes memory proof = _prove(inst);
        vm.expectRevert(
            abi.encodeWithSelector(AttributionRewards.BadProver.selector, uint256(uint160(address(rewards))))
        );
        rewards.submit(proof, inst);
    }

    function test_k_above_cap_rejected() public {
        ModelRegistry.Model memory m = _model(3000, 5000, 1500, 500);
        m.k = 65;
        m.numInstances = 7 + 2 * 65;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.KTooLarge.selector, 65, 64));
        models.register(MODEL_ID + 1, ADAPTER_ID, m, datanetId, 0);
        m.k = 64;
        m.numInstances = 7 + 2 * 64;
        models.register(MODEL_ID + 1, ADAPTER_ID, m, datanetId, 0);
    }

    function test_register_rejects_disabled_flag() public {
        ModelRegistry.Model memory m = _model(3000, 5000, 1500, 500);
        m.disabled = true;
        vm.expectRevert(ModelRegistry.RegisteredDisabled.selector);
        models.register(MODEL_ID + 1, ADAPTER_ID, m, datanetId, 0);
    }

    function test_disabled_model_refuses_new_requests() public {
        models.disable(MODEL_ID, ADAPTER_ID);
        assertTrue(token.transfer(requester, FEE), "transfer");
        vm.startPrank(requester);
        token.approve(address(rewards), FEE);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.ModelDisabled.selector, MODEL_ID, ADAPTER_ID));
        rewards.openRequest(MODEL_ID, ADAPTER_ID, datanetId, VERSION, FEE, 0, TTL);
        vm.stopPrank();
    }

    function test_disabled_model_open_request_refundable_before_deadline() public {
        uint256 nonce = _open(requester, FEE);
        models.disable(MODEL_ID, ADAPTER_ID);
        assertTrue(block.timestamp < _deadline(nonce), "before the deadline");
        vm.prank(requester);
        assertEq(rewards.refund(nonce), FEE);
        assertEq(token.balanceOf(requester), FEE);
    }

    function test_disabled_model_rejects_submit() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        models.disable(MODEL_ID, ADAPTER_ID);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.ModelDisabled.selector, MODEL_ID, ADAPTER_ID));
        rewards.submit(proof, inst);
    }

    function test_only_owner_disables() public {
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(0xBAD)));
        models.disable(MODEL_ID, ADAPTER_ID);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotRegistered.selector, MODEL_ID + 9, ADAPTER_ID));
        models.disable(MODEL_ID + 9, ADAPTER_ID);
    }

    function test_registry_ownership_is_two_step() public {
        models.transferOwnership(address(0xBEEF));
        assertEq(models.owner(), address(this)); // not until accepted
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(0xBAD)));
        models.acceptOwnership();
        vm.prank(address(0xBEEF));
        models.acceptOwnership();
        assertEq(models.owner(), address(0xBEEF));
    }
}
