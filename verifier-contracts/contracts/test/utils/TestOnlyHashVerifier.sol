// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// TEST ONLY — NOT A PROOF VERIFIER. Stands in for snark-verifier's generated verifier, which is
/// too large to deploy today (README "On-chain"). It has the same interface (no selector:
/// calldata = instances as 32-byte words ‖ proof bytes; reverts to reject) and accepts exactly
/// the calldata whose keccak a test committed with `accept`, so a tampered proof byte or public
/// instance is rejected the way a real verifier would reject it.
contract TestOnlyHashVerifier {
    mapping(bytes32 => bool) public accepted;

    function accept(bytes32 calldataHash) external {
        accepted[calldataHash] = true;
    }

    fallback(bytes calldata input) external returns (bytes memory) {
        require(accepted[keccak256(input)], "TestOnlyHashVerifier: rejected");
        return "";
    }
}
