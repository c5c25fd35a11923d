//! Citizens' changes reach the tables whole (issue #15): a source IYS adds later, an item this
//! version cannot read, an operator's line closure, several movements under one transactionId,
//! a cursor IYS refuses, a TACIR change without a date; and every applied change is announced
//! with NOTIFY.

use pg_iys_e2e::{contact_table_sql, insert_contacts, log_tail, one, setup_sync, wait_settled, Cluster, Sim};
use serde_json::json;
use postgres::fallible_iterator::FallibleIterator;
use std::time::Duration;

const CONF: &[&str] = &["iys.flush_interval = 100", "iys.http_timeout = 2000", "iys.pull_interval = 200"];
const PHONE: &str = "+905320000001";

/// Turkey time on the simulator's clock, `back` seconds ago (past its one-hour hold-back when
/// `back` is over 3600).
fn sim_time(sim: &Sim, back: i64) -> String {
    let now = iys_sim::clock::parse_local(&sim.now_turkey()).expect("the simulator's clock");
    iys_sim::clock::format_local(now - back)
}

/// A consent date `back` seconds before now (wall clock, Turkey time): later than the local
/// consents of the tests (an hour back).
fn recent(back: i64) -> String {
    iys_sim::clock::format_turkey_ms(iys_sim::clock::wall_ms() - back * 1000)
}

/// A change the citizen made in IYS two simulated hours ago (so the pull sees it now).
fn citizen(sim: &Sim, fields: serde_json::Value) -> serde_json::Value {
    let mut body = json!({"iysCode": 700001, "brandCode": 600001, "recipient": PHONE, "type": "MESAJ", "recipientType": "BIREYSEL",
                          "creationDate": sim_time(sim, 2 * 3600)});
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    sim.admin_post("/admin/citizen-change", body)
}

fn wait_gsm(cluster: &Cluster, c: &mut postgres::Client, table: &str, status: &str) -> bool {
    let sql = format!("SELECT gsm_permission FROM {table} WHERE gsm = '{PHONE}'");
    cluster
        .wait_for(Duration::from_secs(30), || (c.query_one(&sql, &[]).ok()?.get::<_, Option<String>>(0).as_deref() == Some(status)).then_some(()))
        .is_some()
}

#[test]
fn an_unknown_iys_source_and_an_unreadable_item_never_stall_the_pull() {
    let sim = Sim::start();
    let cluster = Cluster::start("citizen_unknown", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // A second table whose source column is pg_iys's enum: a source newer than the enum cannot
    // be stored there, the status and date still change.
    c.batch_execute(&format!(
        "{};
         ALTER TABLE typed_contact ALTER COLUMN gsm_source TYPE iys.consent_source USING gsm_source::iys.consent_source;
         SELECT iys.attach('typed_contact', brand_code => '600001');",
        contact_table_sql("typed_contact", "")
    ))
    .unwrap();
    insert_contacts(&mut c, 1, 1);
    c.batch_execute(&format!(
        "INSERT INTO typed_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('{PHONE}', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_MOBIL')"
    ))
    .unwrap();
    let states = wait_settled(&cluster, Duration::from_secs(40));
    assert!(!states.contains_key("rejected"), "{states:?}");

    // The next page also carries an item no version could read (null recipient, numeric status).
    sim.admin_post("/admin/faults", json!({"unreadable_changes": [{"recipient": null, "type": "MESAJ", "status": 7, "transactionId": "broken-1", "citizenName": "x"}]}));
    citizen(&sim, json!({"status": "RET", "source": "IYS_3338", "consentDate": recent(60)}));

    assert!(wait_gsm(&cluster, &mut c, "master_contact", "RET"), "log:\n{}", log_tail(&cluster));
    assert!(wait_gsm(&cluster, &mut c, "typed_contact", "RET"), "{:?}; log:\n{}", pg_iys_e2e::texts(&mut c, "SELECT error FROM iys.pull_quarantine"), log_tail(&cluster));
    assert_eq!(one::<String>(&mut c, &format!("SELECT gsm_source FROM master_contact WHERE gsm = '{PHONE}'")), "IYS_3338");
    assert_eq!(one::<Option<String>>(&mut c, &format!("SELECT gsm_source::text FROM typed_contact WHERE gsm = '{PHONE}'")), None);
    // Stored as IYS spelled it; nothing quarantined but the unreadable item, with its payload.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE origin = 'iys' AND iys_source = 'IYS_3338' AND source IS NULL"), 1);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_history WHERE iys_source = 'IYS_3338'"), 1);
    let quarantined = pg_iys_e2e::texts(&mut c, "SELECT transaction_id, payload->>'citizenName', error FROM iys.pull_quarantine");
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0][0].as_deref(), Some("broken-1"));
    assert_eq!(quarantined[0][1].as_deref(), Some("x"), "the item is kept as IYS sent it");
    assert!(quarantined[0][2].as_deref().unwrap_or_default().starts_with("unreadable change"), "{quarantined:?}");
    assert_eq!(one::<Option<String>>(&mut c, "SELECT last_error FROM iys.pull_cursor WHERE source = 'IYS'"), None);
    assert!(!one::<bool>(&mut c, &format!("SELECT iys.can_send('{PHONE}', 'MESAJ')")));

    // The pull goes on: a later change arrives too.
    citizen(&sim, json!({"status": "ONAY", "source": "IYS_KISA_LINK", "consentDate": recent(30)}));
    assert!(wait_gsm(&cluster, &mut c, "master_contact", "ONAY"), "log:\n{}", log_tail(&cluster));
}

