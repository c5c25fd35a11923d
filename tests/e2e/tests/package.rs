//! `scripts/package.sh` builds a Debian package a DBA installs the usual way. The package is
//! installed with dpkg into a copy of the PostgreSQL tree (dpkg --root: never the system's), a
//! server runs from that tree with pg_iys preloaded, and the package is installed again under
//! it: dpkg's rename-into-place leaves the running server unharmed. Removing the package while a
//! server has the library loaded is refused.

use pg_iys_e2e::{log_tail, one, repo_root, toml_value, Cluster, PgInstall};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pg_config(flag: &str) -> PathBuf {
    let toml = std::fs::read_to_string(repo_root().join("pgrx.toml")).unwrap();
    let system = toml_value(&toml, "system_pg_config").expect("system_pg_config");
    PathBuf::from(ok(run(Command::new(system).arg(flag)), "pg_config").trim())
}

fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap())
}

fn dpkg(root: &Path, args: &[&str]) -> Output {
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--log=/dev/null", "--force-depends", "--force-script-chrootless"])
        .args(args))
}

#[test]
fn the_debian_package_installs_upgrades_under_a_running_server_and_refuses_removal_while_loaded() {
    let work = PathBuf::from(format!("/tmp/pg_iys_package_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let out_dir = work.join("out");
    let built = ok(run(Command::new("bash").arg(repo_root().join("scripts/package.sh")).args(["--debug", "--out-dir"]).arg(&out_dir)), "scripts/package.sh");
    let deb = PathBuf::from(built.lines().last().expect("package.sh prints the .deb").trim());
    let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let version = toml_value(&manifest, "version").expect("the extension's version");
    let version = version.as_str();
    assert!(deb.file_name().unwrap().to_str().unwrap().starts_with(&format!("postgresql-15-pg-iys_{version}_")), "{}", deb.display());

    // What it holds: the library, the control file, this version's script and the whole chain.
    let (pkglibdir, sharedir) = (pg_config("--pkglibdir"), pg_config("--sharedir"));
    let listing = ok(run(Command::new("dpkg-deb").arg("--contents").arg(&deb)), "dpkg-deb --contents");
    let ext = sharedir.join("extension");
    let mut expected = vec![
        pkglibdir.join("pg_iys.so"),
        ext.join("pg_iys.control"),
        ext.join(format!("pg_iys--{version}.sql")),
        PathBuf::from("/usr/bin/iys-push-receiver"),
    ];
    for entry in std::fs::read_dir(repo_root().join("sql")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("pg_iys--") && name.matches("--").count() == 2 {
            expected.push(ext.join(name));
        }
    }
    for file in &expected {
        assert!(listing.contains(&format!(".{}\n", file.display())), "{} missing from the package:\n{listing}", file.display());
    }
    let info = ok(run(Command::new("dpkg-deb").arg("--field").arg(&deb).args(["Package", "Version", "Depends"])), "dpkg-deb --field");
    assert!(info.contains("Package: postgresql-15-pg-iys") && info.contains(&format!("Version: {version}")) && info.contains("Depends: postgresql-15"), "{info}");

    // A root with its own copy of PostgreSQL (relocatable: the binaries find lib and share
    // beside them) and its own dpkg database, without pg_iys.
    let root = work.join("root");
    let toml = std::fs::read_to_string(repo_root().join("pgrx.toml")).unwrap();
    let private = PathBuf::from(toml_value(&toml, "private_pg_root").unwrap());
    std::fs::create_dir_all(&root).unwrap();
    ok(run(Command::new("cp").arg("-a").arg(private.join("usr")).arg(&root)), "copying the PostgreSQL tree");
    for dir in [under(&root, &pkglibdir), under(&root, &ext)] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_str().unwrap().starts_with("pg_iys") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    let admin = root.join("var/lib/dpkg");
    for dir in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(admin.join(dir)).unwrap();
    }
    std::fs::write(admin.join("status"), "").unwrap();
    std::fs::write(admin.join("available"), "").unwrap();
    ok(Command::new("chmod").args(["-R", "a+rX"]).arg(&work).output().unwrap(), "chmod");

    ok(dpkg(&root, &["-i", deb.to_str().unwrap()]), "dpkg -i");
    let library = under(&root, &pkglibdir.join("pg_iys.so"));
    assert!(library.exists());
    let bindir = under(&root, &pg_config("--bindir"));
    let install = PgInstall { pg_regress: bindir.join("pg_regress"), bindir };
    let cluster = Cluster::start_from(install, "package", &["iys.flush_interval = 100"]);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    assert_eq!(one::<String>(&mut c, "SELECT extversion FROM pg_extension WHERE extname = 'pg_iys'"), version);
    let worker = cluster.wait_for(std::time::Duration::from_secs(20), || cluster.worker_pid(&mut c)).expect("worker up");
    let inode_before = std::fs::metadata(&library).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();

    // Installed again under the running server (what an upgrade does): a new file renamed into
    // place; the server, this session and the worker go on with the library they mapped.
    ok(dpkg(&root, &["-i", deb.to_str().unwrap()]), "dpkg -i over a running server");
    let inode_after = std::fs::metadata(&library).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    assert_ne!(inode_before, inode_after, "dpkg did not replace the library by a new file");
    assert_eq!(one::<String>(&mut c, "SELECT iys.normalize_phone('0532 000 00 01')"), "+905320000001");
    let mut fresh = cluster.connect();
    assert_eq!(one::<String>(&mut fresh, "SELECT iys.normalize_phone('0532 000 00 02')"), "+905320000002");
    assert_eq!(cluster.worker_pid(&mut fresh), Some(worker), "the worker restarted; log:\n{}", log_tail(&cluster));
    let log = cluster.server_log();
    assert!(!log.contains("terminated by signal") && !log.contains("server process"), "{log}");

    // Removal while the server has it loaded is refused and says what to do first.
    let refused = dpkg(&root, &["-r", "postgresql-15-pg-iys"]);
    assert!(!refused.status.success(), "removed under a running server");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("loaded by running PostgreSQL processes") && said.contains("shared_preload_libraries"), "{said}");
    assert!(library.exists());

    drop(fresh);
    drop(c);
    drop(cluster);
    ok(dpkg(&root, &["-r", "postgresql-15-pg-iys"]), "dpkg -r with no server running");
    assert!(!library.exists());
    assert!(!under(&root, &ext.join(format!("pg_iys--{version}.sql"))).exists());
    let _ = std::fs::remove_dir_all(&work);
}
