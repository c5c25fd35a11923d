//! Integrity: what pg_iys sends and writes stays true to the tables and to IYS when rows change
//! their key, tables cannot take a change, two tables hold the same address, IYS set the source,
//! rows are deleted, or the extension is dropped with work still queued.

use pg_iys_e2e::postgres::Client;
use pg_iys_e2e::{citizen_change, contact_table_sql, expect_error, insert_contacts, log_tail, one, setup_sync, wait_settled, wait_true, Cluster, Sim};
use std::time::Duration;

const CONF: &[&str] = &[
    "iys.flush_interval = 200",
    "iys.pull_interval = 300",
    "iys.http_timeout = 2000",
    "iys.backoff_cap = 500",
];

/// A row of `table` with only an accepted-looking GSM ONAY for `phone`.
fn insert_gsm(c: &mut Client, table: &str, phone: &str) {
    c.batch_execute(&format!(
        "INSERT INTO {table} (gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('{phone}', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB')"
    ))
    .unwrap();
}

/// Everything after the first wait lands in a fresh second at least: IYS and the row check
/// compare consent dates at whole seconds.
fn next_second() {
    std::thread::sleep(Duration::from_millis(1100));
}

/// The enqueue trigger pairs old and new rows by key, so an UPDATE that changes a key (two rows
/// swapping ids) would send one row's consent under another's identity, or lose it. Such
/// UPDATEs are refused. Deleting rows, on the other hand, takes nothing back from IYS: IYS still
/// holds the consents, and nothing is queued.
#[test]
fn key_changes_are_refused_and_deletes_queue_nothing() {
    let sim = Sim::start();
    let cluster = Cluster::start("int_keys", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 3);
    wait_settled(&cluster, Duration::from_secs(30));
    let queued = one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox");

    let (code, message) = expect_error(
        &mut c,
        "UPDATE master_contact SET contact_id = CASE contact_id WHEN 1 THEN 2 ELSE 1 END,
                gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul'
          WHERE contact_id IN (1, 2)",
    );
    assert_eq!(code, "0A000", "{message}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), queued);
    let (code, message) = expect_error(&mut c, "UPDATE master_contact SET contact_id = 101 WHERE contact_id = 1");
    assert_eq!(code, "0A000", "{message}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), queued);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM master_contact WHERE contact_id IN (1, 2) AND gsm_permission = 'ONAY'"), 2);

    c.batch_execute("DELETE FROM master_contact WHERE contact_id = 3").unwrap();
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), queued, "a DELETE queued something");
    assert!(one::<bool>(&mut c, "SELECT iys.can_send('+905320000003', 'MESAJ')"), "IYS still holds the ONAY");
    assert!(one::<bool>(&mut c, "SELECT iys.can_send('user3@example.com', 'EPOSTA')"));
    c.batch_execute("TRUNCATE master_contact").unwrap();
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), queued, "a TRUNCATE queued something");
    assert!(one::<bool>(&mut c, "SELECT iys.can_send('+905320000001', 'MESAJ')"));
}

