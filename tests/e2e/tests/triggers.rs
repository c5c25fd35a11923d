//! Triggers on master_contact: D-engage's update algorithm, the outbox and the ledger, as an
//! application sees them through plain SQL on a real cluster.

use pg_iys_e2e::postgres::Client;
use pg_iys_e2e::Cluster;

const TABLE: &str = "CREATE TABLE master_contact (
    contact_id          bigserial PRIMARY KEY,
    name                text,
    contact_type        text DEFAULT 'BIREYSEL',
    email               text,
    email_permission    text,
    email_consent_date  timestamp,
    email_source        text,
    gsm                 text,
    gsm_permission      text,
    gsm_consent_date    timestamp,
    gsm_source          text)";

fn setup(cluster: &Cluster, on_invalid: &str) -> Client {
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_iys").unwrap();
    // The outbox and the ledger keep history: emptied as retention would.
    c.batch_execute("DROP TABLE IF EXISTS master_contact; TRUNCATE iys.attached_table").unwrap();
    c.batch_execute("SET iys.pruning_ledger = 'on'; TRUNCATE iys.outbox; DELETE FROM iys.consent_ledger; RESET iys.pruning_ledger").unwrap();
    c.batch_execute(TABLE).unwrap();
    c.query_one("SELECT iys.attach('master_contact', brand_code => '600001', on_invalid => $1)", &[&on_invalid]).unwrap();
    c
}

fn count(c: &mut Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

/// Runs `sql`, returning the texts of the WARNINGs/NOTICEs it raised.
fn notices(cluster: &Cluster, sql: &str) -> Vec<String> {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut config: pg_iys_e2e::postgres::Config = cluster.conn_string("postgres").parse().unwrap();
    config.notice_callback(move |n| sink.lock().unwrap().push(format!("{}: {}", n.severity(), n.message())));
    let mut c = config.connect(pg_iys_e2e::postgres::NoTls).unwrap();
    c.batch_execute(sql).unwrap();
    drop(c);
    let v = seen.lock().unwrap().clone();
    v
}

#[test]
fn update_algorithm_end_to_end() {
    let cluster = Cluster::start("triggers", &[]);
    let mut c = setup(&cluster, "reject");

    // A new contact: both channels normalised and queued, in the ledger too.
    c.batch_execute(
        "INSERT INTO master_contact (name, email, email_permission, email_consent_date, email_source,
                                     gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('Ayşe', '  Ayse@Example.COM ', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB',
                 '0532 123 45 67', 'onay', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_MOBIL')",
    )
    .unwrap();
    let row = c.query_one("SELECT email, gsm FROM master_contact", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "ayse@example.com");
    assert_eq!(row.get::<_, String>(1), "+905321234567");
    let queued = c
        .query("SELECT recipient, consent_type::text, status::text, source::text, brand_code, state, source_key FROM iys.outbox ORDER BY id", &[])
        .unwrap();
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0].get::<_, String>(0), "ayse@example.com");
    assert_eq!(queued[0].get::<_, String>(1), "EPOSTA");
    assert_eq!(queued[1].get::<_, String>(0), "+905321234567");
    assert_eq!(queued[1].get::<_, String>(1), "MESAJ");
    assert_eq!(queued[1].get::<_, String>(2), "ONAY");
    assert_eq!(queued[1].get::<_, String>(3), "HS_MOBIL");
    assert_eq!(queued[1].get::<_, String>(4), "600001");
    assert_eq!(queued[1].get::<_, String>(5), "pending");
    assert_eq!(queued[1].get::<_, String>(6), "1");
    // The outbox rows are the movements' history: nothing else is written per change.
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.consent_history WHERE origin = 'local' AND outbox_id IS NOT NULL"), 2);
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.consent_ledger"), 0);

    // Same address and permission with another date and source: those columns keep their old
    // values with a warning, other columns update, nothing is queued.
    let before: String = c.query_one("SELECT gsm_consent_date::text FROM master_contact", &[]).unwrap().get(0);
    let warned = notices(
        &cluster,
        "UPDATE master_contact SET name = 'Ayşe Y.', gsm = '+90 (532) 123-45-67', gsm_permission = 'ONAY',
                gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul', gsm_source = 'HS_WEB'",
    );
    assert!(warned.iter().any(|w| w.starts_with("WARNING") && w.contains("date and source are kept")), "{warned:?}");
    let row = c.query_one("SELECT name, gsm_consent_date::text, gsm_source, gsm FROM master_contact", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "Ayşe Y.");
    assert_eq!(row.get::<_, String>(1), before);
    assert_eq!(row.get::<_, String>(2), "HS_MOBIL");
    assert_eq!(row.get::<_, String>(3), "+905321234567");
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 2);

    // Permission change: an update, queued.
    c.batch_execute("UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' - interval '1 minute'").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE consent_type = 'MESAJ' AND status = 'RET'"), 1);

    // Changed address: a new consent for the new recipient.
    c.batch_execute("UPDATE master_contact SET email = 'ayse.yeni@example.com', email_consent_date = now() AT TIME ZONE 'Europe/Istanbul' - interval '1 minute'").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE recipient = 'ayse.yeni@example.com' AND status = 'ONAY'"), 1);

    // A new contact whose permission is RET is stored and sent: IYS may hold an ONAY pg_iys
    // never saw (an opt-out is never dropped); if not, IYS's H175 settles it as not_in_iys.
    c.batch_execute(
        "INSERT INTO master_contact (name, gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('Mehmet', '05559876543', 'RET', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB')",
    )
    .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM master_contact WHERE name = 'Mehmet'"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE recipient = '+905559876543' AND status = 'RET'"), 1);

    // TACIR: date and source may be missing on a first record.
    c.batch_execute("INSERT INTO master_contact (name, contact_type, gsm, gsm_permission) VALUES ('Firma', 'TACIR', '5551112233', 'ONAY')").unwrap();
    let tacir = c.query_one("SELECT recipient_type::text, source IS NULL, consent_date IS NULL FROM iys.outbox WHERE recipient = '+905551112233'", &[]).unwrap();
    assert_eq!(tacir.get::<_, String>(0), "TACIR");
    assert!(tacir.get::<_, bool>(1) && tacir.get::<_, bool>(2));
}

