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
/// Safety (each an attack the tests name):
/// - Deadline and refund: a request carries a deadline (`ttl` ≤ `MAX_TTL` after opening); no
///   proof settles it after that, and its requester may then `refund` the fee — at once if the
///   model was disabled. A request is closed once, paid or refunded, never both.
/// - Scope: a request's datanet (and root, for a model with a pinned `fixed` index) must be the
///   one the model was registered for.
/// - Domain-separated nonces: the public nonce is `keccak256(chainid, this, counter) mod r`, so
///   a proof for one deployment or chain never answers a request of another.
/// - Input binding: the requester names the input commitment (row 2) the proof must carry. 0
///   means "a proof that publishes no commitment" (public- or private-input circuits: the narrow
///   layout, the demo's default) and so binds no input: such a requester accepts whatever input
///   the prover chose (including one whose top-k are the prover's own entries). A requester who
///   needs the answer bound to its input uses a `hashed`-input model and a nonzero commitment;
///   0 is kept, not refused, because refusing it would lock every public/private-input model
///   out of on-chain requests.
/// - Contributor rows naming address 0 or this contract are credited to the treasury: a valid
///   proof then still settles, and nothing is credited to an account that can never claim.
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
    uint256 internal constant ROW_INPUT_COMMITMENT = 2;
    uint256 internal constant ROW_INDEX_ROOT = 4;
    uint256 internal constant ROW_NONCE = 5;
    uint256 internal constant ROW_PROVER = 6;
    uint256 internal constant ROW_FIRST_PAIR = 7;
    /// BN254 scalar field modulus r: public instances (the nonce, commitments) are below it.
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// Longest a request may stay open before its requester can refund it.
    uint64 public constant MAX_TTL = 30 days;
    /// `modelKey` of a refunded request (no model key is 1: keys are keccak hashes).
    bytes32 internal constant REFUNDED = bytes32(uint256(1));

    /// Why an amount was credited.
    enum Role {
        Owner,
        Contributor,
        Prover,
        Treasury
    }

    /// One request, in three storage words (what `submit` reads must stay at three: it is
    /// within a few k gas of its 450k target). The model is kept as `keccak256(modelId,
    /// adapterId)` (the ids are in `RequestOpened`). The index root (read from the datanet
    /// registry when the request is opened: a sealed root never changes) and the input
    /// commitment are kept as `binding`, the first 24 bytes of `keccak256(root, commitment)`,
    /// next to the deadline: a proof with another root or input would need a 192-bit second
    /// preimage. Settling clears `modelKey` and the third word — a closed request is one whose
    /// `binding` is 0 — and the cleared words refund most of what reading them cost; a refund
    /// clears the third word too and marks `modelKey` `REFUNDED`.
    struct Request {
        address requester;
        uint96 fee;
        bytes32 modelKey;
        bytes24 binding;
        uint64 deadline;
    }

    /// An EIP-2612 permit for `openRequestWithPermit` (a struct keeps the call's stack small).
    struct Permit {
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
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

    /// Public nonce (`nonceAt(counter)`) → request.
    mapping(uint256 => Request) public requests;
    /// Requests opened so far: the counter of the last one (counters start at 1).
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
        uint256 fee,
        uint256 inputCommitment,
        uint64 deadline
    );
    /// The requester of `nonce` took its fee back (deadline passed, or the model disabled).
    event Refunded(uint256 indexed nonce, address indexed requester, uint256 fee);
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
    error AlreadyRefunded(uint256 nonce);
    error ModelMismatch(uint256 nonce);
    error ModelDisabled(uint256 modelId, uint256 adapterId);
    error DatanetNotAllowed(uint256 datanetId, uint256 allowedDatanetId);
    error RootNotAllowed(uint256 indexRoot, uint256 pinnedRoot);
    error BadInputCommitment(uint256 inputCommitment);
    error BadTtl(uint256 ttl);
    error RequestExpired(uint256 nonce, uint64 deadline);
    error NotExpired(uint256 nonce, uint64 deadline);
    error NotRequester(uint256 nonce, address caller);
    /// The proof's index root (row 4) or input commitment (row 2) is not the request's.
    error BindingMismatch(uint256 nonce, uint256 indexRoot, uint256 inputCommitment);
    error BadProver(uint256 value);
    error BadContributor(uint256 value);
    error ScoreOutOfRange(uint256 value);
    error InvalidProof();
    error NothingToClaim(address account);

    constructor(IERC20 token_, ModelRegistry models_, DatanetRegistry datanets_, address treasury_) {
        if (
            address(token_) == address(0) || address(models_) == address(0) || address(datanets_) == address(0)
                || treasury_ == address(0) || treasury_ == address(this)
        ) revert ZeroAddress();
        token = token_;
        models = models_;
        datanets = datanets_;
        treasury = treasury_;
    }

    /// Opens a request for an inference of (`modelId`, `adapterId`) attributed over `version` of
    /// `datanetId` (the model's registered datanet), on the input committed by
    /// `inputCommitment` (row 2 of the proof; 0: a proof that publishes none, binding no input —
    /// see the contract notes), pulling `fee` OPEN from the caller (approve first). The request
    /// can be settled for `ttl` seconds (1 ≤ ttl ≤ `MAX_TTL`), then refunded. Returns the nonce
    /// the proof must carry in row 5.
    function openRequest(
        uint256 modelId,
        uint256 adapterId,
        uint256 datanetId,
        uint256 version,
        uint256 fee,
        uint256 inputCommitment,
        uint256 ttl
    ) external nonReentrant returns (uint256 nonce) {
        return _open(modelId, adapterId, datanetId, version, fee, inputCommitment, ttl);
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
        uint256 inputCommitment,
        uint256 ttl,
        Permit calldata p
    ) external nonReentrant returns (uint256 nonce) {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), fee, p.deadline, p.v, p.r, p.s) {} catch {}
        return _open(modelId, adapterId, datanetId, version, fee, inputCommitment, ttl);
    }

    /// The public nonce of the `counter`-th request: bound to this chain and this contract so a
    /// proof made for another deployment never matches, and below r so it is a field element.
    /// `poa_contracts::chain::request_nonce` computes the same.
    function nonceAt(uint256 counter) public view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(this), counter))) % FIELD_MODULUS;
    }

    function _open(
        uint256 modelId,
        uint256 adapterId,
        uint256 datanetId,
        uint256 version,
        uint256 fee,
        uint256 inputCommitment,
        uint256 ttl
    ) internal returns (uint256 nonce) {
        if (fee > type(uint96).max) revert FeeTooLarge(fee); // 7.9e10 OPEN, above the supply
        if (inputCommitment >= FIELD_MODULUS) revert BadInputCommitment(inputCommitment);
        if (ttl == 0 || ttl > MAX_TTL) revert BadTtl(ttl);
        {
            ModelRegistry.Model memory m = models.model(modelId, adapterId);
            if (m.verifier == address(0)) revert ModelNotRegistered(modelId, adapterId);
            if (m.disabled) revert ModelDisabled(modelId, adapterId);
        }
        uint256 root = datanets.rootOf(datanetId, version);
        if (root == 0) revert VersionNotSealed(datanetId, version);
        {
            (uint256 allowed, uint256 pinned) = models.scopeOf(modelId, adapterId);
            if (datanetId != allowed) revert DatanetNotAllowed(datanetId, allowed);
            if (pinned != 0 && root != pinned) revert RootNotAllowed(root, pinned);
        }
        nonce = nonceAt(++lastNonce);
        // casting to 'uint64' is safe: ttl <= MAX_TTL and timestamps are far below 2^63
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 deadline = uint64(block.timestamp + ttl);
        requests[nonce] = Request({
            requester: msg.sender,
            // casting to 'uint96' is safe because fee <= type(uint96).max was checked above
            // forge-lint: disable-next-line(unsafe-typecast)
            fee: uint96(fee),
            modelKey: _modelKey(modelId, adapterId),
            binding: _binding(root, inputCommitment),
            deadline: deadline
        });
        emit RequestOpened(nonce, msg.sender, modelId, adapterId, datanetId, version, fee, inputCommitment, deadline);
        // OPEN returns true or reverts; checked directly, like the transfer in `claim`.
        if (!token.transferFrom(msg.sender, address(this), fee)) {
            revert SafeERC20.SafeERC20FailedOperation(address(token));
        }
    }

    /// Gives the requester of `nonce` its fee back, once the deadline has passed or at once when
    /// the model was disabled. A refunded request can never be paid; a paid one never refunded.
    function refund(uint256 nonce) external nonReentrant returns (uint256 fee) {
        Request storage req = requests[nonce];
        if (req.requester == address(0)) revert UnknownRequest(nonce);
        if (req.requester != msg.sender) revert NotRequester(nonce, msg.sender);
        bytes32 key = req.modelKey;
        if (req.binding == 0) {
            if (key == REFUNDED) revert AlreadyRefunded(nonce);
            revert AlreadyPaid(nonce);
        }
        uint64 deadline = req.deadline;
        if (block.timestamp <= deadline && !models.disabledKey(key)) revert NotExpired(nonce, deadline);
        fee = req.fee;
        req.modelKey = REFUNDED;
        req.binding = 0;
        req.deadline = 0;
        emit Refunded(nonce, msg.sender, fee);
        if (!token.transfer(msg.sender, fee)) revert SafeERC20.SafeERC20FailedOperation(address(token));
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
        if (m.disabled) revert ModelDisabled(instances[ROW_MODEL_ID], instances[ROW_ADAPTER_ID]);

        uint256 nonce = instances[ROW_NONCE];
        Request storage req = requests[nonce];
        if (req.requester == address(0)) revert UnknownRequest(nonce);
        {
            bytes32 key = req.modelKey;
            if (req.binding == 0) {
                if (key == REFUNDED) revert AlreadyRefunded(nonce);
                revert AlreadyPaid(nonce);
            }
            if (block.timestamp > req.deadline) revert RequestExpired(nonce, req.deadline);
            if (key != _modelKey(instances[ROW_MODEL_ID], instances[ROW_ADAPTER_ID])) {
                revert ModelMismatch(nonce);
            }
            if (req.binding != _binding(instances[ROW_INDEX_ROOT], instances[ROW_INPUT_COMMITMENT])) {
                revert BindingMismatch(nonce, instances[ROW_INDEX_ROOT], instances[ROW_INPUT_COMMITMENT]);
            }
        }
        uint256 proverRow = instances[ROW_PROVER];
        if (proverRow == 0 || proverRow >> 160 != 0 || proverRow == uint256(uint160(address(this)))) {
            revert BadProver(proverRow);
        }

        // snark-verifier's generated verifier has no selector: calldata is the instances as
        // 32-byte words, then the proof bytes; it reverts on a bad proof.
        // A call to an address without code would succeed, so that is an invalid proof too.
        if (m.verifier.code.length == 0) revert InvalidProof();
        (bool ok,) = m.verifier.staticcall(abi.encodePacked(instances, proof));
        if (!ok) revert InvalidProof();

        req.modelKey = 0;
        req.binding = 0;
        req.deadline = 0;
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
        return req.requester != address(0) && req.binding == 0 && req.modelKey != REFUNDED;
    }

    /// Whether request `nonce` was refunded to its requester.
    function refunded(uint256 nonce) external view returns (bool) {
        return requests[nonce].modelKey == REFUNDED;
    }

    /// What a request keeps of its index root and input commitment (never 0 but with
    /// probability 2^-192; see `Request`).
    function _binding(uint256 root, uint256 inputCommitment) internal pure returns (bytes24) {
        return bytes24(keccak256(abi.encode(root, inputCommitment)));
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
        view
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
            // No credit to an account that can never claim it: the treasury takes it instead.
            if (a == address(0) || a == address(this)) a = treasury;
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
