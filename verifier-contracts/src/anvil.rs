//! A local anvil chain for tests and the demo: the npm-installed binary
//! (`@foundry-rs/anvil-linux-amd64`, pinned in `package.json`) started on 127.0.0.1 with a free
//! port and stopped by the PID we started (on drop), plus the few JSON-RPC calls the tests need,
//! spoken over plain HTTP/1.1 on a std `TcpStream` (anvil's dev accounts are unlocked, so
//! `eth_sendTransaction` needs no signing).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use serde_json::{json, Value};

use crate::error::{ContractsError, Result};
use crate::solc::{ensure_installed, toolchain_dir};

/// Private keys of anvil's first dev accounts (its default mnemonic `test test … junk`; public
/// knowledge, funded with 10,000 ETH on every anvil and on no real chain). [`Anvil::dev_key`]
/// checks each against the node's own account list before use.
const DEV_KEYS: [&str; 8] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
];

/// A running anvil, killed when dropped.
pub struct Anvil {
    child: Child,
    port: u16,
}

fn rpc_err(what: impl std::fmt::Display) -> ContractsError {
    ContractsError::Toolchain(format!("anvil: {what}"))
}

impl Anvil {
    /// Starts anvil on a free local port. `code_size_limit = false` lifts EIP-170's 24 KB limit
    /// (to run a verifier that is still too large for mainnet).
    pub fn start(code_size_limit: bool) -> Result<Self> {
        ensure_installed()?;
        let bin = toolchain_dir().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(rpc_err)?
            .port();
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--silent",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if !code_size_limit {
            cmd.arg("--disable-code-size-limit");
        }
        let child = cmd
            .spawn()
            .map_err(|e| rpc_err(format!("starting {}: {e}", bin.display())))?;
        let anvil = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while anvil.call("eth_chainId", json!([])).is_err() {
            if Instant::now() > deadline {
                return Err(rpc_err("did not answer within 20 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(anvil)
    }

    /// Its JSON-RPC URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One JSON-RPC call; a JSON-RPC error (e.g. an execution revert) is an `Err` with its
    /// message.
    pub fn call(&self, method: &str, params: Value) -> Result<Value> {
        let body =
            json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(rpc_err)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(rpc_err)?;
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .map_err(rpc_err)?;
        let mut response = String::new();
        stream.read_to_string(&mut response).map_err(rpc_err)?;
        let payload = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .ok_or_else(|| rpc_err("malformed HTTP response"))?;
        let v: Value = serde_json::from_str(payload).map_err(rpc_err)?;
        if let Some(e) = v.get("error") {
            return Err(ContractsError::Rejected(
                e["message"].as_str().unwrap_or("?").to_string(),
            ));
        }
        Ok(v["result"].clone())
    }

    /// The first unlocked dev account.
    pub fn account(&self) -> Result<String> {
        let accounts = self.call("eth_accounts", json!([]))?;
        accounts[0]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| rpc_err("no dev account"))
    }

    /// The signer of dev account `i` (< 8), checked against the node's `eth_accounts`.
    pub fn dev_key(&self, i: usize) -> Result<PrivateKeySigner> {
        let key: PrivateKeySigner = DEV_KEYS
            .get(i)
            .ok_or_else(|| rpc_err(format!("only {} dev keys are known", DEV_KEYS.len())))?
            .parse()
            .map_err(rpc_err)?;
        let accounts = self.call("eth_accounts", json!([]))?;
        let listed = accounts[i].as_str().unwrap_or_default();
        if !listed.eq_ignore_ascii_case(&key.address().to_string()) {
            return Err(rpc_err(format!(
                "dev account {i} is {listed}, not the known key's {}",
                key.address()
            )));
        }
        Ok(key)
    }

    /// Deploys `creation_code` from the first dev account; returns the contract address and the
    /// deployment's gas.
    pub fn deploy(&self, creation_code: &[u8]) -> Result<(String, u64)> {
        let from = self.account()?;
        let tx = self.call(
            "eth_sendTransaction",
            json!([{ "from": from, "data": format!("0x{}", hex::encode(creation_code)), "gas": "0x1c9c380" }]),
        )?;
        // Automining is immediate, but the receipt can trail the hash by a moment.
        let deadline = Instant::now() + Duration::from_secs(20);
        let receipt = loop {
            let r = self.call("eth_getTransactionReceipt", json!([tx]))?;
            if !r.is_null() || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if receipt["status"] != "0x1" {
            return Err(ContractsError::Deploy(format!("receipt {receipt}")));
        }
        let address = receipt["contractAddress"]
            .as_str()
            .ok_or_else(|| ContractsError::Deploy(format!("no contract address in {receipt}")))?;
        Ok((address.to_string(), hex_u64(&receipt["gasUsed"])?))
    }

    /// Estimates the gas of calling `to` with `data` (anvil executes it; a revert is an `Err`).
    pub fn estimate_call(&self, to: &str, data: &[u8]) -> Result<u64> {
        let from = self.account()?;
        let gas = self.call(
            "eth_estimateGas",
            json!([{ "from": from, "to": to, "data": format!("0x{}", hex::encode(data)) }]),
        )?;
        hex_u64(&gas)
    }
}

fn hex_u64(v: &Value) -> Result<u64> {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| rpc_err(format!("not a hex quantity: {v}")))
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // The PID we started; nothing else is signalled.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