#[test]
fn reject_mode_raises_with_code_column_and_value_and_loses_nothing() {
    let cluster = Cluster::start("reject", &[]);
    let mut c = setup(&cluster, "reject");
    let cases = [
        // (values, expected code, expected column)
        ("'+9005321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB'", "H121", "gsm"),
        ("'05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' + interval '1 hour', 'HS_WEB'", "H162", "gsm_consent_date"),
        ("'05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '10 days', 'HS_WEB'", "H467", "gsm_consent_date"),
        ("'05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul', 'HS_2015'", "H155", "gsm_consent_date"),
        ("'05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul', 'WEB'", "H119", "gsm_source"),
        ("'05321234567', 'EVET', now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB'", "H115", "gsm_permission"),
        ("'05321234567', NULL, now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB'", "H110", "gsm_permission"),
        ("NULL, 'ONAY', now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB'", "H114", "gsm"),
    ];
    for (values, code, column) in cases {
        let sql = format!("INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source) VALUES ({values})");
        let err = c.batch_execute(&sql).expect_err(&sql);
        let db = err.as_db_error().unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(db.code().code(), "23514", "{sql}: {}", db.message());
        assert!(db.message().contains(code), "{sql}: {}", db.message());
        assert!(db.message().contains(&format!("\"{column}\"")), "{sql}: {}", db.message());
        assert!(db.hint().unwrap_or_default().contains("on_invalid"), "{sql}");
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM master_contact"), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 0);
}

#[test]
fn keep_mode_stores_the_row_without_the_bad_consent_and_warns() {
    let cluster = Cluster::start("keep", &[]);
    let mut c = setup(&cluster, "keep");
    let warned = notices(
        &cluster,
        "INSERT INTO master_contact (name, email, email_permission, email_consent_date, email_source,
                                     gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('Can', 'can@example.com', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' + interval '1 day', 'HS_WEB',
                 '05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB')",
    );
    assert!(warned.iter().any(|w| w.contains("H162") && w.contains("email_consent_date")), "{warned:?}");
    let row = c.query_one("SELECT email, email_permission IS NULL, gsm_permission FROM master_contact", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "can@example.com");
    assert!(row.get::<_, bool>(1), "the invalid consent is not stored");
    assert_eq!(row.get::<_, String>(2), "ONAY");
    // Only the valid channel is queued.
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE consent_type = 'MESAJ'"), 1);

    // An invalid UPDATE keeps the old consent values.
    c.batch_execute("UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' - interval '30 days'").unwrap();
    assert_eq!(c.query_one("SELECT gsm_permission FROM master_contact", &[]).unwrap().get::<_, String>(0), "ONAY");
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 1);

    // A contact type IYS would refuse: in keep mode the row is stored, its consents kept back
    // with a warning naming the contact-type column (it is an error only in reject mode).
    let warned = notices(
        &cluster,
        "INSERT INTO master_contact (name, contact_type, gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('Kurum', 'KURUMSAL', '05321230099', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB')",
    );
    assert!(warned.iter().any(|w| w.contains("H116") && w.contains("\"contact_type\"") && w.contains("KURUMSAL")), "{warned:?}");
    let kept = c.query_one("SELECT gsm, gsm_permission IS NULL FROM master_contact WHERE name = 'Kurum'", &[]).unwrap();
    assert_eq!((kept.get::<_, String>(0), kept.get::<_, bool>(1)), ("05321230099".to_owned(), true), "the address kept as typed");
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 1);

    // 2,000 rows kept in one statement: a few warnings in full, then one line, and the statement
    // succeeds (no error from the AFTER trigger).
    let warned = notices(
        &cluster,
        "INSERT INTO master_contact (name, email, email_permission, email_consent_date, email_source)
         SELECT 'bulk', 'bulk' || g || '@example.com', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' + interval '1 day', 'HS_WEB'
           FROM generate_series(1, 2000) g",
    );
    assert_eq!(warned.len(), 6, "{warned:?}");
    assert!(warned[5].contains("1995 more row warning(s) of this statement") && warned[5].contains("2000 in all"), "{warned:?}");
    assert_eq!(count(&mut c, "SELECT count(*) FROM master_contact WHERE name = 'bulk' AND email_permission IS NULL"), 2000);
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 1);
}

