//! ALTER EXTENSION pg_iys UPDATE from 0.1.0: the upgraded schema equals a fresh install, work in
//! flight at the upgrade is finished without resending, and the worker waits while the database
//! still has the old version.

use pg_iys_e2e::{repo_root, setup_sync, wait_settled, Cluster, Sim};
use std::collections::BTreeSet;
use std::time::Duration;

const FAST: &[&str] = &["iys.flush_interval_ms = 200"];

/// Makes `CREATE EXTENSION pg_iys VERSION '0.1.0'` possible: the 0.1.0 install script (as
/// `cargo pgrx schema` generated it for that release) next to the installed ones.
fn install_old_script(cluster: &Cluster) {
    let out = std::process::Command::new(cluster.install.bindir.join("pg_config")).arg("--sharedir").output().unwrap();
    let sharedir = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let target = std::path::Path::new(&sharedir).join("extension/pg_iys--0.1.0.sql");
    let fixture = std::fs::read(repo_root().join("tests/upgrade/pg_iys--0.1.0.sql")).unwrap();
    if std::fs::read(&target).ok().as_deref() != Some(fixture.as_slice()) {
        std::fs::write(&target, fixture).unwrap();
    }
}

/// Everything pg_iys defines in schema iys, one line per object, comparable across databases.
fn schema_objects(c: &mut postgres::Client) -> BTreeSet<String> {
    let sql = "
        SELECT 'column ' || c.relname || ' ' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) || ' ' || a.attname || ' '
               || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
               || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') || coalesce(' identity ' || nullif(a.attidentity::text, ''), '')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'iys'
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        UNION ALL
        SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' acl ' || coalesce(c.relacl::text, '-')
               || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'iys'
         WHERE c.relkind <> 'S'
        UNION ALL
        SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i
          JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'iys'
        UNION ALL
        SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
         WHERE connamespace = 'iys'::regnamespace AND conrelid <> 0
        UNION ALL
        SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t
          JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'iys'
         WHERE NOT t.tgisinternal
        UNION ALL
        SELECT 'view ' || c.relname || ' ' || pg_get_viewdef(c.oid) FROM pg_class c
         WHERE c.relnamespace = 'iys'::regnamespace AND c.relkind = 'v'
        UNION ALL
        SELECT 'function ' || pg_get_functiondef(p.oid) || ' acl ' || coalesce(p.proacl::text, '-')
               || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '-')
          FROM pg_proc p WHERE p.pronamespace = 'iys'::regnamespace AND p.prokind IN ('f', 'p')
        UNION ALL
        SELECT 'aggregate ' || p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = 'iys'::regnamespace AND p.prokind = 'a'
        UNION ALL
        SELECT 'type ' || t.typname || ' ' || t.typtype::text || ' '
               || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
          FROM pg_type t WHERE t.typnamespace = 'iys'::regnamespace AND t.typtype IN ('b', 'e', 'd')
        UNION ALL
        SELECT 'cast ' || format_type(castsource, NULL) || ' -> ' || format_type(casttarget, NULL) || ' ' || castcontext::text
          FROM pg_cast WHERE castsource IN (SELECT oid FROM pg_type WHERE typnamespace = 'iys'::regnamespace)
             OR casttarget IN (SELECT oid FROM pg_type WHERE typnamespace = 'iys'::regnamespace)
        UNION ALL
        SELECT 'operator ' || o.oid::regoperator FROM pg_operator o WHERE o.oprnamespace = 'iys'::regnamespace
        UNION ALL
        SELECT 'opclass ' || opcname || ' ' || (SELECT amname FROM pg_am WHERE oid = opcmethod) FROM pg_opclass WHERE opcnamespace = 'iys'::regnamespace
        UNION ALL
        SELECT 'config dump ' || unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'pg_iys'";
    c.query(sql, &[]).unwrap().iter().map(|r| r.get::<_, String>(0)).collect()
}

