// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Datanets and the index roots of their sealed versions.
/// @notice A datanet is a curated set of contributions; each sealed version is committed by its
/// index root (the Poseidon Merkle root over `(contributor, label, packed φ_i)` leaves, a BN254
/// scalar-field element — public instance row 4 of an attribution proof). Only the curator
/// seals versions, and a sealed version's root never changes: a proof that names a root is
/// bound to exactly that version of the data.
contract DatanetRegistry {
    /// BN254 scalar field modulus: a root is a field element, so it is below this.
    uint256 internal constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// Datanet id → curator (zero: no such datanet). Ids start at 1.
    mapping(uint256 => address) public curatorOf;
    /// Datanet id → version → index root (zero: not sealed).
    mapping(uint256 => mapping(uint256 => uint256)) public rootOf;
    /// Number of datanets created; the last id.
    uint256 public datanetCount;

    event DatanetCreated(uint256 indexed datanetId, address indexed curator);
    event CuratorChanged(uint256 indexed datanetId, address indexed previousCurator, address indexed newCurator);
    event VersionSealed(uint256 indexed datanetId, uint256 indexed version, uint256 indexRoot);

    error ZeroCurator();
    error NotCurator(uint256 datanetId, address caller);
    error BadIndexRoot(uint256 indexRoot);
    error VersionAlreadySealed(uint256 datanetId, uint256 version, uint256 indexRoot);

    modifier onlyCurator(uint256 datanetId) {
        if (msg.sender != curatorOf[datanetId] || msg.sender == address(0)) revert NotCurator(datanetId, msg.sender);
        _;
    }

    /// Creates a datanet curated by `curator`; returns its id.
    function createDatanet(address curator) external returns (uint256 datanetId) {
        if (curator == address(0)) revert ZeroCurator();
        datanetId = ++datanetCount;
        curatorOf[datanetId] = curator;
        emit DatanetCreated(datanetId, curator);
    }

    /// Hands curation of `datanetId` to `newCurator` (curator only).
    function setCurator(uint256 datanetId, address newCurator) external onlyCurator(datanetId) {
        if (newCurator == address(0)) revert ZeroCurator();
        emit CuratorChanged(datanetId, msg.sender, newCurator);
        curatorOf[datanetId] = newCurator;
    }

    /// Seals `version` of `datanetId` with `indexRoot` (curator only; once per version).
    function sealVersion(uint256 datanetId, uint256 version, uint256 indexRoot) external onlyCurator(datanetId) {
        if (indexRoot == 0 || indexRoot >= FIELD_MODULUS) revert BadIndexRoot(indexRoot);
        uint256 existing = rootOf[datanetId][version];
        if (existing != 0) revert VersionAlreadySealed(datanetId, version, existing);
        rootOf[datanetId][version] = indexRoot;
        emit VersionSealed(datanetId, version, indexRoot);
    }
}