#[test]
fn rollback_leaves_no_outbox_row_and_bulk_loads_work() {
    let cluster = Cluster::start("bulk", &[]);
    let mut c = setup(&cluster, "reject");
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(
        "INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB')",
    )
    .unwrap();
    assert_eq!(tx.query_one("SELECT count(*) FROM iys.outbox", &[]).unwrap().get::<_, i64>(0), 1);
    tx.rollback().unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.consent_ledger"), 0);

    // INSERT ... SELECT of 50,000 contacts: one outbox row per channel.
    c.batch_execute(
        "INSERT INTO master_contact (email, email_permission, email_consent_date, email_source,
                                     gsm, gsm_permission, gsm_consent_date, gsm_source)
         SELECT 'user' || g || '@example.com', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '2 hours', 'HS_WEB',
                '0532' || lpad(g::text, 7, '0'), 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '2 hours', 'HS_MOBIL'
           FROM generate_series(1, 50000) g",
    )
    .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 100_000);
    assert_eq!(count(&mut c, "SELECT count(*) FROM master_contact WHERE gsm LIKE '+90532%'"), 50_000);

    // COPY goes through the same triggers.
    let mut writer = c.copy_in("COPY master_contact (email, email_permission, email_consent_date, email_source) FROM STDIN").unwrap();
    use std::io::Write;
    let now: String = cluster.connect().query_one("SELECT to_char(now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'YYYY-MM-DD HH24:MI:SS')", &[]).unwrap().get(0);
    for i in 0..100 {
        writeln!(writer, "COPY{i}@Example.com\tONAY\t{now}\tHS_WEB").unwrap();
    }
    writer.finish().unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE recipient LIKE 'copy%@example.com'"), 100);
}

