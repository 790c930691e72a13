// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title Registered models: who is paid, which verifier checks their proofs, how fees split.
/// @notice Keyed by (model id, adapter id) — public instance rows 0 and 1 of an attribution
/// proof (model id: the first 31 bytes of the model digest; adapter id 0: the base model).
/// Registration is by the registry owner (governance: the timelock of `OpenGovernor`) only,
/// once per key. A registration names the datanet the model may be attributed over (and, for a
/// `fixed` index, the one root its proofs can carry): requests for any other datanet or root
/// are refused, so a model cannot be pointed at data it was not registered for.
/// Ownership moves in two steps (`Ownable2Step`): a mistyped new owner cannot take it.
contract ModelRegistry is Ownable2Step {
    /// Basis points in a whole; the four fee shares sum to exactly this.
    uint16 public constant BPS = 10_000;
    /// Rows of the attribution header before the k (contributor, score) pairs.
    uint256 public constant HEADER_ROWS = 7;
    /// Most top-k entries a model may publish: `submit` loops over k pairs (and merges them in
    /// O(k²)), so an unbounded k could make every proof of the model unaffordable to settle.
    uint16 public constant MAX_K = 64;
    /// BN254 scalar field modulus: a pinned root is a field element, so it is below this.
    uint256 internal constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

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
        /// Entries published in the proof (top-k), at most `MAX_K`.
        uint16 k;
        /// Total public instances of a proof (header, k pairs, input part, outputs).
        uint32 numInstances;
        /// Disabled by the owner: no new requests, no settlements; open requests refundable.
        /// Must be false at registration.
        bool disabled;
    }

    /// What a model may be attributed over: a datanet, and for a `fixed` index the root pinned
    /// at setup (0: any sealed version of the datanet).
    struct Scope {
        uint256 datanetId;
        uint256 pinnedRoot;
    }

    mapping(uint256 => mapping(uint256 => Model)) internal _models;
    /// (model id, adapter id) → the datanet (and pinned root) it may be attributed over.
    mapping(uint256 => mapping(uint256 => Scope)) public scopeOf;
    /// `keyOf(modelId, adapterId)` → disabled. Lets the rewards contract, which keeps only a
    /// request's model key, tell whether the request's model was disabled (refund before the
    /// deadline).
    mapping(bytes32 => bool) public disabledKey;

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
    event ModelScoped(uint256 indexed modelId, uint256 indexed adapterId, uint256 indexed datanetId, uint256 pinnedRoot);
    event ModelDisabled(uint256 indexed modelId, uint256 indexed adapterId);

    error BadShares(uint16 ownerBps, uint16 contributorsBps, uint16 proverBps, uint16 treasuryBps);
    error AlreadyRegistered(uint256 modelId, uint256 adapterId);
    error NotRegistered(uint256 modelId, uint256 adapterId);
    error ZeroOwner();
    error VerifierHasNoCode(address verifier);
    error BadInstanceCount(uint16 k, uint32 numInstances);
    error KTooLarge(uint16 k, uint16 max);
    error RegisteredDisabled();
    error BadScope(uint256 datanetId, uint256 pinnedRoot);

    constructor(address initialOwner) Ownable(initialOwner) {}

    /// Registers `m` for (`modelId`, `adapterId`), attributed over `datanetId` (and only
    /// `pinnedRoot` when nonzero: a `fixed` index). Reverts unless the caller is the registry
    /// owner, the shares sum to 10,000, the verifier has code, k ≤ `MAX_K`, the instance count
    /// holds the attribution header and the scope names a datanet (and a field-element root).
    function register(uint256 modelId, uint256 adapterId, Model calldata m, uint256 datanetId, uint256 pinnedRoot)
        external
        onlyOwner
    {
        if (uint256(m.ownerBps) + m.contributorsBps + m.proverBps + m.treasuryBps != BPS) {
            revert BadShares(m.ownerBps, m.contributorsBps, m.proverBps, m.treasuryBps);
        }
        if (m.owner == address(0)) revert ZeroOwner();
        if (m.verifier.code.length == 0) revert VerifierHasNoCode(m.verifier);
        if (m.k > MAX_K) revert KTooLarge(m.k, MAX_K);
        if (m.numInstances < HEADER_ROWS + 2 * uint256(m.k)) revert BadInstanceCount(m.k, m.numInstances);
        if (m.disabled) revert RegisteredDisabled();
        if (datanetId == 0 || pinnedRoot >= FIELD_MODULUS) revert BadScope(datanetId, pinnedRoot);
        if (_models[modelId][adapterId].verifier != address(0)) revert AlreadyRegistered(modelId, adapterId);
        _models[modelId][adapterId] = m;
        scopeOf[modelId][adapterId] = Scope(datanetId, pinnedRoot);
        emit ModelRegistered(
            modelId, adapterId, m.owner, m.verifier, m.k, m.numInstances, m.ownerBps, m.contributorsBps, m.proverBps, m.treasuryBps
        );
        emit ModelScoped(modelId, adapterId, datanetId, pinnedRoot);
    }

    /// Disables (`modelId`, `adapterId`) for good (owner only): e.g. a verifier found unsound or
    /// a model withdrawn. New requests and settlements are refused; requesters of open requests
    /// may refund at once. Registration stays (the key cannot be registered again).
    function disable(uint256 modelId, uint256 adapterId) external onlyOwner {
        Model storage m = _models[modelId][adapterId];
        if (m.verifier == address(0)) revert NotRegistered(modelId, adapterId);
        m.disabled = true;
        disabledKey[keyOf(modelId, adapterId)] = true;
        emit ModelDisabled(modelId, adapterId);
    }

    /// The model registered for (`modelId`, `adapterId`); `verifier == address(0)` if none.
    function model(uint256 modelId, uint256 adapterId) external view returns (Model memory) {
        return _models[modelId][adapterId];
    }

    /// The key of (`modelId`, `adapterId`) in `disabledKey` (and in a request).
    function keyOf(uint256 modelId, uint256 adapterId) public pure returns (bytes32) {
        return keccak256(abi.encode(modelId, adapterId));
    }
}
