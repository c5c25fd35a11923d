//! Security: what a role without privileges can and cannot make pg_iys do, whose rights the
//! worker's writes run with, and what the extension's own SQL trusts. Each test plays the
//! attacker against a real cluster (and, where the worker must run, the IYS simulator).

use pg_iys_e2e::postgres::{Client, NoTls};
use pg_iys_e2e::{citizen_change, contact_table_sql, expect_error, insert_contacts, log_tail, one, setup_sync, wait_settled, wait_true, Cluster, Sim};
use std::time::Duration;

const CONF: &[&str] = &[
    "iys.flush_interval = 200",
    "iys.pull_interval = 300",
    "iys.http_timeout = 2000",
    "iys.backoff_cap = 500",
];

/// The one value of PostgreSQL's `search_path` pg_iys's SQL functions may run with.
const SAFE_SEARCH_PATH: &str = "search_path=pg_catalog, pg_temp";

/// SECURITY DEFINER functions of schema iys a plain role may still execute (by signature).
/// Applications ask can_send() / can_send_many() before sending; they answer booleans per
/// recipient asked and read nothing else.
const SECURITY_DEFINER_EXECUTABLE_BY_ANYONE: &[&str] =
    &["iys.can_send(text,iys.consent_type,text)", "iys.can_send_many(text[],iys.consent_type,text)"];

/// A session as `role` (trust authentication on loopback).
fn connect_as(cluster: &Cluster, role: &str) -> Client {
    let conn = format!("host=127.0.0.1 port={} user={role} dbname=postgres connect_timeout=10", cluster.port);
    Client::connect(&conn, NoTls).unwrap_or_else(|e| panic!("connect as {role}: {e}"))
}

fn is_superuser(c: &mut Client, role: &str) -> bool {
    c.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&role]).unwrap().get(0)
}

/// The enqueue trigger used to run its argument as SQL with the extension owner's rights: any
/// role could point a trigger of its own at it and run anything as superuser. Plain roles may
/// not use pg_iys's trigger functions at all, and the statement is never taken from the
/// trigger's arguments (not even a superuser's).
#[test]
fn trigger_functions_run_no_sql_from_their_arguments() {
    let cluster = Cluster::start("sec_trigargs", &[]);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys; CREATE ROLE mallory LOGIN").unwrap();

    let mut mallory = connect_as(&cluster, "mallory");
    mallory.batch_execute("CREATE TEMP TABLE t (x int)").unwrap();
    let (code, message) = expect_error(
        &mut mallory,
        "CREATE TRIGGER z AFTER INSERT ON t REFERENCING NEW TABLE AS iys_new_rows
         FOR EACH STATEMENT EXECUTE FUNCTION iys.enqueue_changes('ALTER ROLE mallory SUPERUSER')",
    );
    assert_eq!(code, "42501", "{message}");
    let (code, message) = expect_error(
        &mut mallory,
        "CREATE TRIGGER z2 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION iys.consent_row_check('reject', '{}', '600001')",
    );
    assert_eq!(code, "42501", "{message}");
    mallory.batch_execute("INSERT INTO t VALUES (1)").unwrap();
    assert!(!is_superuser(&mut c, "mallory"));

    // A superuser's trigger on a table that is not attached: its argument is not run.
    c.batch_execute(
        "CREATE TABLE plain_a (x int);
         CREATE TABLE plain_b (x int);",
    )
    .unwrap();
    let attempts = [
        ("plain_a", "CREATE TABLE pwned ()"),
        (
            "plain_b",
            "INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date)
             VALUES (''600001'', ''+905550000001'', ''BIREYSEL'', ''MESAJ'', ''ONAY'', ''HS_WEB'', localtimestamp)",
        ),
    ];
    for (table, argument) in attempts {
        let created = c.batch_execute(&format!(
            "CREATE TRIGGER z AFTER INSERT ON {table} REFERENCING NEW TABLE AS iys_new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION iys.enqueue_changes('{argument}')"
        ));
        // Refusing the trigger itself is as good as refusing to run it.
        if created.is_ok() {
            let insert = c.batch_execute(&format!("INSERT INTO {table} VALUES (1)"));
            assert!(insert.is_err(), "an insert into unattached {table} ran its trigger's argument");
        }
    }
    assert!(one::<bool>(&mut c, "SELECT to_regclass('public.pwned') IS NULL"), "the trigger argument was executed");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 0, "the trigger argument reached the outbox");
}

