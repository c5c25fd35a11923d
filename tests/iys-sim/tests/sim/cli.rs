//! The `iys-sim` binary: start-up line, flags, and a served request.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::Client;

/// Starts the binary with `args` and returns it with its base URL.
fn spawn(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iys-sim")).args(args).stdout(Stdio::piped()).spawn().expect("iys-sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("iys-sim listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
    (child, base)
}

#[test]
fn binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iys-sim"))
        .args(["--listen", "127.0.0.1:0", "--user", "cli-user:cli-pass", "--token-ttl", "60", "--no-rate-limit", "--batch-delay-ms", "0", "--threads", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("iys-sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("iys-sim listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let c = Client::for_base(&base);
    let r = c.post("/oauth2/token", &json!({"grant_type": "password", "username": "cli-user", "password": "cli-pass"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["expires_in"], 60);
    let demo = c.post("/oauth2/token", &json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}));
    assert_eq!(demo.status, 400, "--user replaces the default account");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn binary_defaults_are_iys_own_and_new_flags_set_them() {
    let (mut child, base) = spawn(&["--listen", "127.0.0.1:0"]);
    let cfg = Client::for_base(&base).get("/admin/config").body;
    child.kill().unwrap();
    child.wait().unwrap();
    crate::common::assert_iys_defaults(&cfg);

    let (mut child, base) = spawn(&[
        "--listen", "127.0.0.1:0", "--clock-speed", "100", "--batch-delay-ms", "1000", "--batch-enqueue-ms", "2000",
        "--token-limit-shape", "flat", "--no-status-limit", "--token-limit", "100",
        "--push-ca-file", &crate::push::ca_file(), "--push-retry-ms", "100", "--push-max-attempts", "5",
    ]);
    let c = Client::for_base(&base);
    let cfg = c.get("/admin/config").body;
    let clock = c.get("/admin/clock").body;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(cfg["clock_speed"], 100.0);
    assert_eq!(clock["clockSpeed"], 100.0);
    assert_eq!((cfg["batch_delay_ms"].as_u64(), cfg["batch_enqueue_ms"].as_u64()), (Some(1000), Some(2000)));
    assert_eq!(cfg["token_limit_shape"], "flat");
    assert_eq!(cfg["status_limit_per_hour"], serde_json::Value::Null);
    assert_eq!(cfg["token_limit_per_hour"], 100);
    assert_eq!((cfg["push_ca_file"].as_str(), cfg["push_retry_ms"].as_u64(), cfg["push_max_attempts"].as_u64()), (Some(crate::push::ca_file().as_str()), Some(100), Some(5)));
    for bad in [["--clock-speed", "-1"], ["--clock-speed", "fast"], ["--token-limit-shape", "xml"], ["--status-limit", "x"], ["--push-max-attempts", "0"], ["--push-retry-ms", "x"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_iys-sim")).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_iys-sim")).args(["--listen", "127.0.0.1:0", "--push-ca-file", "/nonexistent/ca.pem"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a CA file that cannot be used stops start-up");
    assert!(String::from_utf8_lossy(&out.stderr).contains("push_ca_file"));
}

#[test]
fn binary_refuses_bad_flags_and_non_loopback_addresses() {
    let out = Command::new(env!("CARGO_BIN_EXE_iys-sim")).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_iys-sim")).args(["--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
