// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {OpenToken} from "../OpenToken.sol";
import {DatanetRegistry} from "../DatanetRegistry.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {AttributionRewards} from "../AttributionRewards.sol";

contract AttributionRewardsTest is Fixture {
    uint256 internal constant FEE = 10_007;

    function setUp() public {
        _deployOpen();
    }

    // ---------------------------------------------------------------- happy path

    /// fee 10,007 at 3000/5000/1500/500: owner 3002, pool 5003, prover 1501, treasury 500 +
    /// dust 1; contributors A (5+2), B 3, C 1, D 0 of S = 11: 3183, 1364, 454, 0, dust 2 →
    /// treasury 503. Same numbers as `poa_runtime::attribution::reward::split`.
    function test_splitsFeeLikeTheRuntime() public {
        uint256 nonce = _open(requester, FEE);
        assertEq(token.balanceOf(address(rewards)), FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        assertFalse(rewards.paid(nonce));
        AttributionRewards.Credit[] memory credits = new AttributionRewards.Credit[](6);
        credits[0] = AttributionRewards.Credit(address(0xA1), AttributionRewards.Role.Contributor, 3183);
        credits[1] = AttributionRewards.Credit(address(0xB1), AttributionRewards.Role.Contributor, 1364);
        credits[2] = AttributionRewards.Credit(address(0xC1), AttributionRewards.Role.Contributor, 454);
        credits[3] = AttributionRewards.Credit(modelOwner, AttributionRewards.Role.Owner, 3002);
        credits[4] = AttributionRewards.Credit(prover, AttributionRewards.Role.Prover, 1501);
        credits[5] = AttributionRewards.Credit(treasury, AttributionRewards.Role.Treasury, 503);
        // D's line credits 0 and is left out of the event.
        vm.expectEmit();
        emit AttributionRewards.Settled(nonce, prover, address(this), credits);
        rewards.submit(proof, inst);
        assertEq(rewards.balanceOf(modelOwner), 3002);
        assertEq(rewards.balanceOf(prover), 1501);
        assertEq(rewards.balanceOf(treasury), 503);
        assertEq(rewards.balanceOf(address(0xA1)), 3183);
        assertEq(rewards.balanceOf(address(0xB1)), 1364);
        assertEq(rewards.balanceOf(address(0xC1)), 454);
        assertEq(rewards.balanceOf(address(0xD1)), 0);
        assertTrue(rewards.paid(nonce), "request marked paid");
        (address who, uint96 fee, bytes32 modelKey, bytes24 binding, uint64 deadline) = rewards.requests(nonce);
        assertEq(who, requester);
        assertEq(uint256(fee), FEE);
        assertEq(uint256(modelKey) + uint192(binding) + deadline, 0, "settling clears the model key and the binding");
    }

    function test_allZeroScoresSendPoolToTreasury() public {
        uint256 nonce = _open(requester, FEE);
        (address[8] memory who,) = _top();
        uint256[8] memory zeros;
        uint256[] memory inst = _instances(nonce, prover, who, zeros);
        rewards.submit(_prove(inst), inst);
        assertEq(rewards.balanceOf(treasury), 500 + 1 + 5003);
        assertEq(rewards.balanceOf(address(0xA1)), 0);
    }

    function test_claimTransfersCreditedBalance() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        rewards.submit(_prove(inst), inst);
        vm.prank(prover);
        vm.expectEmit();
        emit IERC20.Transfer(address(rewards), prover, 1501);
        uint256 got = rewards.claim();
        assertEq(got, 1501);
        assertEq(token.balanceOf(prover), 1501);
        assertEq(rewards.balanceOf(prover), 0);
    }

    function test_openRequestWithPermit() public {
        uint256 pk = 0xA11CE;
        address signer = vm.addr(pk);
        assertTrue(token.transfer(signer, FEE), "transfer");
        OpenToken open = OpenToken(address(token));
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                open.DOMAIN_SEPARATOR(),
                keccak256(
                    abi.encode(
                        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                        signer,
                        address(rewards),
                        FEE,
                        open.nonces(signer),
                        block.timestamp + 1 hours
                    )
                )
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        vm.prank(signer);
        uint256 nonce =
            rewards.openRequestWithPermit(MODEL_ID, ADAPTER_ID, datanetId, VERSION, FEE, 0, TTL, AttributionRewards.Permit(block.timestamp + 1 hours, v, r, s));
        assertEq(nonce, rewards.nonceAt(1));
        assertEq(token.balanceOf(address(rewards)), FEE);
        assertEq(token.balanceOf(signer), 0);
    }

    function test_rejectsFeeAboveUint96() public {
        uint256 fee = uint256(type(uint96).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.FeeTooLarge.selector, fee));
        rewards.openRequest(MODEL_ID, ADAPTER_ID, datanetId, VERSION, fee, 0, TTL);
    }

    // ---------------------------------------------------------------- proof and instances

    function test_rejectsTamperedProofByte() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        proof[17] ^= 0x01;
        vm.expectRevert(AttributionRewards.InvalidProof.selector);
        rewards.submit(proof, inst);
    }

    function test_rejectsTamperedInstance() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        inst[8] += 1; // first published score
        vm.expectRevert(AttributionRewards.InvalidProof.selector);
        rewards.submit(proof, inst);
    }

    function test_rejectsTamperedProverRow() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        inst[6] = uint256(uint160(address(this)));
        vm.expectRevert(AttributionRewards.InvalidProof.selector);
        rewards.submit(proof, inst);
    }

    function test_rejectsUnregisteredModel() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        inst[0] = MODEL_ID + 1;
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.ModelNotRegistered.selector, MODEL_ID + 1, ADAPTER_ID));
        rewards.submit(proof, inst);
    }

    function test_rejectsRequestForUnregisteredModel() public {
        assertTrue(token.transfer(requester, FEE), "transfer");
        vm.startPrank(requester);
        token.approve(address(rewards), FEE);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.ModelNotRegistered.selector, MODEL_ID + 1, ADAPTER_ID));
        rewards.openRequest(MODEL_ID + 1, ADAPTER_ID, datanetId, VERSION, FEE, 0, TTL);
        vm.stopPrank();
    }

    function test_rejectsRequestForUnsealedVersion() public {
        assertTrue(token.transfer(requester, FEE), "transfer");
        vm.startPrank(requester);
        token.approve(address(rewards), FEE);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.VersionNotSealed.selector, datanetId, 2));
        rewards.openRequest(MODEL_ID, ADAPTER_ID, datanetId, 2, FEE, 0, TTL);
        vm.stopPrank();
    }

    function test_rejectsWrongIndexRoot() public {
        // Version 2 is sealed with another root; a valid proof over it does not settle a request
        // for version 1.
        vm.prank(curator);
        datanets.sealVersion(datanetId, 2, ROOT + 1);
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        inst[4] = ROOT + 1;
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.BindingMismatch.selector, nonce, ROOT + 1, 0));
        rewards.submit(proof, inst);
    }

    function test_rejectsReplayOfAcceptedProof() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        rewards.submit(proof, inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.AlreadyPaid.selector, nonce));
        rewards.submit(proof, inst);
    }

    function test_rejectsProofBoundToAnotherNonce() public {
        uint256 first = _open(requester, FEE);
        uint256 second = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(first);
        bytes memory proof = _prove(inst);
        inst[5] = second; // reuse request 1's proof for request 2
        vm.expectRevert(AttributionRewards.InvalidProof.selector);
        rewards.submit(proof, inst);
    }

    function test_rejectsProofForAnotherRequestsModel() public {
        ModelRegistry.Model memory other = _model(2500, 2500, 2500, 2500);
        models.register(MODEL_ID + 1, ADAPTER_ID, other, datanetId, 0);
        uint256 nonce = _openFor(requester, MODEL_ID + 1, FEE);
        uint256[] memory inst = _defaultInstances(nonce); // model MODEL_ID, nonce of a MODEL_ID+1 request
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.ModelMismatch.selector, nonce));
        rewards.submit(proof, inst);
    }

    function test_rejectsUnknownNonce() public {
        uint256[] memory inst = _defaultInstances(42);
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.UnknownRequest.selector, 42));
        rewards.submit(proof, inst);
    }

    function test_rejectsWrongInstanceCount() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        uint256[] memory shorter = new uint256[](inst.length - 1);
        for (uint256 i = 0; i < shorter.length; ++i) {
            shorter[i] = inst[i];
        }
        bytes memory proof = _prove(shorter);
        vm.expectRevert(
            abi.encodeWithSelector(AttributionRewards.InstanceCountMismatch.selector, N_INSTANCES, N_INSTANCES - 1)
        );
        rewards.submit(proof, shorter);
    }

    function test_rejectsProverRowThatIsNotAnAddress() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        inst[6] = uint256(1) << 160;
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.BadProver.selector, uint256(1) << 160));
        rewards.submit(proof, inst);
    }

    function test_rejectsContributorRowThatIsNotAnAddress() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        inst[9] = uint256(1) << 160;
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.BadContributor.selector, uint256(1) << 160));
        rewards.submit(proof, inst);
    }

    function test_rejectsNegativeScore() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        // -1 in the BN254 scalar field
        uint256 minusOne = 21888242871839275222246405745257275088548364400416034343698204186575808495616;
        inst[8] = minusOne;
        bytes memory proof = _prove(inst);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.ScoreOutOfRange.selector, minusOne));
        rewards.submit(proof, inst);
    }

    function test_paysNamedProverNotSender() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        address copier = address(0xBAD);
        vm.prank(copier); // saw the proof in the mempool and sent it first
        rewards.submit(proof, inst);
        assertEq(rewards.balanceOf(prover), 1501);
        assertEq(rewards.balanceOf(copier), 0);
    }

    // ---------------------------------------------------------------- claims

    function test_claimTwiceSecondReverts() public {
        uint256 nonce = _open(requester, FEE);
        uint256[] memory inst = _defaultInstances(nonce);
        rewards.submit(_prove(inst), inst);
        vm.prank(modelOwner);
        rewards.claim();
        vm.prank(modelOwner);
        vm.expectRevert(abi.encodeWithSelector(AttributionRewards.NothingToClaim.selector, modelOwner));
        rewards.claim();
        assertEq(token.balanceOf(modelOwner), 3002);
    }

    function test_reentrantClaimIsStopped() public {
        // A token that calls the receiver back on transfer (OPEN never does; this is the worst
        // case) and a receiver that tries to claim again from inside the transfer. `claim` has
        // no reentrancy lock: it zeroes the balance before the transfer, so the re-entered claim
        // finds nothing and reverts; the outer one pays once.
        HookToken hook = new HookToken();
        _deploy(IERC20(address(hook)));
        Reenterer attacker = new Reenterer(rewards);
        hook.setHookTarget(address(attacker));

        uint256 nonce = _open(requester, FEE);
        (address[8] memory who, uint256[8] memory scores) = _top();
        uint256[] memory inst = _instances(nonce, address(attacker), who, scores);
        rewards.submit(_prove(inst), inst);

        vm.prank(address(attacker));
        rewards.claim();
        assertTrue(attacker.reentered(), "hook ran");
        assertEq(
            uint256(keccak256(attacker.reentryError())),
            uint256(keccak256(abi.encodeWithSelector(AttributionRewards.NothingToClaim.selector, address(attacker)))),
            "re-entered claim reverts NothingToClaim"
        );
        assertEq(hook.balanceOf(address(attacker)), 1501, "paid once");
        assertEq(rewards.balanceOf(address(attacker)), 0);
        assertEq(hook.balanceOf(address(rewards)), FEE - 1501);
    }

    // ---------------------------------------------------------------- token

    function test_openTokenMintsSupplyToHolderAndCountsVotes() public {
        OpenToken open = new OpenToken(address(0xF00D), 1_000 ether);
        assertEq(open.totalSupply(), 1_000 ether);
        assertEq(open.balanceOf(address(0xF00D)), 1_000 ether);
        assertEq(open.getVotes(address(0xF00D)), 0);
        vm.prank(address(0xF00D));
        open.delegate(address(0xF00D));
        assertEq(open.getVotes(address(0xF00D)), 1_000 ether);
    }

    // ---------------------------------------------------------------- registries

    function test_rejectsSharesNotSummingTo10000() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.BadShares.selector, 3000, 5000, 1500, 499));
        models.register(MODEL_ID + 1, ADAPTER_ID, _model(3000, 5000, 1500, 499), datanetId, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.BadShares.selector, 3000, 5000, 1500, 501));
        models.register(MODEL_ID + 1, ADAPTER_ID, _model(3000, 5000, 1500, 501), datanetId, 0);
    }

    function test_rejectsNonOwnerRegistration() public {
        ModelRegistry.Model memory m = _model(3000, 5000, 1500, 500);
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(0xBAD)));
        models.register(MODEL_ID + 1, ADAPTER_ID, m, datanetId, 0);
    }

    function test_rejectsDoubleRegistration() public {
        ModelRegistry.Model memory m = _model(3000, 5000, 1500, 500);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AlreadyRegistered.selector, MODEL_ID, ADAPTER_ID));
        models.register(MODEL_ID, ADAPTER_ID, m, datanetId, 0);
    }

    function test_rejectsTooFewInstancesForK() public {
        ModelRegistry.Model memory m = _model(3000, 5000, 1500, 500);
        m.numInstances = 7 + 2 * 8 - 1;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.BadInstanceCount.selector, 8, 22));
        models.register(MODEL_ID + 1, ADAPTER_ID, m, datanetId, 0);
    }

    function test_onlyCuratorSealsVersions() public {
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotCurator.selector, datanetId, address(0xBAD)));
        datanets.sealVersion(datanetId, 2, ROOT);
    }

    function test_sealedRootIsImmutable() public {
        vm.prank(curator);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.VersionAlreadySealed.selector, datanetId, VERSION, ROOT));
        datanets.sealVersion(datanetId, VERSION, ROOT + 1);
        assertEq(datanets.rootOf(datanetId, VERSION), ROOT);
    }

    function test_rejectsRootOutsideField() public {
        uint256 r = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
        vm.prank(curator);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.BadIndexRoot.selector, r));
        datanets.sealVersion(datanetId, 2, r);
    }

    // ---------------------------------------------------------------- fuzz

    /// No OPEN is created or lost: for any fee, shares and scores, the credits sum to the fee.
    function testFuzz_creditsSumToFee(
        uint128 fee,
        uint16 ownerBps,
        uint16 contributorsBps,
        uint16 proverBps,
        uint256[8] memory scores,
        uint8[8] memory pick
    ) public {
        ownerBps = uint16(bound(ownerBps, 0, 10_000));
        contributorsBps = uint16(bound(contributorsBps, 0, 10_000 - ownerBps));
        proverBps = uint16(bound(proverBps, 0, 10_000 - ownerBps - contributorsBps));
        uint16 treasuryBps = 10_000 - ownerBps - contributorsBps - proverBps;
        models.register(MODEL_ID + 1, ADAPTER_ID, _model(ownerBps, contributorsBps, proverBps, treasuryBps), datanetId, 0);
        fee = uint128(bound(fee, 0, 1e9 ether));

        address[4] memory pool = [address(0xA1), address(0xB1), address(0xC1), address(0xD1)];
        address[8] memory who;
        for (uint256 t = 0; t < 8; ++t) {
            who[t] = pool[pick[t] % 4];
            scores[t] = pick[t] & 0x80 != 0 ? 0 : bound(scores[t], 0, type(uint128).max);
        }
        uint256 nonce = _openFor(requester, MODEL_ID + 1, fee);
        uint256[] memory inst = _instances(nonce, prover, who, scores);
        inst[0] = MODEL_ID + 1;
        rewards.submit(_prove(inst), inst);

        uint256 credited = rewards.balanceOf(modelOwner) + rewards.balanceOf(prover) + rewards.balanceOf(treasury);
        for (uint256 i = 0; i < 4; ++i) {
            credited += rewards.balanceOf(pool[i]);
        }
        assertEq(rewards.balanceOf(modelOwner), uint256(fee) * ownerBps / 10_000, "owner = floor(fee*bps)");
        assertEq(rewards.balanceOf(prover), uint256(fee) * proverBps / 10_000, "prover = floor(fee*bps)");
        assertTrue(rewards.balanceOf(treasury) >= uint256(fee) * treasuryBps / 10_000, "treasury >= its share");
        assertEq(credited, fee, "credits == fee");
        assertEq(token.balanceOf(address(rewards)), fee, "held == fee");
    }
}

/// A token that calls `hookTarget.onTokens()` after every transfer to it.
contract HookToken is ERC20 {
    address public hookTarget;

    constructor() ERC20("Hook", "HOOK") {
        _mint(msg.sender, 1e9 ether);
    }

    function setHookTarget(address t) external {
        hookTarget = t;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (to == hookTarget && to != address(0)) Reenterer(to).onTokens();
    }
}

/// Receiver that tries to claim again while its claim's transfer is in flight.
contract Reenterer {
    AttributionRewards internal immutable rewards;
    bool public reentered;
    bytes public reentryError;

    constructor(AttributionRewards r) {
        rewards = r;
    }

    function onTokens() external {
        reentered = true;
        try rewards.claim() {
            reentryError = "";
        } catch (bytes memory err) {
            reentryError = err;
        }
    }
}
