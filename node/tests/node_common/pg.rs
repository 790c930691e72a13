//! A PostgreSQL for the job-store tests: `POA_TEST_POSTGRES_URL` when set (CI: `.ci/run`
//! starts one), else one started here from Debian's `postgresql` package (as `.ci/run` does:
//! a temporary cluster owned by `postgres`, trust auth, 127.0.0.1, a free port), stopped
//! when dropped. Without a server binary the test is skipped loudly — except under CI, where it
//! fails.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A database for one test.
pub struct Postgres {
    /// URL of a fresh database.
    pub url: String,
    /// The cluster this test started (stopped on drop), if any.
    cluster: Option<Cluster>,
}

struct Cluster {
    dir: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The postmaster's PID is the first line of postmaster.pid (runuser forks, so not $!).
        let pid_file = self.dir.join("data/postmaster.pid");
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
        {
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            let t = Instant::now();
            while pid_file.exists() && t.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_cluster() -> Option<(String, Cluster)> {
    let bin = pg_bin()?;
    let dir = std::env::temp_dir().join(format!("poa-pg-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("pg dir");
    let cluster = Cluster { dir: dir.clone() };
    run(
        Command::new("chown").arg("postgres").arg(&dir),
        "chown the cluster folder to postgres",
    );
    let port = free_port();
    run(
        Command::new("runuser")
            .current_dir(&dir)
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-D", "data", "-A", "trust", "--no-sync", "-U", "postgres"]),
        "initdb",
    );
    run(
        Command::new("runuser")
            .current_dir(&dir)
            .args(["-u", "postgres", "--"])
            .arg(bin.join("pg_ctl"))
            .args(["-D", "data", "-w", "-l", "pg.log", "-o"])
            .arg(format!("-h 127.0.0.1 -p {port} -k {}", dir.display()))
            .arg("start"),
        "pg_ctl start",
    );
    Some((
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        cluster,
    ))
}

/// A fresh database for this test, or `None` (skipped, with a loud message) where no server
/// can be had outside CI.
pub async fn database(test: &str) -> Option<Postgres> {
    let (admin, cluster) = match std::env::var("POA_TEST_POSTGRES_URL") {
        Ok(url) => (url, None),
        Err(_) => match start_cluster() {
            Some((url, c)) => (url, Some(c)),
            None => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{test}: no PostgreSQL (set POA_TEST_POSTGRES_URL or install postgresql) — required in CI"
                );
                eprintln!(
                    "\n*** SKIPPED {test}: no PostgreSQL here (set POA_TEST_POSTGRES_URL or apt-get install postgresql) ***\n"
                );
                return None;
            }
        },
    };
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    let name = format!("poa_{}_{}", test, std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut conn)
    .await
    .expect("drop database");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(Postgres {
        url: format!("{base}/{name}"),
        cluster,
    })
}

impl Postgres {
    /// Whether this test started its own server.
    pub fn own_server(&self) -> bool {
        self.cluster.is_some()
    }
}