/// `iys.applying_pull` used to be a plain placeholder setting any role could turn on, which
/// switched the row check and the enqueue trigger off: invalid consents stored, nothing sent.
/// The `iys` prefix is reserved now, and an attached table's own owner cannot skip the check.
#[test]
fn no_role_can_switch_the_consent_checks_off() {
    let cluster = Cluster::start("sec_applying", &[]);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys; CREATE ROLE mallory LOGIN; CREATE ROLE app LOGIN").unwrap();

    let mut mallory = connect_as(&cluster, "mallory");
    for sql in ["SET iys.applying_pull = on", "SELECT set_config('iys.applying_pull', 'on', false)"] {
        let (code, message) = expect_error(&mut mallory, sql);
        // 42602: a reserved prefix (PostgreSQL's own check); 42704/22023: an unknown setting;
        // 42501: a real setting only superusers may set.
        assert!(["42602", "42704", "22023", "42501"].contains(&code.as_str()), "{sql}: {code} {message}");
    }
    let value: Option<String> = one(&mut mallory, "SELECT current_setting('iys.applying_pull', true)");
    assert_ne!(value.as_deref(), Some("on"));

    // The owner of an attached table tries the same before writing garbage into it.
    c.batch_execute(&contact_table_sql("master_contact", "")).unwrap();
    c.batch_execute("ALTER TABLE master_contact OWNER TO app; SELECT iys.attach('master_contact', brand_code => '600001')").unwrap();
    let mut app = connect_as(&cluster, "app");
    let _ = app.batch_execute("SET iys.applying_pull = on");
    let _ = app.batch_execute("SELECT set_config('iys.applying_pull', 'on', false)");
    let (code, message) = expect_error(
        &mut app,
        "INSERT INTO master_contact (email, email_permission, email_consent_date, email_source)
         VALUES ('garbage', 'MAYBE', '1999-01-01', 'NOPE')",
    );
    assert_eq!(code, "23514", "{message}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM master_contact"), 0);
}

/// A role that can create functions in `public` shadows `format()` with exact-type overloads,
/// which win over pg_catalog's variadic one wherever pg_iys calls it unqualified. The worker
/// runs as a superuser, so such a call would make mallory one. pg_iys's SQL functions pin
/// `search_path`, and the worker's own statements never look in `public`.
#[test]
fn functions_planted_in_public_never_run_in_pg_iys_code() {
    let sim = Sim::start();
    let cluster = Cluster::start("sec_searchpath", CONF);
    let mut c = cluster.connect();
    c.batch_execute("CREATE ROLE mallory LOGIN; GRANT CREATE ON SCHEMA public TO mallory").unwrap();

    // Planted before anything runs, so no plan cached earlier hides them.
    let mut mallory = connect_as(&cluster, "mallory");
    mallory
        .batch_execute(
            "CREATE TABLE public.hijack_log (who name NOT NULL, at timestamptz NOT NULL DEFAULT now());
             GRANT INSERT ON public.hijack_log TO PUBLIC;",
        )
        .unwrap();
    let signatures: [&[&str]; 6] = [
        &["text"],
        &["text", "text"],
        &["text", "text", "text"],
        &["text", "text", "text", "text"],
        &["text", "text", "text", "text", "text"],
        &["text", "text", "text", "regclass", "text", "text"],
    ];
    for rest in signatures {
        let params: Vec<String> = rest.iter().enumerate().map(|(i, t)| format!("a{i} {t}")).collect();
        let values: Vec<String> = (0..rest.len()).map(|i| format!("a{i}::text")).collect();
        mallory
            .batch_execute(&format!(
                "CREATE FUNCTION public.format(fmt text, {params}) RETURNS text LANGUAGE plpgsql AS $$
                 BEGIN
                     INSERT INTO public.hijack_log (who) VALUES (current_user);
                     BEGIN
                         ALTER ROLE mallory SUPERUSER;
                     EXCEPTION WHEN OTHERS THEN NULL;
                     END;
                     RETURN pg_catalog.format(fmt, VARIADIC ARRAY[{values}]);
                 END $$",
                params = params.join(", "),
                values = values.join(", "),
            ))
            .unwrap();
    }
    drop(mallory);

    // A full cycle: a local change sent and accepted, a citizen's change pulled and applied, and
    // one more local change after it.
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 1);
    let states = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(states.get("accepted"), Some(&2), "{states:?}");
    citizen_change(&sim, "+905320000001", "RET", None);
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(20), "SELECT gsm_permission = 'RET' FROM master_contact WHERE contact_id = 1"),
        "the citizen's RET never reached the table; log:\n{}",
        log_tail(&cluster)
    );
    c.batch_execute(
        "UPDATE master_contact SET email_permission = 'RET', email_consent_date = now() AT TIME ZONE 'Europe/Istanbul'
          WHERE contact_id = 1",
    )
    .unwrap();
    let states = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(states.get("accepted"), Some(&3), "{states:?}");
    // A few more pull rounds (our own movements come back through the HS pull).
    std::thread::sleep(Duration::from_millis(1000));

    let callers: Vec<String> = c.query("SELECT who::text FROM public.hijack_log", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert!(callers.is_empty(), "mallory's format() ran as {callers:?}");
    assert!(!is_superuser(&mut c, "mallory"));

    let unpinned: Vec<String> = c
        .query(
            "SELECT p.oid::regprocedure::text || ' ' || coalesce(p.proconfig::text, '(no settings)')
               FROM pg_proc p
              WHERE p.pronamespace IN ('iys'::regnamespace, 'iys_internal'::regnamespace)
                AND p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))
                -- SQL-standard bodies (BEGIN ATOMIC / RETURN) are bound to objects when created:
                -- no search_path is consulted when they run (and a SET would stop inlining).
                AND p.prosqlbody IS NULL
                AND NOT coalesce($1 = ANY (p.proconfig), false)
              ORDER BY 1",
            &[&SAFE_SEARCH_PATH],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(unpinned.is_empty(), "SQL functions of schema iys without {SAFE_SEARCH_PATH}:\n{}", unpinned.join("\n"));
}

