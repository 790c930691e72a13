// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";

/// The calls whose gas the README reports (`forge test --isolate --match-contract Gas
/// --gas-report`): submit at k = 8 with 8 distinct, never-credited contributors (the most
/// storage writes: 8 + owner + prover + treasury), submit with the 4-line default top-k, and a
/// claim, and a refund of an expired request. The verifier is the test-only hash verifier, so a
/// real verifier's cost comes on top.
contract GasTest is Fixture {
    uint256 internal nonce;

    function setUp() public {
        _deployOpen();
        nonce = _open(requester, 1000 ether);
    }

    function test_gas_submitK8DistinctContributors() public {
        address[8] memory who;
        uint256[8] memory scores;
        for (uint256 t = 0; t < 8; ++t) {
            // forge-lint: disable-next-line(unsafe-typecast)
            who[t] = address(uint160(0x1000 + t));
            scores[t] = 100 - t;
        }
        uint256[] memory inst = _instances(nonce, prover, who, scores);
        bytes memory proof = _prove(inst);
        rewards.submit(proof, inst);
    }

    function test_gas_submitK8FourContributors() public {
        uint256[] memory inst = _defaultInstances(nonce);
        bytes memory proof = _prove(inst);
        rewards.submit(proof, inst);
    }

    function test_gas_refund() public {
        vm.warp(block.timestamp + TTL + 1);
        vm.prank(requester);
        rewards.refund(nonce);
    }

    function test_gas_claim() public {
        uint256[] memory inst = _defaultInstances(nonce);
        rewards.submit(_prove(inst), inst);
        vm.prank(prover);
        rewards.claim();
    }
}
