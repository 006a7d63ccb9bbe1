//! Fault injection: thousands of requests through conduit (in-process, over real sockets) while
//! the simulated upstream throttles, fails, cuts streams, stalls, expires the access token and
//! takes the refresh endpoint down, and clients hang up mid-stream; replies carry native and
//! redacted reasoning, and the late-2026 errors (model unavailable, 524, tool schema, tool
//! pairing as a 503) come in between. Then kill -9 during token
//! writes, and a read-only data directory. `FAULT_SEED` replays a run; `FAULT_N` sets its size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod cli_support;
mod fault_support;
mod harness;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fault_support::kill9::{self, Mode};
use fault_support::scenario::{self, Expect, Fault};
use fault_support::wellformed::Outcome;
use futures::StreamExt;
use rand::{Rng, SeedableRng};

/// Every request must end within this, faults and retries included.
const REQUEST_BOUND: Duration = Duration::from_secs(15);
const IN_FLIGHT: usize = 48;

/// A stretch of time in which the refresh endpoint was down (plus the backoff after it).
type Window = (Instant, Instant);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_under_upstream_faults() {
    fault_support::count_panics();
    let seed = fault_support::seed();
    let total = fault_support::env_num("FAULT_N", 10_000);
    let gw = harness::start_with(harness::Options {
        env: [
            ("FIRST_TOKEN_TIMEOUT", "1.5".to_string()),
            ("FIRST_TOKEN_MAX_RETRIES", "1".to_string()),
        ]
        .into(),
        ping_interval: Duration::from_millis(500),
        kiro: Some(|c| {
            c.retry.base = Duration::from_millis(10);
            c.retry.cap = Duration::from_millis(50);
            c.refresh_retry_backoff = Duration::from_millis(200);
        }),
        ..Default::default()
    })
    .await;
    gw.sim().configure(conduit_sim::ConfigPatch {
        log_limit: Some(500),
        ..Default::default()
    });
    for rule in scenario::standing_rules() {
        gw.rule(rule).await;
    }
    let tasks_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let plans: Vec<_> = (0..total).map(|n| scenario::plan(&mut rng, n)).collect();

    // Warm up (pools, allocator, response store) before the memory baseline.
    let warm = total.min(500);
    let http = reqwest::Client::new();
    let (warm_results, warm_fails) = run_all(&gw, &http, &plans[..warm]).await;
    let rss_warm = fault_support::rss_kib();

    let outages: Mutex<Vec<Window>> = Mutex::default();
    let expired_at: Mutex<Vec<Instant>> = Mutex::default();
    let stop = AtomicBool::new(false);
    let refresh_before = gw.sim().stats().refresh_calls;
    let run = async {
        let r = run_all(&gw, &http, &plans[warm..]).await;
        stop.store(true, Ordering::SeqCst);
        r
    };
    let ((mut results, mut failures), expiries) = tokio::join!(
        run,
        chaos(
            gw.sim(),
            &gw.access_token,
            seed,
            &outages,
            &expired_at,
            &stop
        )
    );
    failures.extend(warm_fails);
    results.extend(warm_results);
    drop(http);
    let elapsed = started.elapsed();
    let outages = outages.into_inner().unwrap();
    let expired_at = expired_at.into_inner().unwrap();
    let refresh_calls = (gw.sim().stats().refresh_calls - refresh_before) as usize;

    // Expectations per fault, outside the refresh outages.
    let mut tally: BTreeMap<(Fault, &str), usize> = BTreeMap::new();
    for (plan, ended) in &results {
        // A request that lived through two expiries of the token can see the refreshed token
        // rejected too, and is told to sign in again: right for a token that keeps dying, but
        // not a fault of the request's own plan. Real tokens live an hour, not a second.
        let expiries_seen = expired_at
            .iter()
            .filter(|t| ended.started <= **t && **t <= ended.finished)
            .count();
        let disturbed = expiries_seen >= 2
            || outages
                .iter()
                .any(|(a, b)| ended.started < *b && ended.finished > *a);
        let got = match &ended.outcome {
            Ok(Some(Outcome::Success)) => "success",
            Ok(Some(Outcome::Error)) => "error",
            Ok(None) => "abandoned",
            Err(_) => continue,
        };
        *tally.entry((plan.fault, got)).or_default() += 1;
        let fine = match plan.fault.expect() {
            Expect::Success => got == "success" || disturbed && got == "error",
            Expect::Error => got == "error",
            Expect::Abandoned => got == "abandoned" || disturbed && got == "error",
        };
        if !fine {
            failures.push(format!(
                "#{} {:?} {:?}: expected {:?}, got {got}",
                plan.n,
                plan.fault,
                plan.dialect,
                plan.fault.expect()
            ));
        }
    }
    println!("{total} requests in {elapsed:.1?} (seed {seed}); outcomes: {tally:?}");
    println!(
        "{expiries} token expiries, {} refresh outages, {refresh_calls} refresh calls",
        outages.len()
    );

    // Leaks: every upstream stream ended (cancelled streams included), connections back to the
    // keep-alive pool's bound, tasks back to the baseline plus those pooled connections.
    let sim = gw.sim();
    let settle = Instant::now();
    while sim.stats().active_responses > 0 && settle.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let task_bound = |s: conduit_sim::SimStats| tasks_before + 2 * s.open_connections + 8;
    while alive() > task_bound(sim.stats()) && settle.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = sim.stats();
    let tasks_after = alive();
    let rss_end = fault_support::rss_kib();
    println!(
        "sim {stats:?}; tasks {tasks_before} -> {tasks_after}; RSS after warm-up {} MiB, at the end {} MiB",
        rss_warm / 1024,
        rss_end / 1024
    );

    assert_eq!(
        fault_support::panics(),
        0,
        "panics during the run (see stderr)"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} requests were not answered well (seed {seed}); first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(stats.active_responses, 0, "upstream streams still open after the run: a client disconnect did not cancel its upstream call");
    assert!(
        stats.open_connections <= 32 + 2,
        "connections to the simulator beyond the keep-alive pool: {stats:?}"
    );
    assert!(
        tasks_after <= task_bound(stats),
        "tasks leaked: {tasks_before} before, {tasks_after} after, {} pooled connections",
        stats.open_connections
    );
    assert!(
        rss_end <= rss_warm + 64 * 1024,
        "memory grew from {rss_warm} KiB to {rss_end} KiB"
    );
    // Single flight: about one refresh per expiry; while the endpoint is down, at most one call
    // per retry backoff (200 ms) and outage second, not one per request.
    let outage_ms: u128 = outages.iter().map(|(a, b)| (*b - *a).as_millis()).sum();
    let bound = 2 * expiries + (outage_ms / 200) as usize + 4 * outages.len() + 2;
    assert!(refresh_calls <= bound, "{refresh_calls} refresh calls for {expiries} expiries and {outage_ms} ms of outage (bound {bound})");
}

