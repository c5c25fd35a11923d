//! The `iys-sim` binary: start-up line, flags, and a served request.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::Client;

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
fn binary_refuses_bad_flags_and_non_loopback_addresses() {
    let out = Command::new(env!("CARGO_BIN_EXE_iys-sim")).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_iys-sim")).args(["--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
