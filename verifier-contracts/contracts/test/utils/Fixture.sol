// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {TestOnlyHashVerifier} from "./TestOnlyHashVerifier.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {OpenToken} from "../../OpenToken.sol";
import {DatanetRegistry} from "../../DatanetRegistry.sol";
import {ModelRegistry} from "../../ModelRegistry.sol";
import {AttributionRewards} from "../../AttributionRewards.sol";

/// Deployed system: OPEN, both registries, one datanet with version 1 sealed, one model
/// (k = 8, 3 extra instance rows for outputs) behind a test-only verifier, and the rewards
/// contract. Helpers build layout-v3 instances and "prove" them (commit their calldata hash).
abstract contract Fixture is Test {
    uint256 internal constant MODEL_ID = 0x00c0ffee;
    uint256 internal constant ADAPTER_ID = 0;
    uint256 internal constant ROOT = 0x1234abcd;
    uint256 internal constant VERSION = 1;
    uint16 internal constant K = 8;
    uint32 internal constant N_INSTANCES = 7 + 2 * 8 + 3;
    uint256 internal constant TTL = 1 days;

    address internal treasury = address(0x7EA5);
    address internal modelOwner = address(0x0A11CE);
    address internal curator = address(0xC0C0);
    address internal requester = address(0xB0B);
    address internal prover = address(0x9900);

    IERC20 internal token;
    ModelRegistry internal models;
    DatanetRegistry internal datanets;
    AttributionRewards internal rewards;
    TestOnlyHashVerifier internal verifier;
    uint256 internal datanetId;

    function _deploy(IERC20 token_) internal {
        token = token_;
        models = new ModelRegistry(address(this));
        datanets = new DatanetRegistry();
        verifier = new TestOnlyHashVerifier();
        rewards = new AttributionRewards(token, models, datanets, treasury);
        datanetId = datanets.createDatanet(curator);
        vm.prank(curator);
        datanets.sealVersion(datanetId, VERSION, ROOT);
        models.register(MODEL_ID, ADAPTER_ID, _model(3000, 5000, 1500, 500), datanetId, 0);
    }

    function _deployOpen() internal {
        _deploy(IERC20(address(new OpenToken(address(this), 1e9 ether))));
    }

    function _model(uint16 o, uint16 c, uint16 p, uint16 t) internal view returns (ModelRegistry.Model memory) {
        return ModelRegistry.Model({
            owner: modelOwner,
            verifier: address(verifier),
            k: K,
            numInstances: N_INSTANCES,
            ownerBps: o,
            contributorsBps: c,
            proverBps: p,
            treasuryBps: t,
            disabled: false
        });
    }

    /// Funds `who` and opens a request from it for the fixture's model and datanet version.
    function _open(address who, uint256 fee) internal returns (uint256 nonce) {
        return _openFor(who, MODEL_ID, fee);
    }

    function _openFor(address who, uint256 modelId, uint256 fee) internal returns (uint256 nonce) {
        assertTrue(token.transfer(who, fee), "transfer");
        vm.startPrank(who);
        token.approve(address(rewards), fee);
        nonce = rewards.openRequest(modelId, ADAPTER_ID, datanetId, VERSION, fee, 0, TTL);
        vm.stopPrank();
    }

    /// Layout-v3 instances: header, k (contributor, score) pairs, then 3 output rows.
    function _instances(uint256 nonce, address prover_, address[8] memory who, uint256[8] memory scores)
        internal
        pure
        returns (uint256[] memory inst)
    {
        inst = new uint256[](N_INSTANCES);
        inst[0] = MODEL_ID;
        inst[1] = ADAPTER_ID;
        inst[2] = 0; // input commitment (public input)
        inst[3] = 7; // predicted class
        inst[4] = ROOT;
        inst[5] = nonce;
        inst[6] = uint256(uint160(prover_));
        for (uint256 t = 0; t < 8; ++t) {
            inst[7 + 2 * t] = uint256(uint160(who[t]));
            inst[8 + 2 * t] = scores[t];
        }
        inst[23] = 1;
        inst[24] = 2;
        inst[25] = 3;
    }

    /// A "proof" of `inst` the test verifier accepts (its calldata hash committed).
    function _prove(uint256[] memory inst) internal returns (bytes memory proof) {
        proof = abi.encodePacked(keccak256(abi.encode("proof", inst)), bytes32(uint256(0xdead)), uint8(1));
        verifier.accept(keccak256(abi.encodePacked(inst, proof)));
    }

    /// Contributors A, B, A, C, D, D, D, D with scores 5, 3, 2, 1, 0, 0, 0, 0.
    function _top() internal pure returns (address[8] memory who, uint256[8] memory scores) {
        address a = address(0xA1);
        address b = address(0xB1);
        address c = address(0xC1);
        address d = address(0xD1);
        who = [a, b, a, c, d, d, d, d];
        scores = [uint256(5), 3, 2, 1, 0, 0, 0, 0];
    }

    function _defaultInstances(uint256 nonce) internal pure returns (uint256[] memory) {
        (address[8] memory who, uint256[8] memory scores) = _top();
        return _instances(nonce, address(0x9900), who, scores);
    }
}
