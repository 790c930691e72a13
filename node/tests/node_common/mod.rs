//! Helpers for the node tests: the real `poa node` / `poa prover` binaries on 127.0.0.1, a real
//! job store (SQLite file, or a local PostgreSQL), the fixture model uploaded over HTTP.
#![allow(dead_code)]

pub mod pg;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The `poa` binary under test.
pub fn poa() -> Command {
    Command::new(env!("CARGO_BIN_EXE_poa"))
}

/// The repository's fixture folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// An SQLite job-store URL for a file in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("jobs.db").display())
}

/// A running process, killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// SIGKILL now and wait: a crash.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the exit status (graceful shutdown).
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t = Instant::now();
        while t.elapsed() < within {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The process's stderr log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `poa node` on 127.0.0.1 (any free port).
pub struct Node {
    pub proc: Proc,
    pub url: String,
    pub db: String,
    pub data: PathBuf,
}

/// Starts `poa node --db <db> --data-dir <data> --dev-srs --listen 127.0.0.1:0 <extra…>` and
/// reads the address from its first stdout line.
pub fn start_node(db: &str, data: &Path, extra: &[&str]) -> Node {
    let log = data.with_extension(format!("node-{}.log", unique()));
    let mut child = poa()
        .env("POA_LOG", "info")
        .args(["node", "--db", db, "--listen", "127.0.0.1:0", "--dev-srs"])
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start poa node");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the node's first line");
    let url = line
        .trim()
        .strip_prefix("poa node listening on ")
        .unwrap_or_else(|| {
            panic!(
                "node did not start: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
        .to_string();
    Node {
        proc: Proc { child, log },
        url,
        db: db.to_string(),
        data: data.to_path_buf(),
    }
}

/// Starts `poa prover --db <db> --cache-dir <cache> <extra…>`.
pub fn start_prover(db: &str, cache: &Path, extra: &[&str]) -> Proc {
    let log = cache.with_extension(format!("prover-{}.log", unique()));
    let child = poa()
        .env("POA_LOG", "info")
        .args(["prover", "--db", db])
        .arg("--cache-dir")
        .arg(cache)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start poa prover");
    Proc { child, log }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// `poa node keys create --db <db>`: the new key.
pub fn create_key(db: &str) -> String {
    let out = poa()
        .args([
            "--json", "node", "keys", "create", "--db", db, "--name", "test",
        ])
        .output()
        .expect("run poa node keys create");
    assert!(
        out.status.success(),
        "keys create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["key"].as_str().expect("key").to_string()
}

/// An HTTP client with a timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// The fixture's calibration inputs.
pub fn calibration() -> Value {
    let text = std::fs::read_to_string(fixtures().join("data/calibration.json")).expect("fixture");
    serde_json::from_str(&text).expect("calibration JSON")
}

/// The first test input of the fixture (64 values).
pub fn sample_input() -> Vec<f64> {
    let text = std::fs::read_to_string(fixtures().join("data/input_0_ours.json")).expect("fixture");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    serde_json::from_value(v["inputs"][0].clone()).expect("input")
}

/// Uploads `fixtures/models/<name>.onnx` with optional attribution and waits until it is ready.
pub async fn upload_model(
    c: &reqwest::Client,
    node: &Node,
    key: &str,
    name: &str,
    attribution: Option<Value>,
) -> String {
    let fields = match attribution {
        Some(a) => json!({ "attribution": a }),
        None => json!({}),
    };
    upload_model_with(c, node, key, name, fields).await
}

/// [`upload_model`] with more upload `fields` (an object: visibilities, attribution).
pub async fn upload_model_with(
    c: &reqwest::Client,
    node: &Node,
    key: &str,
    name: &str,
    fields: Value,
) -> String {
    use base64::Engine;
    let onnx = std::fs::read(fixtures().join(format!("models/{name}.onnx"))).expect("fixture");
    let mut body = json!({
        "name": name,
        "onnx_base64": base64::engine::general_purpose::STANDARD.encode(onnx),
        "calibration": calibration(),
    });
    for (k, v) in fields.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let r = c
        .post(format!("{}/v1/models", node.url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("upload");
    assert_eq!(
        r.status(),
        202,
        "upload: {}",
        r.text().await.unwrap_or_default()
    );
    let m: Value = r.json().await.expect("JSON");
    let id = m["id"].as_str().expect("id").to_string();
    let m = wait_model(c, &node.url, &id).await;
    assert_eq!(m["status"], "ready", "model setup failed: {m}");
    id
}

/// Waits until model `id` is no longer `compiling`; returns it.
pub async fn wait_model(c: &reqwest::Client, url: &str, id: &str) -> Value {
    wait_for(Duration::from_secs(300), || async move {
        let m = try_get_json(c, url, &format!("/v1/models/{id}")).await?;
        (m["status"] != "compiling").then_some(m)
    })
    .await
    .expect("model setup finished in time")
}

/// A node on a fresh job store (`db`, else an SQLite file in `tmp`) with an API key and the
/// fixture model mlp_small uploaded and set up. Bind `tmp` when destructuring: it holds the
/// SQLite file and the node's data, deleted when it is dropped.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub db: String,
    pub key: String,
    pub node: Node,
    pub c: reqwest::Client,
    pub model: String,
}

/// A node on a fresh SQLite job store whose embedded worker proves attribution jobs for
/// `prover`, with an API key and the fixture datanet built and sealed through the API
/// ([`sealed_datanet`]). Bind `tmp`: it holds the store.
pub struct AttributionNode {
    pub tmp: tempfile::TempDir,
    pub key: String,
    pub node: Node,
    pub c: reqwest::Client,
    /// Datanet id, entries accepted, the seal response.
    pub datanet: (String, usize, Value),
}

/// Starts an [`AttributionNode`].
pub async fn attribution_node(prover: &str) -> AttributionNode {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = sqlite_url(tmp.path());
    let key = create_key(&db);
    let node = start_node(&db, &tmp.path().join("data"), &["--prover-address", prover]);
    let c = client();
    let datanet = sealed_datanet(&c, &node, &key).await;
    AttributionNode {
        tmp,
        key,
        node,
        c,
        datanet,
    }
}

/// Starts a [`Fixture`]; `node_args` go to `poa node`.
pub async fn fixture(db: Option<String>, node_args: &[&str]) -> Fixture {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = db.unwrap_or_else(|| sqlite_url(tmp.path()));
    let key = create_key(&db);
    let node = start_node(&db, &tmp.path().join("data"), node_args);
    let c = client();
    let model = upload_model(&c, &node, &key, "mlp_small", None).await;
    Fixture {
        tmp,
        db,
        key,
        node,
        c,
        model,
    }
}

/// Polls `f` every 100 ms until it returns `Some` or `within` passes.
pub async fn wait_for<T, F, Fut>(within: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if t.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Submits an inference job for `model`; returns the job id.
pub async fn submit(c: &reqwest::Client, url: &str, key: &str, model: &str) -> String {
    submit_job(
        c,
        url,
        key,
        &json!({"model": model, "input": sample_input()}),
    )
    .await
}

/// Posts job `body`, expects 202 and returns the job id.
pub async fn submit_job(c: &reqwest::Client, url: &str, key: &str, body: &Value) -> String {
    let r = c
        .post(format!("{url}/v1/jobs"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("submit");
    assert_eq!(
        r.status(),
        202,
        "submit: {}",
        r.text().await.unwrap_or_default()
    );
    let v: Value = r.json().await.expect("JSON");
    v["id"].as_str().expect("id").to_string()
}

/// `GET {url}{path}` as JSON, or `None` when the request or the decoding fails (for polls).
pub async fn try_get_json(c: &reqwest::Client, url: &str, path: &str) -> Option<Value> {
    c.get(format!("{url}{path}"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// The job `id` as JSON.
pub async fn job(c: &reqwest::Client, url: &str, id: &str) -> Value {
    try_get_json(c, url, &format!("/v1/jobs/{id}"))
        .await
        .unwrap_or_else(|| panic!("GET job {id}"))
}

/// The model `id` as JSON.
pub async fn model(c: &reqwest::Client, url: &str, id: &str) -> Value {
    try_get_json(c, url, &format!("/v1/models/{id}"))
        .await
        .unwrap_or_else(|| panic!("GET model {id}"))
}

/// Waits until every job in `ids` is proved or failed; returns them.
pub async fn wait_all_done(
    c: &reqwest::Client,
    url: &str,
    ids: &[String],
    within: Duration,
) -> Vec<Value> {
    let t = Instant::now();
    loop {
        let mut done = Vec::new();
        for id in ids {
            let j = job(c, url, id).await;
            if j["state"] == "proved" || j["state"] == "failed" {
                done.push(j);
            } else {
                break;
            }
        }
        if done.len() == ids.len() {
            return done;
        }
        assert!(
            t.elapsed() < within,
            "only {} of {} jobs done after {within:?}",
            done.len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for job `id`, asserts it was proved and returns the job and its proof document.
pub async fn wait_proved(
    c: &reqwest::Client,
    url: &str,
    id: &str,
    within: Duration,
) -> (Value, Value) {
    let done = wait_all_done(c, url, &[id.to_string()], within).await;
    let job = done.into_iter().next().expect("one job");
    assert_eq!(job["state"], "proved", "{job}");
    let proof = try_get_json(c, url, &format!("/v1/jobs/{id}/proof"))
        .await
        .expect("proof");
    (job, proof)
}

/// Rows of a query on the job store, straight from the database (what the API cannot show:
/// proofs per job, half-written rows).
pub async fn count(db: &str, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    // The same URL the node opens (it adds mode=rwc to bare SQLite URLs).
    let url = if db.starts_with("sqlite:") && !db.contains('?') {
        format!("{db}?mode=rwc")
    } else {
        db.to_string()
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await
        .expect("query");
    row.try_get::<i64, _>(0).expect("count")
}

/// A datanet built through the API from the first 48 fixture entries (batch add) and sealed as
/// version 1: its id, how many entries were accepted, the seal response.
pub async fn sealed_datanet(c: &reqwest::Client, node: &Node, key: &str) -> (String, usize, Value) {
    let d: Value = c
        .post(format!("{}/v1/datanets", node.url))
        .bearer_auth(key)
        .json(&json!({"name": "digits small", "curator": "0x00000000000000000000000000000000000000c0", "input_len": 64, "classes": 10}))
        .send()
        .await
        .expect("create datanet")
        .json()
        .await
        .expect("JSON");
    let dn = d["id"].as_str().expect("id").to_string();
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("datanet/digits.json")).expect("fixture"),
    )
    .expect("JSON");
    let entries: Vec<Value> = file["entries"].as_array().expect("entries")[..48]
        .iter()
        .map(|e| json!({"contributor": e["contributor"], "sample": e["sample"], "label": e["label"]}))
        .collect();
    let b: Value = c
        .post(format!("{}/v1/datanets/{dn}/contributions/batch", node.url))
        .bearer_auth(key)
        .json(&json!({ "entries": entries }))
        .send()
        .await
        .expect("batch")
        .json()
        .await
        .expect("JSON");
    let accepted = b["accepted"].as_array().expect("accepted").len();
    assert!(accepted >= 40, "{b}");
    let s: Value = c
        .post(format!("{}/v1/datanets/{dn}/seal", node.url))
        .bearer_auth(key)
        .send()
        .await
        .expect("seal")
        .json()
        .await
        .expect("JSON");
    (dn, accepted, s)
}
