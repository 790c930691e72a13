//! Property: no OPEN is created or lost. Over random fees, fee shares, top-k contributors (with
//! repeats) and scores, the real compiled OpenToken + registries + AttributionRewards credit
//! exactly the fee — the amounts `poa_runtime::attribution::split` computes — and after every
//! payee claims, the rewards contract holds nothing and the supply is unchanged.
//!
//! Runs in-process on revm ([`poa_contracts::inprocess`]), not anvil, so each case takes
//! milliseconds. The verifier is the forge tests' TEST-ONLY `TestOnlyHashVerifier` (accepts the
//! calldata hashes committed to it): proofs are not what this property is about, and
//! `tests/chain_anvil.rs` pays a real proof through the real verifier.

use std::sync::OnceLock;

use alloy::primitives::{keccak256, Address, U256};
use alloy::sol;
use alloy::sol_types::{SolCall, SolConstructor};
use poa_contracts::chain::bindings::{
    AttributionRewards, DatanetRegistry, ModelRegistry, OpenToken,
};
use poa_contracts::evm::Limits;
use poa_contracts::inprocess::InProcess;
use poa_contracts::project::{Project, TEST_ONLY_VERIFIER};
use poa_runtime::attribution::{split, RewardShares};
use proptest::prelude::*;

sol! {
    interface ITestOnlyHashVerifier {
        function accept(bytes32 calldataHash) external;
    }
}

const K: usize = 8;
/// Header, k pairs, then 3 output rows (as the forge fixture).
const N_INSTANCES: usize = 7 + 2 * K + 3;
const SUPPLY: u128 = 1_000_000_000 * 10u128.pow(18);
const MODEL_ID: u64 = 0xc0ffee;
const ROOT: u64 = 0x1234abcd;

fn project() -> &'static Project {
    static P: OnceLock<Project> = OnceLock::new();
    P.get_or_init(|| Project::compile_with_test_only().expect("solcjs compiles the contracts"))
}

fn addr(n: u64) -> Address {
    Address::left_padding_from(&n.to_be_bytes())
}

struct System {
    evm: InProcess,
    token: Address,
    rewards: Address,
    verifier: Address,
}

const DEPLOYER: u64 = 0xd0;
const OWNER: u64 = 0x0a11ce;
const TREASURY: u64 = 0x7ea5;
const REQUESTER: u64 = 0xb0b;
const PROVER: u64 = 0x9900;

fn code(name: &str, args: Vec<u8>) -> Vec<u8> {
    [
        project().get(name).expect("compiled").bytecode.clone(),
        args,
    ]
    .concat()
}

impl System {
    fn call<C: SolCall>(&mut self, from: Address, to: Address, call: C) -> C::Return {
        let (out, _) = self
            .evm
            .call(from, to, call.abi_encode())
            .unwrap_or_else(|e| panic!("{}: {e}", C::SIGNATURE));
        C::abi_decode_returns(&out).expect("decodes")
    }

    fn deploy(shares: [u16; 4]) -> Self {
        let mut evm = InProcess::new(Limits::Mainnet);
        let me = addr(DEPLOYER);
        let deploy = |evm: &mut InProcess, c: Vec<u8>| evm.deploy(me, c).expect("deploys").0;
        let token = deploy(
            &mut evm,
            code(
                "OpenToken",
                OpenToken::constructorCall {
                    holder: me,
                    initialSupply: U256::from(SUPPLY),
                }
                .abi_encode(),
            ),
        );
        let datanets = deploy(&mut evm, code("DatanetRegistry", Vec::new()));
        let models = deploy(
            &mut evm,
            code(
                "ModelRegistry",
                ModelRegistry::constructorCall { initialOwner: me }.abi_encode(),
            ),
        );
        let verifier = deploy(&mut evm, code(TEST_ONLY_VERIFIER, Vec::new()));
        let rewards = deploy(
            &mut evm,
            code(
                "AttributionRewards",
                AttributionRewards::constructorCall {
                    token_: token,
                    models_: models,
                    datanets_: datanets,
                    treasury_: addr(TREASURY),
                }
                .abi_encode(),
            ),
        );
        let mut s = Self {
            evm,
            token,
            rewards,
            verifier,
        };
        s.call(
            me,
            datanets,
            DatanetRegistry::createDatanetCall { curator: me },
        );
        s.call(
            me,
            datanets,
            DatanetRegistry::sealVersionCall {
                datanetId: U256::from(1),
                version: U256::from(1),
                indexRoot: U256::from(ROOT),
            },
        );
        let model = ModelRegistry::Model {
            owner: addr(OWNER),
            verifier,
            k: K as u16,
            numInstances: N_INSTANCES as u32,
            ownerBps: shares[0],
            contributorsBps: shares[1],
            proverBps: shares[2],
            treasuryBps: shares[3],
            disabled: false,
        };
        s.call(
            me,
            models,
            ModelRegistry::registerCall {
                modelId: U256::from(MODEL_ID),
                adapterId: U256::ZERO,
                m: model,
                datanetId: U256::from(1),
                pinnedRoot: U256::ZERO,
            },
        );
        s
    }