#[test]
fn attach_refuses_twice_and_bad_identifiers_and_detach_removes_triggers() {
    let cluster = Cluster::start("attach", &[]);
    let mut c = setup(&cluster, "reject");
    let err = c.query("SELECT iys.attach('master_contact', brand_code => '600001')", &[]).unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42710");
    assert!(db.hint().unwrap_or_default().contains("iys.detach"), "{:?}", db.hint());
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'master_contact'::regclass AND tgname LIKE 'zz_iys%'"), 3);

    // A hostile column name in the mapping is just a column that does not exist.
    c.batch_execute("CREATE TABLE \"Odd Contacts\" (id int PRIMARY KEY, \"e-mail\" text, email_permission text, email_consent_date timestamp, email_source text)").unwrap();
    let err = c
        .query(
            "SELECT iys.attach('\"Odd Contacts\"', brand_code => '600001', mapping => '{\"email\": \"x\\\"; DROP TABLE master_contact; --\", \"gsm\": null, \"contact_type\": null}')",
            &[],
        )
        .unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "42703", "{err}");
    assert_eq!(count(&mut c, "SELECT count(*) FROM master_contact"), 0, "master_contact still exists");
    // Odd but real names work through quoting.
    c.query_one("SELECT iys.attach('\"Odd Contacts\"', brand_code => '600001', mapping => '{\"email\": \"e-mail\", \"gsm\": null, \"contact_type\": null}')", &[]).unwrap();
    c.batch_execute("INSERT INTO \"Odd Contacts\" VALUES (1, 'Odd@Example.com', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB')").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE recipient = 'odd@example.com'"), 1);
    // A brand code that is not numeric, a wrong on_invalid.
    for bad in ["SELECT iys.attach('master_contact', brand_code => '60; DROP')", "SELECT iys.attach('master_contact', brand_code => '1', on_invalid => 'ignore')"] {
        c.batch_execute("SELECT iys.detach('master_contact')").ok();
        let err = c.query(bad, &[]).unwrap_err();
        assert_eq!(err.as_db_error().unwrap().code().code(), "22023", "{bad}: {err}");
    }

    c.query_one("SELECT iys.detach('\"Odd Contacts\"')", &[]).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = '\"Odd Contacts\"'::regclass AND tgname LIKE 'zz_iys%'"), 0);
    c.batch_execute("INSERT INTO \"Odd Contacts\" VALUES (2, 'two@example.com', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB')").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE recipient = 'two@example.com'"), 0);
    let err = c.query("SELECT iys.detach('\"Odd Contacts\"')", &[]).unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "55000");
}