#[test]
fn a_line_closure_wins_over_a_later_local_date_under_every_tie_policy() {
    let sim = Sim::start();
    let cluster = Cluster::start("citizen_closure", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 2);
    wait_settled(&cluster, Duration::from_secs(40));
    assert!(one::<bool>(&mut c, &format!("SELECT iys.can_send('{PHONE}', 'MESAJ')")));
    // The row's date moved on since (a local edit that sent nothing), and ties are conflicts.
    c.batch_execute(
        "SET session_replication_role = replica;
         UPDATE master_contact SET gsm_consent_date = gsm_consent_date + interval '1 minute';
         SET session_replication_role = origin;",
    )
    .unwrap();
    assert_eq!(one::<String>(&mut c, "SELECT tie_policy FROM iys.brand"), "conflict");

    // The operator closed the line: IYS's RET carries the stored consent's own date.
    citizen(&sim, json!({"source": "IYS_AHS_HAT_KAPATMA"}));
    assert!(wait_gsm(&cluster, &mut c, "master_contact", "RET"), "log:\n{}", log_tail(&cluster));
    assert_eq!(one::<String>(&mut c, &format!("SELECT status::text FROM iys.current_consent WHERE recipient = '{PHONE}'")), "RET");
    assert!(!one::<bool>(&mut c, &format!("SELECT iys.can_send('{PHONE}', 'MESAJ')")));
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.conflicts"), 0);

    // The same under ret_wins, for the second contact.
    c.batch_execute("UPDATE iys.brand SET tie_policy = 'ret_wins'").unwrap();
    let second = "+905320000002";
    sim.admin_post(
        "/admin/citizen-change",
        json!({"iysCode": 700001, "brandCode": 600001, "recipient": second, "type": "MESAJ", "source": "IYS_AHS_HAT_KAPATMA",
               "creationDate": sim_time(&sim, 2 * 3600)}),
    );
    let sql = format!("SELECT gsm_permission FROM master_contact WHERE gsm = '{second}'");
    let closed = cluster.wait_for(Duration::from_secs(30), || (c.query_one(&sql, &[]).ok()?.get::<_, String>(0) == "RET").then_some(()));
    assert!(closed.is_some(), "log:\n{}", log_tail(&cluster));
    assert!(!one::<bool>(&mut c, &format!("SELECT iys.can_send('{second}', 'MESAJ')")));
}

#[test]
fn movements_sharing_one_transaction_id_are_each_applied_once() {
    let sim = Sim::start();
    let cluster = Cluster::start("citizen_same_second", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 1);
    wait_settled(&cluster, Duration::from_secs(40));

    // Within one second the citizen says ONAY then RET: IYS gives both one transactionId.
    let second = sim_time(&sim, 2 * 3600);
    let first = citizen(&sim, json!({"status": "ONAY", "source": "IYS_WEB", "consentDate": recent(120), "creationDate": second}));
    let then = citizen(&sim, json!({"status": "RET", "source": "IYS_WEB", "consentDate": recent(60), "creationDate": second}));
    assert_eq!(first["transactionId"], then["transactionId"], "the simulator groups them as IYS does");
    let txid = first["transactionId"].as_str().unwrap().to_owned();

    assert!(wait_gsm(&cluster, &mut c, "master_contact", "RET"), "log:\n{}", log_tail(&cluster));
    let recorded = pg_iys_e2e::texts(
        &mut c,
        &format!("SELECT status::text FROM iys.consent_ledger WHERE transaction_id = '{txid}' ORDER BY id"),
    );
    assert_eq!(recorded, vec![vec![Some("ONAY".to_owned())], vec![Some("RET".to_owned())]]);
    assert_eq!(one::<String>(&mut c, &format!("SELECT status::text FROM iys.current_consent WHERE recipient = '{PHONE}'")), "RET");
    // More pull rounds (and the HS pull) record nothing twice.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(one::<i64>(&mut c, &format!("SELECT count(*) FROM iys.consent_ledger WHERE transaction_id = '{txid}'")), 2);
}