    fn balance(&mut self, who: Address) -> U256 {
        // Read from an account without code (EIP-3607 refuses a contract as the sender).
        let token = self.token;
        self.call(
            addr(DEPLOYER),
            token,
            OpenToken::balanceOfCall { account: who },
        )
    }
}

/// Shares summing to 10,000 bps.
fn shares() -> impl Strategy<Value = [u16; 4]> {
    (0u16..=10_000)
        .prop_flat_map(|o| (Just(o), 0..=10_000 - o))
        .prop_flat_map(|(o, c)| (Just(o), Just(c), 0..=10_000 - o - c))
        .prop_map(|(o, c, p)| [o, c, p, 10_000 - o - c - p])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_open_is_created_or_lost(
        fee in prop_oneof![0u128..1_000, 0u128..SUPPLY / 4],
        shares in shares(),
        who in proptest::array::uniform8(1u64..6),
        scores in proptest::array::uniform8(prop_oneof![Just(0u128), 0u128..1_000, 0u128..(1u128 << 100)]),
    ) {
        let mut s = System::deploy(shares);
        let (me, requester) = (addr(DEPLOYER), addr(REQUESTER));
        let (token, rewards, verifier) = (s.token, s.rewards, s.verifier);
        let fee_u = U256::from(fee);
        s.call(me, token, OpenToken::transferCall { to: requester, value: fee_u });
        s.call(requester, token, OpenToken::approveCall { spender: rewards, value: fee_u });
        let nonce = s.call(
            requester,
            rewards,
            AttributionRewards::openRequestCall {
                modelId: U256::from(MODEL_ID),
                adapterId: U256::ZERO,
                datanetId: U256::from(1),
                version: U256::from(1),
                fee: fee_u,
                inputCommitment: U256::ZERO,
                ttl: U256::from(86_400),
            },
        );

        // Layout-v3 instances; contributors 0x1000 + who[t] (repeats merge into one line).
        let contributor = |t: usize| addr(0x1000 + who[t]);
        let mut inst = vec![U256::ZERO; N_INSTANCES];
        inst[0] = U256::from(MODEL_ID);
        inst[3] = U256::from(7);
        inst[4] = U256::from(ROOT);
        inst[5] = nonce;
        inst[6] = U256::from_be_slice(addr(PROVER).as_slice());
        for t in 0..K {
            inst[7 + 2 * t] = U256::from_be_slice(contributor(t).as_slice());
            inst[8 + 2 * t] = U256::from(scores[t]);
        }
        let proof = b"test-only proof".to_vec();
        let mut calldata: Vec<u8> = inst.iter().flat_map(|i| i.to_be_bytes::<32>()).collect();
        calldata.extend_from_slice(&proof);
        s.call(me, verifier, ITestOnlyHashVerifier::acceptCall { calldataHash: keccak256(&calldata) });
        s.call(me, rewards, AttributionRewards::submitCall { proof: proof.into(), instances: inst });

        // Credited = the runtime's split, summing to the fee.
        let top: Vec<_> = (0..K)
            .map(|t| (poa_runtime::datanet::Address(contributor(t).into_array()), scores[t] as i128))
            .collect();
        let rs = RewardShares::new(shares[0].into(), shares[1].into(), shares[2].into(), shares[3].into())
            .expect("shares");
        let expected = split(fee, &rs, &top).expect("split");
        let mut payees = vec![(addr(OWNER), expected.owner), (addr(PROVER), expected.prover), (addr(TREASURY), expected.treasury)];
        payees.extend(expected.contributors.iter().map(|c| (Address::from(c.contributor.0), c.amount)));
        let mut credited = U256::ZERO;
        for &(p, want) in &payees {
            let got = s.call(me, rewards, AttributionRewards::balanceOfCall(p));
            prop_assert_eq!(got, U256::from(want), "{}", p);
            credited += got;
        }
        prop_assert_eq!(credited, fee_u);
        prop_assert_eq!(s.balance(rewards), fee_u);

        // Everyone claims: the contract is empty, the supply is where it was.
        for &(p, want) in &payees {
            if want > 0 {
                s.call(p, rewards, AttributionRewards::claimCall {});
            }
        }
        prop_assert_eq!(s.balance(rewards), U256::ZERO);
        let mut held = s.balance(me) + s.balance(requester);
        for &(p, _) in &payees {
            held += s.balance(p);
        }
        prop_assert_eq!(held, U256::from(SUPPLY));
        let supply = s.call(me, token, OpenToken::totalSupplyCall {});
        prop_assert_eq!(supply, U256::from(SUPPLY));
    }
}