/// The worker writes IYS's changes into attached tables; the table's own triggers then run.
/// They must run with the table owner's rights, never the worker's (a superuser's): an owner
/// who is not a superuser must not become one through its own trigger.
#[test]
fn an_owners_trigger_runs_with_the_owners_rights_when_the_worker_writes() {
    let sim = Sim::start();
    let cluster = Cluster::start("sec_owner", CONF);
    let mut c = cluster.connect();
    c.batch_execute("CREATE ROLE app LOGIN; GRANT CREATE ON SCHEMA public TO app; CREATE EXTENSION pg_iys").unwrap();
    c.execute(
        "INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700001', $1, 'iys-demo', 'demo-password')",
        &[&sim.url()],
    )
    .unwrap();
    c.batch_execute("INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600001', '700001')").unwrap();
    c.batch_execute(&contact_table_sql("master_contact", "")).unwrap();
    c.batch_execute("ALTER TABLE master_contact OWNER TO app; SELECT iys.attach('master_contact', brand_code => '600001')").unwrap();

    let mut app = connect_as(&cluster, "app");
    app.batch_execute(
        "CREATE TABLE public.trigger_log (who name NOT NULL, was_superuser boolean);
         CREATE FUNCTION public.note_update() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO public.trigger_log VALUES (current_user, (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user));
             BEGIN
                 ALTER ROLE app SUPERUSER;
             EXCEPTION WHEN OTHERS THEN NULL;
             END;
             RETURN NEW;
         END $$;
         CREATE TRIGGER app_note AFTER UPDATE ON master_contact FOR EACH ROW EXECUTE FUNCTION public.note_update();",
    )
    .unwrap();

    insert_contacts(&mut c, 1, 1);
    wait_settled(&cluster, Duration::from_secs(30));
    citizen_change(&sim, "+905320000001", "RET", None);
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(20), "SELECT gsm_permission = 'RET' FROM master_contact WHERE contact_id = 1"),
        "the citizen's RET never reached the table; log:\n{}",
        log_tail(&cluster)
    );
    let runs: Vec<(String, Option<bool>)> =
        c.query("SELECT who::text, was_superuser FROM public.trigger_log", &[]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(!runs.is_empty(), "the owner's trigger did not run");
    assert!(runs.iter().all(|(who, sup)| who == "app" && *sup == Some(false)), "the owner's trigger ran as {runs:?}");
    assert!(!is_superuser(&mut c, "app"));
}

