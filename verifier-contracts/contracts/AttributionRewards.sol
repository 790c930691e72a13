// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol"; // its error only
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {DatanetRegistry} from "./DatanetRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";

/// @title Inference requests paid in OPEN, settled by a proof of attribution.
/// @notice A requester opens a request (fee pulled in OPEN, nonce assigned). A prover answers
/// with a proof whose public instances (layout v3, see README) name the model, adapter, index
/// root, the request nonce, the prover to pay and the top-k (contributor, score) pairs. An
/// accepted proof splits the fee exactly as `poa_runtime::attribution::reward::split`:
/// `floor(fee·bps/10_000)` to owner, contributors' pool, prover and treasury; the pool to
/// contributors ∝ their summed top-k scores (`floor(pool·s/S)`, one line per contributor);
/// every rounding remainder — and the whole pool when all scores are 0 — to the treasury.
/// Amounts are credited (pull payments) and withdrawn with `claim()`.
///
/// Events: `RequestOpened` when a request is paid for, one `Settled` per accepted proof (the
/// prover, the submitter and every amount credited, in one log: 11 separate logs cost ~13k gas
/// more at k = 8), and a claim is OPEN's own `Transfer(from: this contract, to: claimant)` — the
/// only transfer this contract makes, so a filter on that `from` topic lists every claim without
/// a second, duplicate log on each one.
contract AttributionRewards is ReentrancyGuardTransient {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant ROW_MODEL_ID = 0;
    uint256 internal constant ROW_ADAPTER_ID = 1;
    uint256 internal constant ROW_INDEX_ROOT = 4;
    uint256 internal constant ROW_NONCE = 5;
    uint256 internal constant ROW_PROVER = 6;
    uint256 internal constant ROW_FIRST_PAIR = 7;

    /// Why an amount was credited.
    enum Role {
        Owner,
        Contributor,
        Prover,
        Treasury
    }

    /// One request, in three storage words. The index root is read from the datanet registry
    /// when the request is opened: a sealed version's root never changes, so this is the root of
    /// the requested (datanet, version), stored instead of the pair. The model is kept as
    /// `keccak256(modelId, adapterId)` (the ids are in `RequestOpened`). Settling clears
    /// `modelKey` and `indexRoot` — a settled request is one whose root is 0 (a sealed root never
    /// is) — and the two cleared words refund most of what reading them cost.
    struct Request {
        address requester;
        uint96 fee;
        bytes32 modelKey;
        uint256 indexRoot;
    }

    /// One amount credited by a settlement.
    struct Credit {
        address account;
        Role role;
        uint256 amount;
    }

    IERC20 public immutable token;
    ModelRegistry public immutable models;
    DatanetRegistry public immutable datanets;
    address public immutable treasury;

    /// Nonce → request. Nonces start at 1 (0 is never a request).
    mapping(uint256 => Request) public requests;
    /// Last nonce assigned.
    uint256 public lastNonce;
    /// Credited, unclaimed OPEN per account.
    mapping(address => uint256) public balanceOf;

    event RequestOpened(
        uint256 indexed nonce,
        address indexed requester,
        uint256 indexed modelId,
        uint256 adapterId,
        uint256 datanetId,
        uint256 version,
        uint256 fee
    );
    /// A proof settled `nonce`: `prover` (instance row 6) is paid, whoever `submitter` is;
    /// `credits` are the nonzero amounts credited — contributors in order of first appearance in
    /// the top-k, then owner, prover and treasury — summing to the request's fee.
    event Settled(uint256 indexed nonce, address indexed prover, address indexed submitter, Credit[] credits);

    error ZeroAddress();
    error ModelNotRegistered(uint256 modelId, uint256 adapterId);
    error VersionNotSealed(uint256 datanetId, uint256 version);
    error InstanceCountMismatch(uint256 expected, uint256 actual);
    error FeeTooLarge(uint256 fee);
    error UnknownRequest(uint256 nonce);
    error AlreadyPaid(uint256 nonce);
    error ModelMismatch(uint256 nonce);
    error IndexRootMismatch(uint256 nonce, uint256 expected, uint256 actual);
    error BadProver(uint256 value);
    error BadContributor(uint256 value);
    error ScoreOutOfRange(uint256 value);
    error InvalidProof();
    error NothingToClaim(address account);

    constructor(IERC20 token_, ModelRegistry models_, DatanetRegistry datanets_, address treasury_) {
        if (
            address(token_) == address(0) || address(models_) == address(0) || address(datanets_) == address(0)
                || treasury_ == address(0)
        ) revert ZeroAddress();
        token = token_;
        models = models_;
        datanets = datanets_;
        treasury = treasury_;
    }

    /// Opens a request for an inference of (`modelId`, `adapterId`) attributed over `version` of
    /// `datanetId`, pulling `fee` OPEN from the caller (approve first). Returns the nonce the
    /// proof must carry in row 5.
    function openRequest(uint256 modelId, uint256 adapterId, uint256 datanetId, uint256 version, uint256 fee)
        external
        nonReentrant
        returns (uint256 nonce)
    {
        return _open(modelId, adapterId, datanetId, version, fee);
    }

    /// `openRequest` with an EIP-2612 permit instead of a prior approve. A permit that was
    /// already used (e.g. front-run from the mempool) is ignored; the pull then needs the
    /// allowance it granted.
    function openRequestWithPermit(
        uint256 modelId,
        uint256 adapterId,
        uint256 datanetId,
        uint256 version,
        uint256 fee,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 nonce) {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), fee, deadline, v, r, s) {} catch {}
        return _open(modelId, adapterId, datanetId, version, fee);
    }

    function _open(uint256 modelId, uint256 adapterId, uint256 datanetId, uint256 version, uint256 fee)
        internal
        returns (uint256 nonce)
    {
        if (fee > type(uint96).max) revert FeeTooLarge(fee); // 7.9e10 OPEN, above the supply
        if (models.model(modelId, adapterId).verifier == address(0)) revert ModelNotRegistered(modelId, adapterId);
        uint256 root = datanets.rootOf(datanetId, version);
        if (root == 0) revert VersionNotSealed(datanetId, version);
        nonce = ++lastNonce;
        requests[nonce] = Request({
            requester: msg.sender,
            // casting to 'uint96' is safe because fee <= type(uint96).max was checked above
            // forge-lint: disable-next-line(unsafe-typecast)
            fee: uint96(fee),
            modelKey: _modelKey(modelId, adapterId),
            indexRoot: root
        });
        emit RequestOpened(nonce, msg.sender, modelId, adapterId, datanetId, version, fee);
        // OPEN returns true or reverts; checked directly, like the transfer in `claim`.
        if (!token.transferFrom(msg.sender, address(this), fee)) {
            revert SafeERC20.SafeERC20FailedOperation(address(token));
        }
    }

    /// Settles the request named in `instances[5]` with `proof`. Anyone may submit; the prover
    /// paid is the one in row 6, which the proof binds (a proof copied from the mempool still
    /// pays its named prover). Reverts on any mismatch with the request or the registries, and
    /// when the model's verifier rejects (reverts on) `instances ‖ proof`.
    function submit(bytes calldata proof, uint256[] calldata instances) external nonReentrant {
        if (instances.length < ROW_FIRST_PAIR) revert InstanceCountMismatch(ROW_FIRST_PAIR, instances.length);
        ModelRegistry.Model memory m = models.model(instances[ROW_MODEL_ID], instances[ROW_ADAPTER_ID]);
        if (m.verifier == address(0)) revert ModelNotRegistered(instances[ROW_MODEL_ID], instances[ROW_ADAPTER_ID]);
        if (instances.length != m.numInstances) revert InstanceCountMismatch(m.numInstances, instances.length);

        uint256 nonce = instances[ROW_NONCE];
        Request storage req = requests[nonce];
        if (req.requester == address(0)) revert UnknownRequest(nonce);
        {
            uint256 root = req.indexRoot;
            if (root == 0) revert AlreadyPaid(nonce);
            if (req.modelKey != _modelKey(instances[ROW_MODEL_ID], instances[ROW_ADAPTER_ID])) {
                revert ModelMismatch(nonce);
            }
            if (instances[ROW_INDEX_ROOT] != root) revert IndexRootMismatch(nonce, root, instances[ROW_INDEX_ROOT]);
        }
        uint256 proverRow = instances[ROW_PROVER];
        if (proverRow == 0 || proverRow >> 160 != 0) revert BadProver(proverRow);

        // snark-verifier's generated verifier has no selector: calldata is the instances as
        // 32-byte words, then the proof bytes; it reverts on a bad proof.
        // A call to an address without code would succeed, so that is an invalid proof too.
        if (m.verifier.code.length == 0) revert InvalidProof();
        (bool ok,) = m.verifier.staticcall(abi.encodePacked(instances, proof));
        if (!ok) revert InvalidProof();

        req.modelKey = 0;
        req.indexRoot = 0;
        // casting to 'uint160' is safe because proverRow >> 160 == 0 was checked above
        // forge-lint: disable-next-line(unsafe-typecast)
        _settle(nonce, req.fee, m, address(uint160(proverRow)), instances);
    }

    /// Credits the fee of `nonce` and logs the settlement.
    function _settle(
        uint256 nonce,
        uint256 fee,
        ModelRegistry.Model memory m,
        address prover,
        uint256[] calldata instances
    ) internal {
        emit Settled(nonce, prover, msg.sender, _split(fee, m, prover, instances));
    }

    /// Whether request `nonce` was settled by an accepted proof.
    function paid(uint256 nonce) external view returns (bool) {
        Request storage req = requests[nonce];
        return req.requester != address(0) && req.indexRoot == 0;
    }

    /// The key a request stores for the model it asks for.
    function _modelKey(uint256 modelId, uint256 adapterId) internal pure returns (bytes32) {
        return keccak256(abi.encode(modelId, adapterId));
    }

    /// Credits `fee`; matches `poa_runtime::attribution::reward::split`. Returns the credits.
    function _split(uint256 fee, ModelRegistry.Model memory m, address prover, uint256[] calldata instances)
        internal
        returns (Credit[] memory credits)
    {
        uint256 ownerAmt = Math.mulDiv(fee, m.ownerBps, BPS);
        uint256 pool = Math.mulDiv(fee, m.contributorsBps, BPS);
        uint256 proverAmt = Math.mulDiv(fee, m.proverBps, BPS);
        uint256 treasuryAmt = fee - ownerAmt - pool - proverAmt; // its share plus step-1 dust

        // At most k contributor lines, then owner, prover, treasury.
        credits = new Credit[](uint256(m.k) + 3);
        // Contributors get ∝ score; what they do not get (rounding, or all of it when every
        // score is 0) goes to the treasury.
        (uint256 n, uint256 toContributors) = _payContributors(credits, pool, m.k, instances);
        treasuryAmt += pool - toContributors;
        n = _credit(credits, n, m.owner, Role.Owner, ownerAmt);
        n = _credit(credits, n, prover, Role.Prover, proverAmt);
        n = _credit(credits, n, treasury, Role.Treasury, treasuryAmt);
        // Drop the unused tail: an array's length is its first memory word.
        assembly ("memory-safe") {
            mstore(credits, n)
        }
    }

    /// Credits `pool` to the contributors ∝ their summed scores; returns the credits written
    /// and the amount credited.
    function _payContributors(Credit[] memory credits, uint256 pool, uint256 k, uint256[] calldata instances)
        internal
        returns (uint256 n, uint256 paidOut)
    {
        (address[] memory who, uint256[] memory score, uint256 lines, uint256 total) = _merge(k, instances);
        if (total == 0) return (0, 0);
        for (uint256 j = 0; j < lines; ++j) {
            uint256 amt = Math.mulDiv(pool, score[j], total);
            paidOut += amt;
            n = _credit(credits, n, who[j], Role.Contributor, amt);
        }
    }

    /// The top-k pairs summed per contributor, in order of first appearance (≤ k lines), and
    /// the sum of all scores.
    function _merge(uint256 k, uint256[] calldata instances)
        internal
        pure
        returns (address[] memory who, uint256[] memory score, uint256 lines, uint256 total)
    {
        who = new address[](k);
        score = new uint256[](k);
        for (uint256 t = 0; t < k; ++t) {
            uint256 c = instances[ROW_FIRST_PAIR + 2 * t];
            uint256 s = instances[ROW_FIRST_PAIR + 2 * t + 1];
            if (c >> 160 != 0) revert BadContributor(c);
            // Scores are non-negative integers below 2^128 (a negative one is encoded as a huge
            // field element and refused, like the runtime refuses negative scores).
            if (s >> 128 != 0) revert ScoreOutOfRange(s);
            total += s;
            // casting to 'uint160' is safe because c >> 160 == 0 was checked above
            // forge-lint: disable-next-line(unsafe-typecast)
            address a = address(uint160(c));
            uint256 j = 0;
            while (j < lines && who[j] != a) ++j;
            if (j == lines) {
                who[j] = a;
                ++lines;
            }
            score[j] += s;
        }
    }

    /// Credits `amount` to `account` and records it as `credits[n]`; returns the new count.
    function _credit(Credit[] memory credits, uint256 n, address account, Role role, uint256 amount)
        internal
        returns (uint256)
    {
        if (amount == 0) return n;
        balanceOf[account] += amount;
        credits[n] = Credit(account, role, amount);
        return n + 1;
    }

    /// Transfers the caller's whole credited balance to them.
    ///
    /// Reentrancy is stopped by checks-effects-interactions rather than `nonReentrant` (~470 gas
    /// less per claim): the balance is zeroed before the only external call, so a claim
    /// re-entered from inside the transfer finds nothing and reverts `NothingToClaim`, and
    /// anything else a callback calls sees this claim already settled. The claim's log is the
    /// token's `Transfer` from this contract (see the contract's notes on events).
    /// The token is the immutable OPEN (OpenZeppelin ERC20: returns true or reverts), so the
    /// returned `bool` is checked directly instead of through SafeERC20's optional-return
    /// handling; a token that returned no value would make this revert (the credit is kept).
    function claim() external returns (uint256 amount) {
        amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToClaim(msg.sender);
        balanceOf[msg.sender] = 0;
        if (!token.transfer(msg.sender, amount)) revert SafeERC20.SafeERC20FailedOperation(address(token));
    }
}
