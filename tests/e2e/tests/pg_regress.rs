//! Runs the SQL golden tests of tests/pg_regress against a fresh cluster with pg_iys preloaded.

use pg_iys_e2e::{repo_root, Cluster};
use std::process::Command;

#[test]
fn pg_regress_golden_files_match() {
    let cluster = Cluster::start("regress", &[]);
    let dir = repo_root().join("tests/pg_regress");
    let mut tests: Vec<String> = std::fs::read_dir(dir.join("sql"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".sql").map(str::to_owned))
        .collect();
    tests.sort();
    assert!(!tests.is_empty(), "no pg_regress tests found");

    // Results go to a scratch dir the postgres user can write; the golden files stay read-only.
    let outdir = cluster.datadir.join("regress_out");
    std::fs::create_dir_all(&outdir).unwrap();
    let out = Command::new(&cluster.install.pg_regress)
        .arg(format!("--inputdir={}", dir.display()))
        .arg(format!("--outputdir={}", outdir.display()))
        .arg(format!("--bindir={}", cluster.install.bindir.display()))
        .args(["--host=127.0.0.1", &format!("--port={}", cluster.port), "--user=postgres", "--dbname=pg_iys_regress"])
        .args(&tests)
        .output()
        .expect("run pg_regress");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // PG_IYS_REGRESS_ACCEPT=1 refreshes the golden files from this run (review the git diff!).
    if std::env::var_os("PG_IYS_REGRESS_ACCEPT").is_some() {
        std::fs::create_dir_all(dir.join("expected")).unwrap();
        for t in &tests {
            std::fs::copy(outdir.join(format!("results/{t}.out")), dir.join(format!("expected/{t}.out"))).unwrap();
        }
        return;
    }
    let diffs = std::fs::read_to_string(outdir.join("regression.diffs")).unwrap_or_default();
    assert!(out.status.success(), "pg_regress failed:\n{stdout}\n{}\n{diffs}", String::from_utf8_lossy(&out.stderr));
}
