//! The harness leaves no process behind: on drop, and when the test process dies.

// Tests may panic on unexpected errors: that is how they fail.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use akp_test_support::{ControlPlane, Options, pid_alive, wait_pids_gone};

#[test]
fn dropping_an_owned_control_plane_kills_its_processes() {
    let started = Instant::now();
    let cp = ControlPlane::start(Options::default()).unwrap();
    eprintln!("etcd + kube-apiserver ready in {:?}", started.elapsed());
    let pids = cp.child_pids();
    let dir = cp.dir().to_path_buf();
    assert_eq!(pids.len(), 2, "etcd and kube-apiserver");
    assert!(pids.iter().all(|p| pid_alive(*p)));
    drop(cp);
    assert!(
        pids.iter().all(|p| !pid_alive(*p)),
        "children left: {pids:?}"
    );
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

#[tokio::test]
async fn full_control_plane_starts_inside_a_runtime_and_stops() {
    let started = Instant::now();
    let cp = ControlPlane::start(Options::full()).unwrap();
    eprintln!(
        "etcd + kube-apiserver + scheduler + controller manager + kwok ready in {:?}",
        started.elapsed()
    );
    let client = cp.admin_client().await.unwrap();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, "v1.36.3");
    let pids = cp.child_pids();
    assert_eq!(pids.len(), 5);
    drop(client);
    drop(cp);
    assert!(
        pids.iter().all(|p| !pid_alive(*p)),
        "children left: {pids:?}"
    );
}

#[test]
fn a_process_that_fails_to_start_is_reported_with_its_log() {
    let options = Options {
        apiserver_args: vec!["--no-such-flag".into()],
        startup_timeout: Duration::from_secs(30),
        ..Options::default()
    };
    let err = format!("{:#}", ControlPlane::start(options).unwrap_err());
    assert!(err.contains("kube-apiserver exited unexpectedly"), "{err}");
    assert!(err.contains("unknown flag: --no-such-flag"), "{err}");
}

/// Not a test on its own: run by `children_die_with_the_test_process` as a child
/// process. Starts the shared control plane, writes its child pids, then panics or
/// hangs as told.
#[test]
#[ignore = "helper run in a child process"]
fn helper_start_shared_then_die() {
    let Ok(pid_file) = std::env::var("AKP_HELPER_PID_FILE") else {
        return;
    };
    let cp = ControlPlane::shared(Options::full()).unwrap();
    let pids: Vec<String> = cp.child_pids().iter().map(u32::to_string).collect();
    std::fs::write(&pid_file, pids.join("\n")).unwrap();
    match std::env::var("AKP_HELPER_MODE").as_deref() {
        Ok("hang") => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
        _ => panic!("a test panics while the shared control plane runs"),
    }
}

fn run_helper(mode: &str) -> Vec<u32> {
    let dir = tempfile::tempdir().unwrap();
    let pid_file: PathBuf = dir.path().join("pids");
    let log = dir.path().join("helper.log");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "helper_start_shared_then_die",
            "--nocapture",
        ])
        .env("AKP_HELPER_PID_FILE", &pid_file)
        .env("AKP_HELPER_MODE", mode)
        // Its output (a deliberately failing test) would read like ours failed.
        .stdout(File::create(&log).unwrap())
        .stderr(File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let pids = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && text.lines().count() == 5
        {
            break text
                .lines()
                .map(|l| l.parse::<u32>().unwrap())
                .collect::<Vec<_>>();
        }
        assert!(
            Instant::now() < deadline,
            "helper did not start the control plane"
        );
        if mode != "hang" {
            // A panicking helper may already be gone; its pid file is written first.
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    pid_file.exists(),
                    "helper exited early ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if mode == "hang" {
        // SIGKILL: no destructor, no atexit, nothing of ours runs.
        child.kill().unwrap();
    }
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "helper should have failed or been killed"
    );
    pids
}

/// Runs the helper in `mode` and checks that none of its children outlives it.
fn children_die_with_the_helper(mode: &str, how_it_ended: &str) {
    let pids = run_helper(mode);
    assert!(
        wait_pids_gone(&pids, Duration::from_secs(10)),
        "children left after the test process {how_it_ended}: {pids:?}"
    );
}

#[test]
fn children_die_with_a_panicking_test_process() {
    children_die_with_the_helper("panic", "panicked");
}

#[test]
fn children_die_with_a_killed_test_process() {
    children_die_with_the_helper("hang", "was killed");
}