/// iys.attach() refuses tables whose rows it could not identify or write back: a row_id that
/// is not unique, a mapped column the table computes itself, a temporary table (gone with its
/// session, invisible to the worker). And DROP EXTENSION does not silently throw away changes
/// that were never sent.
#[test]
fn attach_refuses_unfit_tables_and_drop_extension_keeps_unsent_changes() {
    let cluster = Cluster::start("int_attach", &["iys.enabled = off"]);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys").unwrap();

    c.batch_execute(&contact_table_sql("by_code", ", code text")).unwrap();
    let (code, message) = expect_error(&mut c, r#"SELECT iys.attach('by_code', brand_code => '600001', mapping => '{"row_id": "code"}')"#);
    assert_eq!(code, "22023", "{message}");
    assert!(message.to_lowercase().contains("unique"), "{message}");

    c.batch_execute(&contact_table_sql("computed", "").replace("email_source text,", "email_source text GENERATED ALWAYS AS ('HS_WEB') STORED,"))
        .unwrap();
    let (code, message) = expect_error(&mut c, "SELECT iys.attach('computed', brand_code => '600001')");
    assert_eq!(code, "22023", "{message}");
    assert!(message.to_lowercase().contains("generated"), "{message}");

    c.batch_execute(&contact_table_sql("pg_temp.scratch", "")).unwrap();
    let (code, message) = expect_error(&mut c, "SELECT iys.attach('pg_temp.scratch', brand_code => '600001')");
    assert_eq!(code, "22023", "{message}");
    assert!(message.to_lowercase().contains("temporary"), "{message}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.attached_table"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'zz_iys%'"), 0);

    // A table attached in a database the worker does not serve: said at once.
    c.batch_execute("CREATE DATABASE elsewhere").unwrap();
    let mut other = cluster.connect_db("elsewhere");
    other.batch_execute(&format!("CREATE EXTENSION pg_iys; {}; SELECT iys.attach('t', brand_code => '600001')", contact_table_sql("t", ""))).unwrap();
    assert!(
        cluster.server_log().contains("but the worker sends from \"postgres\" (iys.database): changes queued here are not sent"),
        "no warning; log:\n{}",
        log_tail(&cluster)
    );

    // One change queued and, with iys.enabled = off, never sent.
    c.batch_execute(&contact_table_sql("master_contact", "")).unwrap();
    c.batch_execute("SELECT iys.attach('master_contact', brand_code => '600001')").unwrap();
    insert_gsm(&mut c, "master_contact", "05321234567");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE state = 'pending'"), 1);
    let (code, message) = expect_error(&mut c, "DROP EXTENSION pg_iys CASCADE");
    assert_eq!(code, "55006", "{message}");
    assert!(message.contains('1'), "the message should give the number of unsent changes: {message}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_iys'"), 1);
    c.batch_execute("SET iys.drop_with_pending_changes = on; DROP EXTENSION pg_iys CASCADE").unwrap();
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_iys'"), 0);
}

/// A table that cannot take a pulled change (here: an owner trigger that refuses it, later the
/// whole table dropped) must not stop the pull or the other tables: the change is quarantined
/// for that table, with the reason, and applied everywhere else. (Renaming a mapped column
/// away is refused at DDL time.)
#[test]
fn a_table_that_cannot_take_a_change_is_quarantined_and_holds_up_nothing() {
    let sim = Sim::start();
    let cluster = Cluster::start("int_quarantine", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    c.batch_execute(&contact_table_sql("mirror_contact", "")).unwrap();
    c.batch_execute("SELECT iys.attach('mirror_contact', brand_code => '600001')").unwrap();
    insert_contacts(&mut c, 1, 3);
    insert_gsm(&mut c, "mirror_contact", "+905320000001");
    wait_settled(&cluster, Duration::from_secs(30));

    let (code, message) = pg_iys_e2e::expect_error(&mut c, "ALTER TABLE mirror_contact RENAME COLUMN gsm_permission TO perm");
    assert_eq!(code, "22023", "{message}");
    assert!(message.contains("breaks pg_iys's attachment of public.mirror_contact"), "{message}");
    c.batch_execute(
        "CREATE FUNCTION refuse_ret() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.gsm_permission = 'RET' THEN RAISE EXCEPTION 'mirror_contact takes no RET today'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER a_refuse_ret BEFORE UPDATE ON mirror_contact FOR EACH ROW EXECUTE FUNCTION refuse_ret();",
    )
    .unwrap();
    citizen_change(&sim, "+905320000001", "RET", None);
    citizen_change(&sim, "+905320000002", "RET", None);
    assert!(
        wait_true(
            &cluster,
            &mut c,
            Duration::from_secs(20),
            "SELECT count(*) = 2 FROM master_contact WHERE contact_id IN (1, 2) AND gsm_permission = 'RET'"
        ),
        "master_contact did not get both RETs; log:\n{}",
        log_tail(&cluster)
    );
    assert!(
        wait_true(
            &cluster,
            &mut c,
            Duration::from_secs(20),
            "SELECT EXISTS (SELECT 1 FROM iys.pull_quarantine q WHERE row_to_json(q)::text LIKE '%mirror_contact%')"
        ),
        "nothing quarantined for mirror_contact: {:?}",
        c.query("SELECT row_to_json(q)::text FROM iys.pull_quarantine q", &[]).map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>())
    );
    let cursor = c.query_one("SELECT last_error, applied_changes FROM iys.pull_cursor WHERE source = 'IYS'", &[]).unwrap();
    assert_eq!(cursor.get::<_, Option<String>>(0), None);
    assert!(cursor.get::<_, i64>(1) > 0);

    // A dropped attached table: later changes still reach the others.
    c.batch_execute("DROP TABLE mirror_contact").unwrap();
    citizen_change(&sim, "+905320000003", "RET", None);
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(20), "SELECT gsm_permission = 'RET' FROM master_contact WHERE contact_id = 3"),
        "a change after DROP TABLE of another attached table did not arrive; log:\n{}",
        log_tail(&cluster)
    );
}