/// Run `plans` with `IN_FLIGHT` at a time, each under `REQUEST_BOUND`; returns what happened
/// and the requests that hung or were malformed.
async fn run_all(
    gw: &harness::Gateway,
    http: &reqwest::Client,
    plans: &[scenario::Plan],
) -> (Vec<(scenario::Plan, scenario::Ended)>, Vec<String>) {
    let results: Vec<_> = futures::stream::iter(plans.iter().cloned())
        .map(|plan| async move {
            let ended = tokio::time::timeout(REQUEST_BOUND, scenario::run(gw, http, &plan)).await;
            (plan, ended)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut failures = Vec::new();
    let mut out = Vec::new();
    for (plan, ended) in results {
        match ended {
            Err(_) => failures.push(format!(
                "#{} {:?} {:?}: no end within {REQUEST_BOUND:?}",
                plan.n, plan.fault, plan.dialect
            )),
            Ok(e) => {
                if let Err(msg) = &e.outcome {
                    failures.push(format!(
                        "#{} {:?} {:?}: {msg}",
                        plan.n, plan.fault, plan.dialect
                    ));
                }
                out.push((plan, e));
            }
        }
    }
    (out, failures)
}

/// While the run lasts: expire the account's access token at the simulator now and then (open
/// streams continue; the next requests get 403 and must refresh), and a few times take the
/// refresh endpoint down for a second right after an expiry. Returns the number of expiries.
async fn chaos(
    sim: &conduit_sim::SimHandle,
    first_token: &str,
    seed: u64,
    outages: &Mutex<Vec<Window>>,
    expired_at: &Mutex<Vec<Instant>>,
    stop: &AtomicBool,
) -> usize {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
    let outage = |on: bool| {
        sim.configure(conduit_sim::ConfigPatch {
            refresh_outage: Some(on),
            ..Default::default()
        })
    };
    let mut expiries = 0;
    let mut round = 0u32;
    loop {
        let pause = Duration::from_millis(rng.random_range(300..1500));
        let tick = Instant::now();
        while tick.elapsed() < pause {
            if stop.load(Ordering::SeqCst) {
                return expiries;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        round += 1;
        let down = round % 8 == 4;
        let began = Instant::now();
        if down {
            outage(true);
        }
        // The account's current access token, whatever refreshes happened since.
        let (current, _) = sim.current_tokens(first_token).unwrap();
        if sim.expire_access_token(&current) {
            expiries += 1;
            expired_at.lock().unwrap().push(Instant::now());
        }
        if down {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            outage(false);
            // Requests that saw the outage may still be finishing their retries.
            outages
                .lock()
                .unwrap()
                .push((began, Instant::now() + Duration::from_millis(500)));
        }
    }
}

#[test]
fn kill_9_during_token_writes_never_leaves_a_torn_file() {
    let dir = std::env::temp_dir().join(format!("conduit-kill9-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(kill9::TOKEN_FILE);
    conduit_core::fsutil::write_private_atomic(&file, &kill9::numbered_token(0)).unwrap();
    let seed = fault_support::seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let kills = fault_support::env_num("FAULT_KILLS", 200);
    let started = Instant::now();
    for i in 0..kills {
        let mode = if i % 3 == 2 {
            Mode::Refresh
        } else {
            Mode::Direct
        };
        let before = std::fs::read(&file).unwrap();
        let mut child = kill9::spawn(mode, &file);
        kill9::wait_for_a_write(&file, &before, &mut child);
        std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kill9::assert_intact(mode, &file);
        let temps = kill9::temp_files(&file);
        assert!(
            temps.len() <= 1,
            "temp files pile up after kill #{i}: {temps:?}"
        );
    }
    // The next write cleans what the last kill left.
    let text = std::fs::read(&file).unwrap();
    conduit_core::fsutil::write_private_atomic(&file, &text).unwrap();
    assert_eq!(kill9::temp_files(&file), Vec::<std::path::PathBuf>::new());
    println!("{kills} kills in {:.1?}", started.elapsed());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Not a test of its own: the writer `kill_9_during_token_writes_never_leaves_a_torn_file`
/// starts (this binary, re-invoked with `FAULT_KILL9_CHILD`). Without it, it returns at once.
#[test]
fn kill9_writer_child() {
    kill9::child_main();
}

/// Makes `dir` read-only for this process: a read-only bind mount as root (root ignores
/// permission bits), else mode 0555. Undone on drop.
struct ReadOnly(std::path::PathBuf, bool);

impl ReadOnly {
    fn make(dir: &std::path::Path) -> ReadOnly {
        let root = rustix::process::geteuid().is_root();
        if root {
            let mount = |args: &[&str]| {
                let out = std::process::Command::new("mount")
                    .args(args)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "mount {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            let d = dir.to_str().unwrap();
            mount(&["--bind", d, d]);
            mount(&["-o", "remount,bind,ro", d]);
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        assert!(
            std::fs::write(dir.join("probe"), b"x").is_err(),
            "{} is still writable",
            dir.display()
        );
        ReadOnly(dir.to_path_buf(), root)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        } else {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn serve_on_a_read_only_conduit_home_exits_with_a_clear_error() {
    let env = cli_support::CliEnv::new();
    std::fs::create_dir_all(&env.conduit_home).unwrap();
    let _ro = ReadOnly::make(&env.conduit_home);
    let stderr = serve_must_fail(&env);
    assert!(
        stderr.contains("Read-only file system") || stderr.contains("Permission denied"),
        "says why: {stderr}"
    );
}

/// A 64 KiB tmpfs, filled up, as CONDUIT_HOME. Mounting needs root; as another user the
/// story cannot be set up and says so.
#[test]
fn serve_on_a_full_conduit_home_exits_with_a_clear_error() {
    if !rustix::process::geteuid().is_root() {
        println!("skipped: mounting a tiny tmpfs needs root");
        return;
    }
    let env = cli_support::CliEnv::new();
    std::fs::create_dir_all(&env.conduit_home).unwrap();
    let home = env.conduit_home.to_str().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs", home])
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount<'a>(&'a str);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(home);
    for dir in ["logs", "data", "run"] {
        std::fs::create_dir_all(env.conduit_home.join(dir)).unwrap();
    }
    let _ = std::fs::write(env.conduit_home.join("filler"), vec![0u8; 1 << 20]);
    let stderr = serve_must_fail(&env);
    assert!(
        stderr.contains("No space left on device"),
        "says why: {stderr}"
    );
}

/// Run `conduit serve`; insist it exits (no hang, no panic) with a message naming
/// CONDUIT_HOME. Returns its stderr.
fn serve_must_fail(env: &cli_support::CliEnv) -> String {
    let mut child = env
        .cmd(&["serve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("conduit serve kept running on a read-only CONDUIT_HOME");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert!(!out.status.success(), "exit status {:?}", out.status);
    assert_ne!(
        out.status.code(),
        Some(101),
        "a panic's exit code:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(&env.conduit_home.display().to_string()),
        "names the path: {stderr}"
    );
    stderr.into_owned()
}

#[tokio::test]
async fn a_refresh_that_cannot_save_its_token_still_serves_and_says_so() {
    let gw = harness::start().await;
    let _ro = ReadOnly::make(&gw.home);
    assert!(gw.sim().expire_access_token(&gw.access_token));
    for _ in 0..3 {
        let (status, body) = gw.messages(harness::user("hello")).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        gw.sim().stats().refresh_calls,
        1,
        "the refreshed token is kept in memory"
    );
    let health: serde_json::Value = gw
        .get("/health")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shown = health.to_string();
    assert!(
        shown.contains("could not save the refreshed token"),
        "{shown}"
    );
    assert!(
        shown.contains("Read-only file system") || shown.contains("Permission denied"),
        "{shown}"
    );
}