/// Everything a plain role can reach in schema iys: no secret or internal table, no worker
/// function, no SECURITY DEFINER entry point, no iys.attach(). And accounts: the password goes
/// out with every token request, so plain http is refused unless to this machine or allowed
/// explicitly per account.
#[test]
fn plain_roles_reach_no_internals_and_accounts_need_https() {
    let cluster = Cluster::start("sec_surface", &[]);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys; CREATE ROLE mallory LOGIN; GRANT CREATE ON SCHEMA public TO mallory").unwrap();

    let mut mallory = connect_as(&cluster, "mallory");
    for table in ["iys.account", "iys.token", "iys.worker_state", "iys.outbox", "iys.attached_table"] {
        let (code, message) = expect_error(&mut mallory, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(code, "42501", "{table}: {message}");
    }
    // Refused as a function, not by some table it happens to read first.
    let (code, message) = expect_error(&mut mallory, "SELECT iys_internal.claim_batch('600001', 10)");
    assert_eq!(code, "42501", "{message}");
    assert!(message.contains("claim_batch"), "{message}");

    mallory.batch_execute(&contact_table_sql("public.mallory_contact", "")).unwrap();
    let (code, message) = expect_error(&mut mallory, "SELECT iys.attach('mallory_contact', brand_code => '600001')");
    assert_eq!(code, "42501", "{message}");
    assert_eq!(
        one::<i64>(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.mallory_contact'::regclass AND tgname LIKE 'zz_iys%'"),
        0
    );
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.attached_table"), 0);

    let definer_unpinned: Vec<String> = c
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p
              WHERE p.pronamespace IN ('iys'::regnamespace, 'iys_internal'::regnamespace) AND p.prosecdef
                AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) s WHERE s LIKE 'search\\_path=%pg\\_temp')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(definer_unpinned.is_empty(), "SECURITY DEFINER functions without a pinned search_path: {definer_unpinned:?}");
    let definer_open: Vec<String> = c
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p
              WHERE p.pronamespace IN ('iys'::regnamespace, 'iys_internal'::regnamespace) AND p.prosecdef
                AND has_function_privilege('mallory', p.oid, 'EXECUTE')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .filter(|f: &String| !SECURITY_DEFINER_EXECUTABLE_BY_ANYONE.contains(&f.as_str()))
        .collect();
    assert!(
        definer_open.is_empty(),
        "SECURITY DEFINER functions a plain role may execute: {definer_open:?} (allowed: {SECURITY_DEFINER_EXECUTABLE_BY_ANYONE:?})"
    );

    // http to another machine: refused; to loopback, or explicitly allowed: taken.
    let (code, message) = expect_error(
        &mut c,
        "INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700009', 'http://10.1.2.3:8080', 'u', 'p')",
    );
    assert_eq!(code, "23514", "{message}");
    c.batch_execute("INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700010', 'http://127.0.0.1:9', 'u', 'p')")
        .unwrap();
    c.batch_execute(
        "INSERT INTO iys.account (iys_code, api_base_url, username, password, allow_insecure_http)
         VALUES ('700011', 'http://10.1.2.3:8080', 'u', 'p', true)",
    )
    .unwrap();
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.account"), 2);
}

/// The worker needs no superuser: with `iys.worker_role` it connects as a plain LOGIN role given
/// its rights by `iys.grant_worker_rights()`, sends, settles, and applies a citizen's change to
/// an attached table (as that table's owner).
#[test]
fn the_worker_runs_as_a_plain_role() {
    let sim = Sim::start();
    let mut conf = CONF.to_vec();
    conf.push("iys.worker_role = 'iys_worker'");
    let cluster = Cluster::start("sec_worker_role", &conf);
    let mut c = cluster.connect();
    // Until the role exists the worker cannot connect; the postmaster retries every 5 s.
    c.batch_execute("CREATE ROLE iys_worker LOGIN; CREATE EXTENSION pg_iys; SELECT iys.grant_worker_rights('iys_worker')").unwrap();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 2);
    let states = wait_settled(&cluster, Duration::from_secs(40));
    assert_eq!(states.get("accepted"), Some(&4), "{states:?}; log:\n{}", log_tail(&cluster));
    let who: String = c
        .query_one("SELECT usename::text FROM pg_stat_activity WHERE backend_type = 'pg_iys worker'", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, "iys_worker");
    assert!(!is_superuser(&mut c, "iys_worker"));

    citizen_change(&sim, "+905320000001", "RET", None);
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(20), "SELECT gsm_permission = 'RET' FROM master_contact WHERE contact_id = 1"),
        "the citizen's RET did not reach the table; log:\n{}",
        log_tail(&cluster)
    );
    let quarantined: i64 = c.query_one("SELECT count(*) FROM iys.pull_quarantine", &[]).unwrap().get(0);
    assert_eq!(quarantined, 0);
    assert!(!cluster.server_log().contains("permission denied"), "log:\n{}", log_tail(&cluster));
}