/// After IYS set a row's consent (its source is an IYS_* one, which IYS refuses from us), the
/// application changes the permission without touching the source, as D-engage's update
/// algorithm lets it. That must not be refused (H119) or reverted: the change goes to IYS with
/// an HS_* source.
#[test]
fn a_permission_change_over_a_source_iys_set_is_sent_with_our_own_source() {
    let sim = Sim::start();
    let cluster = Cluster::start("int_iyssource", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    c.batch_execute(&contact_table_sql("keep_contact", "")).unwrap();
    c.batch_execute("SELECT iys.attach('keep_contact', brand_code => '600001', on_invalid => 'keep')").unwrap();
    insert_contacts(&mut c, 1, 1);
    insert_gsm(&mut c, "keep_contact", "+905320000002");
    wait_settled(&cluster, Duration::from_secs(30));

    // The citizen says RET to both numbers in IYS.
    citizen_change(&sim, "+905320000001", "RET", None);
    citizen_change(&sim, "+905320000002", "RET", None);
    assert!(
        wait_true(
            &cluster,
            &mut c,
            Duration::from_secs(20),
            "SELECT (SELECT gsm_permission = 'RET' AND gsm_source LIKE 'IYS\\_%' FROM master_contact WHERE contact_id = 1)
                AND (SELECT gsm_permission = 'RET' AND gsm_source LIKE 'IYS\\_%' FROM keep_contact WHERE contact_id = 1)"
        ),
        "the citizen's RETs did not arrive; log:\n{}",
        log_tail(&cluster)
    );
    next_second();

    // reject mode: the app gives ONAY again and leaves the source alone.
    c.batch_execute(
        "UPDATE master_contact SET gsm_permission = 'ONAY', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' WHERE contact_id = 1",
    )
    .unwrap();
    assert_eq!(one::<String>(&mut c, "SELECT gsm_permission FROM master_contact WHERE contact_id = 1"), "ONAY");
    let newest = c
        .query_one(
            "SELECT status::text, source::text FROM iys.outbox WHERE recipient = '+905320000001' AND consent_type = 'MESAJ'
              ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap();
    assert_eq!(newest.get::<_, String>(0), "ONAY");
    let source: Option<String> = newest.get(1);
    assert!(source.as_deref().is_some_and(|s| s.starts_with("HS_")), "queued with source {source:?}");

    // keep mode: the citizen gives ONAY again in IYS, then the app says RET without a source.
    citizen_change(&sim, "+905320000002", "ONAY", None);
    assert!(
        wait_true(
            &cluster,
            &mut c,
            Duration::from_secs(20),
            "SELECT gsm_permission = 'ONAY' AND gsm_source LIKE 'IYS\\_%' FROM keep_contact WHERE contact_id = 1"
        ),
        "the citizen's ONAY did not arrive; log:\n{}",
        log_tail(&cluster)
    );
    next_second();
    let rets = "SELECT count(*) FROM iys.outbox WHERE recipient = '+905320000002' AND status = 'RET'";
    let before = one::<i64>(&mut c, rets);
    c.batch_execute(
        "UPDATE keep_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' WHERE contact_id = 1",
    )
    .unwrap();
    assert_eq!(one::<String>(&mut c, "SELECT gsm_permission FROM keep_contact WHERE contact_id = 1"), "RET", "the RET was reverted");
    assert_eq!(one::<i64>(&mut c, rets), before + 1, "the RET was not queued");
    let source: Option<String> =
        one(&mut c, "SELECT source::text FROM iys.outbox WHERE recipient = '+905320000002' AND status = 'RET' ORDER BY id DESC LIMIT 1");
    assert!(source.as_deref().is_some_and(|s| s.starts_with("HS_")), "queued with source {source:?}");
}

/// Two attached tables of one brand hold the same phone. When the app changes it in one, IYS
/// takes the change once, and the other table follows instead of keeping the old consent.
#[test]
fn two_tables_holding_one_address_do_not_drift_apart() {
    let sim = Sim::start();
    let cluster = Cluster::start("int_drift", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    c.batch_execute(&contact_table_sql("contact_b", "")).unwrap();
    // Accepted changes reach other rows through an index on the address column.
    c.batch_execute("CREATE INDEX ON contact_b (gsm); SELECT iys.attach('contact_b', brand_code => '600001')").unwrap();
    insert_gsm(&mut c, "master_contact", "+905320000001");
    insert_gsm(&mut c, "contact_b", "+905320000001");
    wait_settled(&cluster, Duration::from_secs(30));
    next_second();

    c.batch_execute(
        "UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul', gsm_source = 'HS_WEB'",
    )
    .unwrap();
    wait_settled(&cluster, Duration::from_secs(30));
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(20), "SELECT gsm_permission = 'RET' FROM contact_b"),
        "contact_b still holds the old consent; log:\n{}",
        log_tail(&cluster)
    );
    // Following must not send the RET a second time.
    std::thread::sleep(Duration::from_millis(1000));
    wait_settled(&cluster, Duration::from_secs(30));
    let rets: Vec<serde_json::Value> =
        sim.history().into_iter().filter(|m| m["recipient"] == "+905320000001" && m["status"] == "RET").collect();
    assert_eq!(rets.len(), 1, "{rets:?}");
}