#[test]
fn a_cursor_iys_refuses_is_restarted() {
    let sim = Sim::start();
    let cluster = Cluster::start("citizen_cursor", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 1);
    wait_settled(&cluster, Duration::from_secs(40));
    citizen(&sim, json!({"status": "RET", "source": "IYS_WEB", "consentDate": recent(60)}));
    assert!(wait_gsm(&cluster, &mut c, "master_contact", "RET"), "log:\n{}", log_tail(&cluster));

    // A cursor IYS no longer serves (here one it cannot read: 422 H098).
    c.batch_execute("ALTER SYSTEM SET iys.enabled = off").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    c.batch_execute("UPDATE iys.pull_cursor SET after = 'gone-long-ago' WHERE source = 'IYS'").unwrap();
    citizen(&sim, json!({"status": "ONAY", "source": "IYS_WEB", "consentDate": recent(30)}));
    c.batch_execute("ALTER SYSTEM SET iys.enabled = on").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();

    assert!(wait_gsm(&cluster, &mut c, "master_contact", "ONAY"), "log:\n{}", log_tail(&cluster));
    assert!(cluster.server_log().contains("IYS refused the cursor"), "{}", log_tail(&cluster));
    let cursor = pg_iys_e2e::texts(&mut c, "SELECT after, last_error FROM iys.pull_cursor WHERE source = 'IYS'");
    assert_ne!(cursor[0][0].as_deref(), Some("gone-long-ago"));
    assert_eq!(cursor[0][1], None, "the pull succeeded since");
    // The changes seen again from the start are not recorded twice.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE origin = 'iys'"), 2);
}

#[test]
fn a_tacir_change_without_a_date_reaches_the_table_and_the_known_state() {
    let sim = Sim::start();
    let cluster = Cluster::start("citizen_tacir", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    c.batch_execute(&format!(
        "INSERT INTO master_contact (contact_type, gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('TACIR', '{PHONE}', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB')"
    ))
    .unwrap();
    wait_settled(&cluster, Duration::from_secs(40));
    assert_eq!(one::<String>(&mut c, &format!("SELECT status::text FROM iys.current_consent WHERE recipient = '{PHONE}' AND recipient_type = 'TACIR'")), "ONAY");

    // IYS keeps a TACIR consent without a date: the RET comes without one.
    sim.admin_post(
        "/admin/seed",
        json!([{"iysCode": 700001, "brandCode": 600001, "recipient": PHONE, "type": "MESAJ", "recipientType": "TACIR",
                "status": "RET", "source": "IYS_WEB", "creationDate": sim_time(&sim, 2 * 3600)}]),
    );
    assert!(wait_gsm(&cluster, &mut c, "master_contact", "RET"), "log:\n{}", log_tail(&cluster));
    assert_eq!(one::<Option<String>>(&mut c, &format!("SELECT gsm_consent_date::text FROM master_contact WHERE gsm = '{PHONE}'")), None);
    assert_eq!(one::<String>(&mut c, &format!("SELECT status::text FROM iys.current_consent WHERE recipient = '{PHONE}' AND recipient_type = 'TACIR'")), "RET");
    assert!(!one::<bool>(&mut c, &format!("SELECT iys.can_send('{PHONE}', 'MESAJ')")));
}

#[test]
fn applications_hear_each_applied_change_through_notify() {
    let sim = Sim::start();
    let cluster = Cluster::start("citizen_notify", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 1);
    wait_settled(&cluster, Duration::from_secs(40));

    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN iys_consent_changes").unwrap();
    citizen(&sim, json!({"status": "RET", "source": "IYS_KISAMESAJ", "consentDate": recent(60)}));

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut heard = Vec::new();
    while heard.is_empty() && std::time::Instant::now() < deadline {
        let mut notifications = listener.notifications();
        let mut waiting = notifications.timeout_iter(Duration::from_millis(500));
        while let Ok(Some(n)) = waiting.next() {
            heard.push((n.channel().to_owned(), n.payload().to_owned()));
        }
    }
    assert_eq!(heard.len(), 1, "{heard:?}; log:\n{}", log_tail(&cluster));
    assert_eq!(heard[0].0, "iys_consent_changes");
    let payload: serde_json::Value = serde_json::from_str(&heard[0].1).unwrap();
    assert_eq!(payload["brand"], "600001");
    assert_eq!(payload["recipient"], PHONE);
    assert_eq!(payload["type"], "MESAJ");
    assert_eq!(payload["status"], "RET");
    assert_eq!(payload["source"], "IYS_KISAMESAJ");
    // By the time it is heard, the table and can_send agree.
    assert_eq!(one::<String>(&mut c, &format!("SELECT gsm_permission FROM master_contact WHERE gsm = '{PHONE}'")), "RET");
    assert!(!one::<bool>(&mut c, &format!("SELECT iys.can_send('{PHONE}', 'MESAJ')")));

    // Off: nothing is announced.
    c.batch_execute("ALTER SYSTEM SET iys.notify = off").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    citizen(&sim, json!({"status": "ONAY", "source": "IYS_WEB", "consentDate": recent(30)}));
    assert!(wait_gsm(&cluster, &mut c, "master_contact", "ONAY"), "log:\n{}", log_tail(&cluster));
    let mut notifications = listener.notifications();
    let mut waiting = notifications.timeout_iter(Duration::from_millis(1000));
    assert!(matches!(waiting.next(), Ok(None)), "announced while iys.notify is off");
}