#[test]
fn update_from_0_1_0_matches_a_fresh_install_and_finishes_work_in_flight() {
    let sim = Sim::start();
    let cluster = Cluster::start("upgrade", FAST);
    install_old_script(&cluster);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys VERSION '0.1.0'").unwrap();
    setup_sync(&mut c, &sim.url());
    // Three consents as the 0.1.0 worker could have left them: two sent in one IYS request
    // (request id and indexes recorded), one claimed but never sent.
    c.batch_execute(
        "INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         SELECT '0532000000' || g, 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB'
           FROM generate_series(1, 3) g",
    )
    .unwrap();
    let body: String = c
        .query_one(
            "SELECT json_agg(json_build_object('recipient', recipient, 'type', consent_type, 'source', source, 'status', status,
                        'consentDate', to_char(consent_date, 'YYYY-MM-DD HH24:MI:SS'), 'recipientType', recipient_type) ORDER BY id DESC)::text
               FROM iys.outbox WHERE id IN (1, 2)",
            &[],
        )
        .unwrap()
        .get(0);
    let token: serde_json::Value = ureq::post(&format!("{}/oauth2/token", sim.url()))
        .send_json(serde_json::json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}))
        .unwrap()
        .into_json()
        .unwrap();
    let accepted: serde_json::Value = ureq::post(&format!("{}/v2/sps/700001/brands/600001/consents/request", sim.url()))
        .set("Authorization", &format!("Bearer {}", token["access_token"].as_str().unwrap()))
        .set("Content-Type", "application/json")
        .send_string(&body)
        .unwrap()
        .into_json()
        .unwrap();
    let request_id = accepted["requestId"].as_str().unwrap().to_owned();
    // Sent in descending id order: row 2 is index 0, row 1 index 1.
    c.execute(
        "UPDATE iys.outbox SET state = 'in_flight', attempts = 1, request_id = $1, batch_index = 2 - id WHERE id IN (1, 2)",
        &[&request_id],
    )
    .unwrap();
    c.batch_execute("UPDATE iys.outbox SET state = 'in_flight', attempts = 1 WHERE id = 3").unwrap();

    // The new library's worker does not touch a 0.1.0 database; it says why, once.
    let waiting = cluster.wait_for(Duration::from_secs(10), || {
        cluster.server_log().contains("waiting for ALTER EXTENSION pg_iys UPDATE").then_some(())
    });
    assert!(waiting.is_some(), "no warning; log:\n{}", cluster.server_log());
    std::thread::sleep(Duration::from_millis(600));
    let in_flight: i64 = c.query_one("SELECT count(*) FROM iys.outbox WHERE state = 'in_flight'", &[]).unwrap().get(0);
    assert_eq!(in_flight, 3);
    assert_eq!(cluster.server_log().matches("waiting for ALTER EXTENSION").count(), 1);

    c.batch_execute("ALTER EXTENSION pg_iys UPDATE").unwrap();
    let row = c
        .query_one(
            "SELECT e.extversion, a.default_version FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
              WHERE e.extname = 'pg_iys'",
            &[],
        )
        .unwrap();
    let (version, newest): (String, String) = (row.get(0), row.get(1));
    assert_eq!(version, newest);
    assert_ne!(version, "0.1.0");

    // All three reach IYS; the two sent before the upgrade are not sent again.
    let states = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(states.get("accepted"), Some(&3), "{states:?}; log:\n{}", cluster.server_log());
    let by = sim.movements_by_recipient();
    assert_eq!(by.len(), 3, "{by:?}");
    assert!(by.values().all(|n| *n == 1), "{by:?}");
    let batches: Vec<(Vec<i64>, Option<String>)> = c
        .query("SELECT outbox_ids, request_id FROM iys.batch ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(batches[0], (vec![2, 1], Some(request_id)), "the request in flight became a batch in index order");
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(batches[1].0, vec![3]);

    // The upgraded schema is the fresh 0.2.0 schema, object by object.
    c.batch_execute("CREATE DATABASE fresh").unwrap();
    let mut fresh = cluster.connect_db("fresh");
    fresh.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    let upgraded = schema_objects(&mut c);
    let installed = schema_objects(&mut fresh);
    let only_upgraded: Vec<_> = upgraded.difference(&installed).collect();
    let only_fresh: Vec<_> = installed.difference(&upgraded).collect();
    assert!(
        only_upgraded.is_empty() && only_fresh.is_empty(),
        "schemas differ\nonly after the upgrade:\n{only_upgraded:#?}\nonly in a fresh install:\n{only_fresh:#?}"
    );
    assert!(upgraded.len() > 100, "the comparison saw too little: {}", upgraded.len());
}