/// Every error pg_iys raises from Rust passes through Rust's panic machinery, which captures a
/// backtrace whenever the server's environment has RUST_BACKTRACE set, and pgrx would put it in
/// the DETAIL sent to the client. None reaches a client, whatever the environment.
#[test]
fn errors_carry_no_rust_backtrace_or_source_path() {
    // The server inherits this process's environment (runuser keeps it).
    std::env::set_var("RUST_BACKTRACE", "1");
    let cluster = Cluster::start("sec_backtrace", &[]);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    // An error PostgreSQL raises inside a statement pg_iys runs (here: attach's CREATE TRIGGER
    // meets a trigger of that name) is the case where a backtrace was captured.
    c.batch_execute(&contact_table_sql("taken", "")).unwrap();
    c.batch_execute(
        "CREATE FUNCTION mine() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER zz_iys_consent_check BEFORE INSERT ON taken FOR EACH ROW EXECUTE FUNCTION mine();",
    )
    .unwrap();
    for sql in [
        "SELECT iys.attach('taken', brand_code => '600001')",
        "SELECT iys.to_consent_type('SMS')",
        "SELECT '+9005321234567'::iys.phone",
        "SELECT * FROM iys.validate_table(NULL)",
    ] {
        let error = c.batch_execute(sql).expect_err(sql);
        let db = error.as_db_error().expect("a server error");
        let text = format!("{}\n{}\n{}", db.message(), db.detail().unwrap_or_default(), db.hint().unwrap_or_default());
        assert!(!text.contains("backtrace") && !text.contains(".rs:") && !text.contains("rust_begin_unwind"), "{sql}:\n{text}");
    }
}

/// A password kept out of the database: iys.account.password is NULL and the worker reads the
/// account's line from the file iys.password_file names, which must be private to the server's
/// user (mode 600, like .pgpass); until it is, nothing is sent and the error says why without
/// the secret.
#[test]
fn the_password_can_live_in_a_private_file_instead_of_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let sim = Sim::start();
    // The worker starts switched off: with it on, it could log in with setup_sync's stored
    // password before the password is cleared, and its cached token would need no file. One
    // reload then names the file and switches it on.
    let cluster = Cluster::start("pwfile", &["iys.flush_interval = 100", "iys.backoff_cap = 500", "iys.enabled = off"]);
    let mut c = cluster.connect();
    let file = cluster.datadir.join("iys_passwords");
    std::fs::write(&file, "# iys_code:password\n700001:demo-password\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let chown = std::process::Command::new("chown").args(["postgres:postgres"]).arg(&file).status().unwrap();
    assert!(chown.success());
    setup_sync(&mut c, &sim.url());
    c.batch_execute("UPDATE iys.account SET password = NULL").unwrap();
    insert_contacts(&mut c, 1, 2);
    c.batch_execute(&format!("ALTER SYSTEM SET iys.password_file = '{}'", file.display())).unwrap();
    c.batch_execute("ALTER SYSTEM SET iys.enabled = on").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    let refused = cluster.wait_for(Duration::from_secs(20), || {
        let error: Option<String> = c.query_one("SELECT last_error FROM iys.worker_state", &[]).ok()?.get(0);
        error.filter(|e| e.contains("chmod 600"))
    });
    let error = refused.unwrap_or_else(|| panic!("no error about the file's mode; log:\n{}", log_tail(&cluster)));
    assert!(!error.contains("demo-password"), "{error}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE state <> 'pending'"), 0, "nothing goes without the password");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let states = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(states.get("accepted"), Some(&4), "{states:?}\n{}", log_tail(&cluster));
    assert!(!cluster.server_log().contains("demo-password"), "the password reached the log");
}