#[test]
fn concurrent_updates_keep_order_and_claims_coalesce() {
    let cluster = Cluster::start("order", &[]);
    let mut c = setup(&cluster, "reject");
    c.batch_execute(
        "INSERT INTO master_contact (contact_id, gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES (1, '05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '2 hours', 'HS_WEB')",
    )
    .unwrap();

    // Session A changes the consent and holds its transaction open; session B's change of the
    // same contact waits for A's row lock and is queued after it.
    let mut a = cluster.connect();
    let mut b = cluster.connect();
    let mut ta = a.transaction().unwrap();
    ta.batch_execute("UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour' WHERE contact_id = 1").unwrap();
    let conn = cluster.conn_string("postgres");
    let waiter = std::thread::spawn(move || {
        let mut b2 = pg_iys_e2e::postgres::Client::connect(&conn, pg_iys_e2e::postgres::NoTls).unwrap();
        b2.batch_execute("UPDATE master_contact SET gsm_permission = 'ONAY', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' - interval '30 minutes' WHERE contact_id = 1").unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!waiter.is_finished(), "B must wait for A's row lock");
    ta.commit().unwrap();
    waiter.join().unwrap();
    let statuses: Vec<String> = b
        .query("SELECT status::text FROM iys.outbox WHERE recipient = '+905321234567' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, ["ONAY", "RET", "ONAY"]);

    // A claim sends only the newest pending change of the key; the older ones are superseded.
    pg_iys_e2e::wait_worker_recovered(&cluster, &mut c);
    let claimed = c.query("SELECT status::text FROM iys_internal.claim_batch('600001', 1000)", &[]).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].get::<_, String>(0), "ONAY");
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE state = 'superseded'"), 2);
    // While that change is in flight, a newer change of the same key waits.
    c.batch_execute("UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' WHERE contact_id = 1").unwrap();
    assert_eq!(c.query("SELECT * FROM iys_internal.claim_batch('600001', 1000)", &[]).unwrap().len(), 0);
    c.batch_execute("UPDATE iys.outbox SET state = 'accepted' WHERE state = 'in_flight'").unwrap();
    let next = c.query("SELECT status::text FROM iys_internal.claim_batch('600001', 1000)", &[]).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].get::<_, String>(0), "RET");

    // A claim smaller than a key's changes (ONAY, RET, ONAY): a fresh ONAY is not in the key
    // index (since 0.13.0), so the claim sees the candidate and the opt-out, sends the opt-out and
    // supersedes the older ONAY; the newer ONAY waits until the opt-out is settled, then goes.
    c.batch_execute(
        "UPDATE iys.outbox SET state = 'accepted' WHERE state = 'in_flight';
         INSERT INTO master_contact (contact_id, gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES (2, '05321234568', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '3 hours', 'HS_WEB');
         UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' - interval '2 hours' WHERE contact_id = 2;
         UPDATE master_contact SET gsm_permission = 'ONAY', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour' WHERE contact_id = 2;",
    )
    .unwrap();
    let key_states = |c: &mut Client| -> Vec<(String, String)> {
        c.query("SELECT status::text, state FROM iys.outbox WHERE recipient = '+905321234568' ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    let one = c.query("SELECT status::text FROM iys_internal.claim_batch('600001', 1)", &[]).unwrap();
    assert_eq!(one.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(), ["RET"]);
    let expected = [("ONAY", "superseded"), ("RET", "in_flight"), ("ONAY", "pending")];
    assert_eq!(key_states(&mut c), expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    assert_eq!(c.query("SELECT * FROM iys_internal.claim_batch('600001', 1000)", &[]).unwrap().len(), 0, "the ONAY waits");
    c.batch_execute("UPDATE iys.outbox SET state = 'accepted' WHERE state = 'in_flight'").unwrap();
    let last = c.query("SELECT status::text FROM iys_internal.claim_batch('600001', 1000)", &[]).unwrap();
    assert_eq!(last.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(), ["ONAY"]);
}

#[test]
fn ledger_is_append_only_with_retention() {
    let cluster = Cluster::start("ledger", &[]);
    let mut c = setup(&cluster, "reject");
    c.batch_execute(
        "INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB')",
    )
    .unwrap();
    // A local movement's history is its outbox row: its movement never changes, the row is never
    // deleted; where it stands (state, IYS's answer) does change.
    for sql in ["UPDATE iys.outbox SET status = 'RET'", "UPDATE iys.outbox SET consent_date = now()", "DELETE FROM iys.outbox", "TRUNCATE iys.outbox"] {
        let err = c.batch_execute(sql).unwrap_err();
        assert_eq!(err.as_db_error().unwrap().code().code(), "42501", "{sql}");
    }
    c.batch_execute("UPDATE iys.outbox SET attempts = 0").unwrap();
    // IYS's movements are ledger rows, append-only.
    c.batch_execute(
        r#"SELECT iys_internal.record_iys_changes('600001', 'IYS', '[{"recipient": "+905329999999", "type": "MESAJ", "status": "RET",
             "source": "IYS_WEB", "consentDate": "2026-11-30 10:00:00", "transactionId": "tx-citizen"}]')"#,
    )
    .unwrap();
    for sql in ["UPDATE iys.consent_ledger SET status = 'ONAY'", "DELETE FROM iys.consent_ledger", "UPDATE iys.consent_ledger SET transaction_id = 'tx-1'"] {
        let err = c.batch_execute(sql).unwrap_err();
        assert_eq!(err.as_db_error().unwrap().code().code(), "42501", "{sql}");
    }
    // The ledger is legal proof: less than three years of it is kept unless forced.
    for younger in ["interval '0'", "interval '2 years 11 months'", "NULL"] {
        let err = c.batch_execute(&format!("SELECT iys.prune_ledger({younger})")).unwrap_err();
        assert_eq!(err.as_db_error().unwrap().code().code(), "22023", "{younger}");
    }
    assert_eq!(c.query_one("SELECT iys.prune_ledger(interval '3 years')", &[]).unwrap().get::<_, i64>(0), 0);
    // Unsettled changes survive retention; settled old movements go (IYS's from the ledger, ours
    // from the outbox).
    assert_eq!(c.query_one("SELECT iys.prune_ledger(interval '0', force => true)", &[]).unwrap().get::<_, i64>(0), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 1);
    c.batch_execute("UPDATE iys.outbox SET state = 'accepted'").unwrap();
    assert_eq!(c.query_one("SELECT iys.prune_ledger(interval '0', force => true)", &[]).unwrap().get::<_, i64>(0), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.consent_history"), 0);
}

#[test]
fn a_ret_is_still_sent_after_the_ledger_was_pruned() {
    let cluster = Cluster::start("pruned", &[]);
    let mut c = setup(&cluster, "reject");
    c.batch_execute(
        "INSERT INTO master_contact (contact_id, gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES (1, '05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '2 hours', 'HS_WEB')",
    )
    .unwrap();
    // IYS accepted it (as the worker records it), then retention removed the history.
    c.batch_execute(
        "UPDATE iys.outbox SET state = 'accepted', transaction_id = 'tx-1';
         SELECT iys_internal.confirm_local(array(SELECT id FROM iys.outbox));
         SELECT iys.prune_ledger(interval '0', force => true);",
    )
    .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.consent_ledger"), 0);
    c.batch_execute("UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' WHERE contact_id = 1").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE status = 'RET'"), 1);
}

#[test]
fn altering_a_mapped_column_in_a_live_session_is_safe() {
    let cluster = Cluster::start("alter", &[]);
    let mut c = setup(&cluster, "reject");
    let insert = |c: &mut Client, n: u32| {
        c.batch_execute(&format!(
            "INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
             VALUES ('053200000{n:02}', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB')"
        ))
    };
    insert(&mut c, 1).unwrap();
    // Same session: the triggers' cached layout and plan were built for text; the column is now
    // the enum. This used to crash the backend (and so the whole cluster).
    c.batch_execute("ALTER TABLE master_contact ALTER COLUMN gsm_permission TYPE iys.consent_status USING gsm_permission::iys.consent_status").unwrap();
    insert(&mut c, 2).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE status = 'ONAY'"), 2);
    // A mapped column dropped, renamed or retyped into something the mapping cannot use: refused
    // at DDL time with a clear message, never at the application's next write.
    for ddl in [
        "ALTER TABLE master_contact DROP COLUMN gsm_source",
        "ALTER TABLE master_contact RENAME COLUMN gsm_consent_date TO gsm_tarih",
        "ALTER TABLE master_contact ALTER COLUMN gsm_consent_date TYPE text",
    ] {
        let err = c.batch_execute(ddl).unwrap_err();
        let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(message.contains("breaks pg_iys's attachment of public.master_contact"), "{ddl}: {message}");
    }
    // An unmapped column comes and goes freely.
    c.batch_execute("ALTER TABLE master_contact ADD COLUMN note text; ALTER TABLE master_contact RENAME COLUMN note TO remark; ALTER TABLE master_contact DROP COLUMN remark").unwrap();
    insert(&mut c, 3).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox"), 3);
}

#[test]
fn a_per_row_brand_must_be_present_and_numeric() {
    let cluster = Cluster::start("brandcol", &[]);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    c.batch_execute(&TABLE.replace("name                text,", "name text, brand text,")).unwrap();
    c.query_one("SELECT iys.attach('master_contact', mapping => '{\"brand_column\": \"brand\"}')", &[]).unwrap();
    let row = |brand: &str| {
        format!(
            "INSERT INTO master_contact (brand, gsm, gsm_permission, gsm_consent_date, gsm_source)
             VALUES ({brand}, '05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB')"
        )
    };
    for bad in ["NULL", "''", "'ACME'"] {
        let err = c.batch_execute(&row(bad)).unwrap_err();
        let db = err.as_db_error().unwrap_or_else(|| panic!("{err}"));
        assert_eq!(db.code().code(), "23514", "{bad}: {}", db.message());
        assert!(db.message().contains("\"brand\""), "{}", db.message());
    }
    c.batch_execute(&row("'600002'")).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM iys.outbox WHERE brand_code = '600002'"), 1);
}

/// Backends keep the business-day calendar across statements; a change to iys.holiday reaches
/// every session from its commit (and the changing transaction at once).
#[test]
fn a_holiday_added_in_another_session_counts_from_its_commit() {
    let cluster = Cluster::start("holiday_cache", &[]);
    let mut a = cluster.connect();
    a.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_iys").unwrap();
    let mut b = cluster.connect();
    let business = |c: &mut Client| c.query_one("SELECT iys.is_business_day('2027-10-13')", &[]).unwrap().get::<_, bool>(0);
    assert!(business(&mut a), "a Wednesday");
    assert!(business(&mut a), "kept across statements");
    b.batch_execute("BEGIN; INSERT INTO iys.holiday (day, name) VALUES ('2027-10-13', 'company day off')").unwrap();
    assert!(!business(&mut b), "the changing transaction sees its own change");
    assert!(business(&mut a), "not committed yet");
    b.batch_execute("COMMIT").unwrap();
    assert!(!business(&mut a), "committed: every session reads it again");
    b.batch_execute("DELETE FROM iys.holiday WHERE day = '2027-10-13'").unwrap();
    assert!(business(&mut a));
}
