// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title Registered models: who is paid, which verifier checks their proofs, how fees split.
/// @notice Keyed by (model id, adapter id) — public instance rows 0 and 1 of an attribution
/// proof (model id: the first 31 bytes of the model digest; adapter id 0: the base model).
/// Registration is by the registry owner (governance) only, once per key.
contract ModelRegistry is Ownable {
    /// Basis points in a whole; the four fee shares sum to exactly this.
    uint16 public constant BPS = 10_000;
    /// Rows of the attribution header before the k (contributor, score) pairs.
    uint256 public constant HEADER_ROWS = 7;

    /// One registered model (adapter), in two storage words (what `submit` reads on every
    /// proof): who is paid and how much, then how its proofs are checked.
    struct Model {
        /// The model owner, paid the owner share.
        address owner;
        /// Fee shares in basis points, summing to 10,000.
        uint16 ownerBps;
        uint16 contributorsBps;
        uint16 proverBps;
        uint16 treasuryBps;
        /// The proof verifier (snark-verifier's generated contract: calldata = instances ‖ proof).
        address verifier;
        /// Entries published in the proof (top-k).
        uint16 k;
        /// Total public instances of a proof (header, k pairs, input part, outputs).
        uint32 numInstances;
    }

    mapping(uint256 => mapping(uint256 => Model)) internal _models;

    event ModelRegistered(
        uint256 indexed modelId,
        uint256 indexed adapterId,
        address indexed owner,
        address verifier,
        uint16 k,
        uint32 numInstances,
        uint16 ownerBps,
        uint16 contributorsBps,
        uint16 proverBps,
        uint16 treasuryBps
    );

    error BadShares(uint16 ownerBps, uint16 contributorsBps, uint16 proverBps, uint16 treasuryBps);
    error AlreadyRegistered(uint256 modelId, uint256 adapterId);
    error ZeroOwner();
    error VerifierHasNoCode(address verifier);
    error BadInstanceCount(uint16 k, uint32 numInstances);

    constructor(address initialOwner) Ownable(initialOwner) {}

    /// Registers `m` for (`modelId`, `adapterId`). Reverts unless the caller is the registry
    /// owner, the shares sum to 10,000, the verifier has code and the instance count holds the
    /// attribution header.
    function register(uint256 modelId, uint256 adapterId, Model calldata m) external onlyOwner {
        if (uint256(m.ownerBps) + m.contributorsBps + m.proverBps + m.treasuryBps != BPS) {
            revert BadShares(m.ownerBps, m.contributorsBps, m.proverBps, m.treasuryBps);
        }
        if (m.owner == address(0)) revert ZeroOwner();
        if (m.verifier.code.length == 0) revert VerifierHasNoCode(m.verifier);
        if (m.numInstances < HEADER_ROWS + 2 * uint256(m.k)) revert BadInstanceCount(m.k, m.numInstances);
        if (_models[modelId][adapterId].verifier != address(0)) revert AlreadyRegistered(modelId, adapterId);
        _models[modelId][adapterId] = m;
        emit ModelRegistered(
            modelId, adapterId, m.owner, m.verifier, m.k, m.numInstances, m.ownerBps, m.contributorsBps, m.proverBps, m.treasuryBps
        );
    }

    /// The model registered for (`modelId`, `adapterId`); `verifier == address(0)` if none.
    function model(uint256 modelId, uint256 adapterId) external view returns (Model memory) {
        return _models[modelId][adapterId];
    }
}
