//! Real schemas (issue 13): a CRM table as companies have it — Turkish column names, an E/H
//! char(1) permission, a boolean one, timestamptz and date columns, one free-text source column
//! for both channels, a uuid key — attached with a mapping, written by an application role with
//! no grant on pg_iys, synced to IYS and back, against real clusters and the IYS simulator.

use pg_iys_e2e::postgres::{Client, NoTls};
use pg_iys_e2e::{expect_error, log_tail, one, s, texts, wait_settled, Cluster, Sim};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// As the other worker tests (see day_one.rs): the daily movement files stay off.
const CONF: &[&str] = &[
    "iys.flush_interval = 100",
    "iys.pull_interval = 200",
    "iys.http_timeout = 2000",
    "iys.backoff_cap = 500",
    "iys.reconcile_hour = -1",
];

/// The table of the issue. `sms_date_type` is the type of sms_izin_tarihi (date or timestamptz).
fn customers_sql(sms_date_type: &str) -> String {
    format!(
        "CREATE SCHEMA crm;
         CREATE TABLE crm.customers (
             id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
             full_name          text,
             e_posta            varchar(320),
             eposta_izin        boolean,
             eposta_izin_tarihi timestamptz,
             cep_tel            varchar(20),
             sms_izin           char(1),          -- 'E' (evet) / 'H' (hayır)
             sms_izin_tarihi    {sms_date_type},
             kaynak             text);            -- free text, shared by both channels
         CREATE INDEX ON crm.customers (cep_tel);
         CREATE INDEX ON crm.customers (e_posta);"
    )
}

/// The shop's source vocabulary, as both channels read the one kaynak column.
const SOURCES: &str = r#"{"web sitesi": "HS_WEB", "mağaza": "HS_FIZIKSEL_ORTAM", "*": "HS_ETKINLIK"}"#;

/// The mapping of crm.customers: no contact_type column, kaynak for both channels.
fn mapping() -> String {
    format!(
        r#"{{"contact_type": null,
            "email": "e_posta", "email_permission": "eposta_izin", "email_consent_date": "eposta_izin_tarihi", "email_source": "kaynak",
            "gsm": "cep_tel", "gsm_permission": "sms_izin", "gsm_consent_date": "sms_izin_tarihi", "gsm_source": "kaynak",
            "gsm_permission_values": {{"ONAY": ["E"], "RET": "H"}},
            "email_source_values": {SOURCES}, "gsm_source_values": {SOURCES}}}"#
    )
}

/// A session whose NOTICEs and WARNINGs are collected as "SEVERITY: message".
fn connect_noting(cluster: &Cluster, user: &str) -> (Client, Arc<Mutex<Vec<String>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    let mut config: pg_iys_e2e::postgres::Config = cluster.conn_string("postgres").replace("user=postgres", &format!("user={user}")).parse().unwrap();
    config.notice_callback(move |n| sink.lock().unwrap().push(format!("{}: {}", n.severity(), n.message())));
    (config.connect(NoTls).unwrap_or_else(|e| panic!("connect as {user}: {e}")), notices)
}


fn row(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| if *v == "NULL" { None } else { s(v) }).collect()
}

/// The attachment as iys.attach returns it: table, channels, on_invalid.
fn attach(c: &mut Client, mapping: &str, on_invalid: &str) -> Result<String, pg_iys_e2e::postgres::Error> {
    c.query_one(
        "SELECT format('%s %s %s', attached, channels, on_invalid)
           FROM iys.attach('crm.customers', brand_code => '600001', mapping => $1::text::jsonb, on_invalid => $2)",
        &[&mapping, &on_invalid],
    )
    .map(|r| r.get(0))
}

/// A cluster with pg_iys and crm.customers attached with the issue's mapping; no IYS account, so
/// the worker sends nothing (trigger-level tests).
fn attached_cluster(name: &str, sms_date_type: &str, on_invalid: &str) -> (Cluster, Client) {
    let cluster = Cluster::start(name, CONF);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    c.batch_execute(&customers_sql(sms_date_type)).unwrap();
    attach(&mut c, &mapping(), on_invalid).unwrap();
    (cluster, c)
}

/// The status, source and consent date IYS holds for a recipient's consent (brand 600001).
fn iys_holds(sim: &Sim, recipient: &str, consent_type: &str) -> Option<(String, String, String)> {
    let consents = sim.admin_get(&format!("/admin/consents?brandCode=600001&recipient={}", recipient.replace('+', "%2B")));
    let c = consents.as_array()?.iter().find(|c| c["type"] == consent_type)?.clone();
    let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    Some((text("status"), text("source"), text("consentDate")))
}

/// A citizen's change in IYS itself (any channel), recorded two simulated hours ago so that the
/// pull sees it past IYS's one-hour hold-back (as pg_iys_e2e::citizen_change, which is MESAJ only).
fn citizen_change(sim: &Sim, recipient: &str, consent_type: &str, status: &str, source: &str, consent_date: &str) {
    let sim_now = iys_sim::clock::parse_local(&sim.now_turkey()).expect("the simulator's clock");
    let recorded = iys_sim::clock::format_local(sim_now - 2 * 3600);
    let body = json!({"iysCode": 700001, "brandCode": 600001, "recipient": recipient, "type": consent_type,
                      "recipientType": "BIREYSEL", "status": status, "source": source,
                      "consentDate": consent_date, "creationDate": recorded});
    let answer: Value = sim.admin_post("/admin/citizen-change", body);
    assert!(answer["transactionId"].is_string(), "the simulator refused the citizen change: {answer}");
}

/// The issue's case end to end. crm.customers is attached with its own vocabulary; an
/// application role with only INSERT/UPDATE/SELECT on it (no grant on iys) writes an 'E' SMS
/// consent with a free-text source, boolean e-mail consents, a row with only a landline and no
/// consent, e-mail-only rows sharing kaynak: the outbox holds exactly the five consents with
/// IYS's statuses, HS_* sources (mapped, `*`, and one already spelled HS_*) and Turkey-time dates
/// (the date column as midnight); the landline is kept as typed. The worker sends them and IYS
/// holds them. Then the citizen withdraws the SMS consent and the e-mail consent in IYS: the
/// pull writes them into the row in the table's vocabulary (sms_izin = 'H', its date column
/// holding IYS's day; eposta_izin = false with IYS's time), with IYS's source; can_send follows;
/// nothing is echoed back to IYS, and the application's next UPDATE reads those values back as
/// the same consents (nothing queued, no warning).
#[test]
fn crm_customers_end_to_end() {
    let sim = Sim::start();
    let cluster = Cluster::start("realcrm", CONF);
    let (mut c, notices) = connect_noting(&cluster, "postgres");
    c.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    c.execute(
        "INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700001', $1, 'iys-demo', 'demo-password')",
        &[&sim.url()],
    )
    .unwrap();
    // One transaction: the worker sees the brand and the attached table together.
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600001', '700001')").unwrap();
    tx.batch_execute(&customers_sql("date")).unwrap();
    let attached: String = tx
        .query_one(
            "SELECT format('%s %s %s %s', attached, brand_code, channels, on_invalid)
               FROM iys.attach('crm.customers', brand_code => '600001', mapping => $1::text::jsonb)",
            &[&mapping()],
        )
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    assert_eq!(attached, "crm.customers 600001 {EPOSTA,MESAJ} reject");
    assert!(!notices.lock().unwrap().iter().any(|n| n.contains("has no index")), "both addresses are indexed: {:?}", notices.lock().unwrap());
    assert_eq!(
        texts(&mut c, "SELECT ch->>'type', ch->>'permission', ch->>'date_type', ch->>'source' FROM iys.attached_table, jsonb_array_elements(channels) ch ORDER BY 1"),
        [row(&["EPOSTA", "eposta_izin", "timestamp with time zone", "kaynak"]), row(&["MESAJ", "sms_izin", "date", "kaynak"])]
    );

    c.batch_execute(
        "CREATE ROLE crm_app LOGIN;
         GRANT USAGE ON SCHEMA crm TO crm_app;
         GRANT SELECT, INSERT, UPDATE ON crm.customers TO crm_app;",
    )
    .unwrap();
    let (mut app, app_notices) = connect_noting(&cluster, "crm_app");
    app.batch_execute(
        "INSERT INTO crm.customers (full_name, e_posta, eposta_izin, eposta_izin_tarihi, cep_tel, sms_izin, sms_izin_tarihi, kaynak) VALUES
           ('Ayşe Yılmaz', 'Ayse.Yilmaz@Example.COM', true, date_trunc('second', now() - interval '1 hour'),
            '0532 111 22 33', 'E', (now() AT TIME ZONE 'Europe/Istanbul')::date, 'Web Sitesi'),
           ('Mehmet Kaya', NULL, NULL, NULL, '0212 555 44 33', NULL, NULL, 'mağaza'),
           ('Can Demir', 'can.demir@example.com', true, date_trunc('second', now() - interval '2 hours'), NULL, NULL, NULL, ' Mağaza '),
           ('Elif Şahin', NULL, NULL, NULL, '+90 533 444 55 66', 'e', (now() AT TIME ZONE 'Europe/Istanbul')::date, 'fuar standı'),
           ('Zeynep Ak', 'zeynep@example.com', true, date_trunc('second', now() - interval '30 minutes'), NULL, NULL, NULL, 'HS_CAGRI_MERKEZI')",
    )
    .unwrap_or_else(|e| panic!("the application's INSERT failed: {e:?}"));
    assert!(app_notices.lock().unwrap().is_empty(), "a clean insert raises nothing: {:?}", app_notices.lock().unwrap());
    // The application has no way into pg_iys's tables.
    let err = app.query("SELECT * FROM iys.outbox", &[]).unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42501"), "{err}");

    // Addresses in IYS's form where they carry a consent; the landline without consent is kept
    // as typed; permissions and sources stay in the table's own words.
    assert_eq!(
        texts(&mut c, "SELECT full_name, e_posta, eposta_izin::text, cep_tel, sms_izin, kaynak FROM crm.customers ORDER BY full_name"),
        [
            row(&["Ayşe Yılmaz", "ayse.yilmaz@example.com", "true", "+905321112233", "E", "Web Sitesi"]),
            row(&["Can Demir", "can.demir@example.com", "true", "NULL", "NULL", " Mağaza "]),
            row(&["Elif Şahin", "NULL", "NULL", "+905334445566", "e", "fuar standı"]),
            row(&["Mehmet Kaya", "NULL", "NULL", "0212 555 44 33", "NULL", "mağaza"]),
            row(&["Zeynep Ak", "zeynep@example.com", "true", "NULL", "NULL", "HS_CAGRI_MERKEZI"]),
        ]
    );
    // Exactly five consents; each dated as the row says in Turkey time (the date column:
    // midnight of that day), keyed by the row's uuid. Nothing for Mehmet's landline, nothing
    // for a channel that only shares a source.
    let outbox = "SELECT o.consent_type::text, o.recipient, o.recipient_type::text, o.status::text, o.source::text,
                         to_char(o.consent_date, 'YYYY-MM-DD HH24:MI:SS'), k.full_name,
                         (o.consent_date = CASE o.consent_type WHEN 'EPOSTA' THEN k.eposta_izin_tarihi AT TIME ZONE 'Europe/Istanbul'
                                                               ELSE k.sms_izin_tarihi::timestamp END)::text
                    FROM iys.outbox o JOIN crm.customers k ON k.id::text = o.source_key
                   ORDER BY o.consent_type::text, o.recipient";
    let midnight: String = one(&mut c, "SELECT sms_izin_tarihi::text || ' 00:00:00' FROM crm.customers WHERE full_name = 'Ayşe Yılmaz'");
    let queued = texts(&mut c, outbox);
    let without_email_dates: Vec<Vec<Option<String>>> =
        queued.iter().map(|r| r.iter().enumerate().map(|(i, v)| if i == 5 && r[0].as_deref() == Some("EPOSTA") { None } else { v.clone() }).collect()).collect();
    assert_eq!(
        without_email_dates,
        [
            row(&["EPOSTA", "ayse.yilmaz@example.com", "BIREYSEL", "ONAY", "HS_WEB", "NULL", "Ayşe Yılmaz", "true"]),
            row(&["EPOSTA", "can.demir@example.com", "BIREYSEL", "ONAY", "HS_FIZIKSEL_ORTAM", "NULL", "Can Demir", "true"]),
            row(&["EPOSTA", "zeynep@example.com", "BIREYSEL", "ONAY", "HS_CAGRI_MERKEZI", "NULL", "Zeynep Ak", "true"]),
            row(&["MESAJ", "+905321112233", "BIREYSEL", "ONAY", "HS_WEB", &midnight, "Ayşe Yılmaz", "true"]),
            row(&["MESAJ", "+905334445566", "BIREYSEL", "ONAY", "HS_ETKINLIK", &midnight, "Elif Şahin", "true"]),
        ],
        "outbox: {queued:?}"
    );
    let email_dates: Vec<String> = queued.iter().filter(|r| r[0].as_deref() == Some("EPOSTA")).map(|r| r[5].clone().unwrap()).collect();

    // The worker sends them; IYS holds each as queued.
    let settled = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(settled.get("accepted"), Some(&5), "{settled:?}");
    let holds = |r: &str, t: &str| iys_holds(&sim, r, t);
    assert_eq!(holds("+905321112233", "MESAJ"), Some(("ONAY".into(), "HS_WEB".into(), midnight.clone())));
    assert_eq!(holds("+905334445566", "MESAJ"), Some(("ONAY".into(), "HS_ETKINLIK".into(), midnight.clone())));
    assert_eq!(holds("ayse.yilmaz@example.com", "EPOSTA"), Some(("ONAY".into(), "HS_WEB".into(), email_dates[0].clone())));
    assert_eq!(holds("can.demir@example.com", "EPOSTA"), Some(("ONAY".into(), "HS_FIZIKSEL_ORTAM".into(), email_dates[1].clone())));
    assert_eq!(holds("zeynep@example.com", "EPOSTA"), Some(("ONAY".into(), "HS_CAGRI_MERKEZI".into(), email_dates[2].clone())));
    assert_eq!(sim.history().len(), 5, "IYS got nothing else (no landline, no source-only channel)");
    let can_send = |app: &mut Client, recipient: &str, consent_type: &str| -> bool {
        app.query_one("SELECT iys.can_send($1, $2::text::iys.consent_type)", &[&recipient, &consent_type])
            .unwrap_or_else(|e| panic!("can_send({recipient}) as crm_app: {e}"))
            .get(0)
    };
    assert!(can_send(&mut app, "0532 111 22 33", "MESAJ"));
    assert!(can_send(&mut app, "Ayse.Yilmaz@example.com", "EPOSTA"));

    // The citizen withdraws the SMS consent in IYS (SMS to 3338)...
    let sms_ret: String = one(&mut c, "SELECT to_char(now() AT TIME ZONE 'Europe/Istanbul' - interval '2 seconds', 'YYYY-MM-DD HH24:MI:SS')");
    citizen_change(&sim, "+905321112233", "MESAJ", "RET", "IYS_KISAMESAJ", &sms_ret);
    let ayse_sms = "SELECT sms_izin, sms_izin_tarihi::text, kaynak FROM crm.customers WHERE full_name = 'Ayşe Yılmaz'";
    let applied = cluster.wait_for(Duration::from_secs(20), || {
        let r = texts(&mut c, ayse_sms).remove(0);
        (r[0].as_deref() == Some("H")).then_some(r)
    });
    assert_eq!(applied, Some(row(&["H", &sms_ret[..10], "IYS_KISAMESAJ"])), "log:\n{}", log_tail(&cluster));
    assert!(!can_send(&mut app, "0532 111 22 33", "MESAJ"));
    assert!(can_send(&mut app, "Ayse.Yilmaz@example.com", "EPOSTA"), "the e-mail consent is untouched");

    // ...and then the e-mail consent on IYS's web site.
    let email_ret: String = one(&mut c, "SELECT to_char(now() AT TIME ZONE 'Europe/Istanbul' - interval '1 second', 'YYYY-MM-DD HH24:MI:SS')");
    citizen_change(&sim, "ayse.yilmaz@example.com", "EPOSTA", "RET", "IYS_WEB", &email_ret);
    let ayse = "SELECT eposta_izin::text, to_char(eposta_izin_tarihi AT TIME ZONE 'Europe/Istanbul', 'YYYY-MM-DD HH24:MI:SS'), kaynak,
                       sms_izin, sms_izin_tarihi::text
                  FROM crm.customers WHERE full_name = 'Ayşe Yılmaz'";
    let applied = cluster.wait_for(Duration::from_secs(20), || {
        let r = texts(&mut c, ayse).remove(0);
        (r[0].as_deref() == Some("false")).then_some(r)
    });
    assert_eq!(applied, Some(row(&["false", &email_ret, "IYS_WEB", "H", &sms_ret[..10]])), "log:\n{}", log_tail(&cluster));
    assert!(!can_send(&mut app, "Ayse.Yilmaz@example.com", "EPOSTA"));
    assert!(!can_send(&mut app, "0532 111 22 33", "MESAJ"));
    // The other customers keep their consents; the landline never had one.
    assert!(can_send(&mut app, "0533 444 55 66", "MESAJ"));
    assert!(can_send(&mut app, "CAN.DEMIR@example.com", "EPOSTA"));
    assert!(!can_send(&mut app, "0212 555 44 33", "MESAJ"));
    // Both recorded from IYS, neither echoed back to it.
    assert_eq!(
        texts(&mut c, "SELECT consent_type::text, status::text, source::text FROM iys.consent_ledger WHERE origin = 'iys' ORDER BY consent_type"),
        [row(&["EPOSTA", "RET", "IYS_WEB"]), row(&["MESAJ", "RET", "IYS_KISAMESAJ"])]
    );
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 5);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.pull_quarantine"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.conflicts"), 0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 5);

    // The application goes on writing its rows: the values pg_iys wrote in the table's
    // vocabulary read back as the same consents (nothing queued, no warning), the landline
    // row is not blocked.
    let table = "SELECT e_posta, eposta_izin::text, eposta_izin_tarihi::text, cep_tel, sms_izin, sms_izin_tarihi::text, kaynak
                   FROM crm.customers ORDER BY id";
    let before = texts(&mut c, table);
    app.batch_execute("UPDATE crm.customers SET full_name = full_name || ' (müşteri)'").unwrap();
    assert!(app_notices.lock().unwrap().is_empty(), "{:?}", app_notices.lock().unwrap());
    assert_eq!(texts(&mut c, table), before);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 5);
}

/// iys.attach fits the mapping to the columns' types: a char(1) permission column cannot hold
/// ONAY/RET, so without a value map attach is refused (22023, the hint naming
/// gsm_permission_values) and nothing is installed; a boolean needs no map and refuses one;
/// `"email_permission": null` drops the e-mail channel (attach succeeds with one channel, and
/// e-mail consents in the row are neither checked nor queued).
#[test]
fn attach_fits_the_mapping_to_the_column_types() {
    let cluster = Cluster::start("realattach", CONF);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    c.batch_execute(&customers_sql("timestamptz")).unwrap();
    let without_map = mapping().replace(r#""gsm_permission_values": {"ONAY": ["E"], "RET": "H"},"#, "");
    assert!(!without_map.contains("gsm_permission_values"));
    let err = attach(&mut c, &without_map, "reject").unwrap_err();
    let db = err.as_db_error().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(db.code().code(), "22023", "{}", db.message());
    assert!(db.message().contains("\"sms_izin\"") && db.message().contains("character(1)"), "{}", db.message());
    assert!(db.hint().unwrap_or_default().contains("gsm_permission_values"), "{:?}", db.hint());
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.attached_table"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'crm.customers'::regclass"), 0);

    // A boolean column says ONAY/RET by itself.
    let bool_map = mapping().replace(r#""contact_type": null,"#, r#""contact_type": null, "email_permission_values": {"ONAY": "E", "RET": "H"},"#);
    let err = attach(&mut c, &bool_map, "reject").unwrap_err();
    let db = err.as_db_error().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(db.code().code(), "22023", "{}", db.message());
    assert!(db.message().contains("\"eposta_izin\"") && db.message().contains("boolean"), "{}", db.message());
    assert!(db.hint().unwrap_or_default().contains("email_permission_values"), "{:?}", db.hint());

    // No e-mail permission column: the table has no e-mail consent to sync.
    let sms_only = mapping().replace(r#""email_permission": "eposta_izin""#, r#""email_permission": null"#);
    let attached = attach(&mut c, &sms_only, "reject").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(attached, "crm.customers {MESAJ} reject");
    assert_eq!(texts(&mut c, "SELECT ch->>'type' FROM iys.attached_table, jsonb_array_elements(channels) ch"), [row(&["MESAJ"])]);
    // An e-mail consent IYS would refuse (dated tomorrow) does not matter: that channel is not synced.
    c.batch_execute(
        "INSERT INTO crm.customers (full_name, e_posta, eposta_izin, eposta_izin_tarihi, cep_tel, sms_izin, sms_izin_tarihi, kaynak)
         VALUES ('Ayşe', 'Ayse@Example.COM', true, now() + interval '1 day', '0532 111 22 33', 'E', now() - interval '1 hour', 'web sitesi')",
    )
    .unwrap();
    assert_eq!(texts(&mut c, "SELECT e_posta, cep_tel FROM crm.customers"), [row(&["Ayse@Example.COM", "+905321112233"])]);
    assert_eq!(
        texts(&mut c, "SELECT consent_type::text, recipient, status::text, source::text FROM iys.outbox"),
        [row(&["MESAJ", "+905321112233", "ONAY", "HS_WEB"])]
    );
}

/// A permission outside the column's value map fails the row with H115, and the message names
/// the map ("permission must be E (ONAY) or H (RET)"), not IYS's ONAY/RET; nothing is stored or
/// queued. The map's values are matched trimmed and case-insensitively ('h' is RET).
#[test]
fn a_value_outside_the_map_fails_with_h115_naming_the_map() {
    let (_cluster, mut c) = attached_cluster("realh115", "timestamptz", "reject");
    let insert = |permission: &str| {
        format!(
            "INSERT INTO crm.customers (full_name, cep_tel, sms_izin, sms_izin_tarihi, kaynak)
             VALUES ('Ali', '0532 111 22 33', {permission}, now() - interval '1 hour', 'web sitesi')"
        )
    };
    for bad in ["'X'", "'1'"] {
        let sql = insert(bad);
        let err = c.batch_execute(&sql).expect_err(&sql);
        let db = err.as_db_error().unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(db.code().code(), "23514", "{sql}: {}", db.message());
        for needle in ["H115", "\"sms_izin\"", "permission must be E (ONAY) or H (RET)"] {
            assert!(db.message().contains(needle), "{sql}: no {needle:?} in {}", db.message());
        }
    }
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM crm.customers"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 0);

    // In the map, any case: stored as typed, queued as IYS's status.
    c.batch_execute(&insert("'h'")).unwrap();
    assert_eq!(texts(&mut c, "SELECT sms_izin FROM crm.customers"), [row(&["h"])]);
    assert_eq!(texts(&mut c, "SELECT status::text FROM iys.outbox"), [row(&["RET"])]);
    // An UPDATE to a value outside the map fails the same way and changes nothing.
    let (code, message) = expect_error(&mut c, "UPDATE crm.customers SET sms_izin = '?', sms_izin_tarihi = now() - interval '1 minute'");
    assert_eq!(code, "23514");
    assert!(message.contains("H115") && message.contains("permission must be E (ONAY) or H (RET)") && message.contains("'?'"), "{message}");
    assert_eq!(texts(&mut c, "SELECT sms_izin FROM crm.customers"), [row(&["h"])]);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 1);
}

/// An opt-out is never blocked, even with on_invalid => 'reject': one UPDATE withdraws the
/// e-mail consent (eposta_izin false, a fresh date) and moves the SMS consent to a new number
/// dated 30 days ago, which IYS would refuse (H467). Alone, that SMS change fails the statement;
/// with the withdrawal it succeeds with a WARNING naming H467 and sms_izin_tarihi: the e-mail
/// RET is queued, the SMS columns keep their old values, nothing is queued for the new number.
#[test]
fn an_opt_out_is_never_blocked_by_another_channel() {
    let (cluster, mut c) = attached_cluster("realoptout", "timestamptz", "reject");
    c.batch_execute(
        "INSERT INTO crm.customers (full_name, e_posta, eposta_izin, eposta_izin_tarihi, cep_tel, sms_izin, sms_izin_tarihi, kaynak)
         VALUES ('Ayşe', 'ayse@example.com', true, date_trunc('second', now() - interval '2 hours'),
                 '0532 111 22 33', 'E', date_trunc('second', now() - interval '2 hours'), 'web sitesi')",
    )
    .unwrap();
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 2);
    let sms_before = "SELECT cep_tel, sms_izin, sms_izin_tarihi::text, kaynak FROM crm.customers";
    let before = texts(&mut c, sms_before);
    assert_eq!(before[0][..2], [s("+905321112233"), s("E")]);
    let sms_change = "cep_tel = '0532 999 88 77', sms_izin_tarihi = now() - interval '30 days'";

    // The SMS change alone: the table rejects what IYS would refuse.
    let (code, message) = expect_error(&mut c, &format!("UPDATE crm.customers SET {sms_change}"));
    assert_eq!(code, "23514", "{message}");
    assert!(message.contains("H467") && message.contains("\"sms_izin_tarihi\""), "{message}");

    // With the e-mail withdrawal in the same statement: stored, warned, the RET queued.
    let (mut noting, notices) = connect_noting(&cluster, "postgres");
    noting
        .batch_execute(&format!(
            "UPDATE crm.customers SET eposta_izin = false, eposta_izin_tarihi = date_trunc('second', now() - interval '1 minute'), {sms_change}"
        ))
        .unwrap_or_else(|e| panic!("the opt-out was blocked: {e:?}"));
    let warned = notices.lock().unwrap().clone();
    assert!(
        warned.iter().any(|w| w.starts_with("WARNING") && w.contains("H467") && w.contains("\"sms_izin_tarihi\"") && w.contains("old consent values are kept")),
        "{warned:?}"
    );
    assert_eq!(texts(&mut c, sms_before), before, "the SMS columns keep their old values");
    assert_eq!(
        texts(
            &mut c,
            "SELECT eposta_izin::text, (eposta_izin_tarihi > now() - interval '5 minutes')::text FROM crm.customers"
        ),
        [row(&["false", "true"])]
    );
    assert_eq!(
        texts(
            &mut c,
            "SELECT o.consent_type::text, o.recipient, o.status::text, o.source::text,
                    (o.consent_date = k.eposta_izin_tarihi AT TIME ZONE 'Europe/Istanbul')::text, o.state
               FROM iys.outbox o JOIN crm.customers k ON k.id::text = o.source_key
              WHERE o.status = 'RET'"
        ),
        [row(&["EPOSTA", "ayse@example.com", "RET", "HS_WEB", "true", "pending"])]
    );
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 3);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE recipient = '+905329998877'"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_history WHERE status = 'RET' AND origin = 'local'"), 1);
}

/// One kaynak column serves both channels: a movement on one channel with its own source (the
/// customer withdraws the e-mail consent in a shop) is queued with that source, and the other
/// channel, whose permission, date and address did not change, neither reverts the shared
/// column nor warns about "its" source changing (a source alone means nothing for a channel).
#[test]
fn a_shared_source_column_carries_one_channels_movement() {
    let (cluster, mut c) = attached_cluster("realshared", "timestamptz", "reject");
    c.batch_execute(
        "INSERT INTO crm.customers (full_name, e_posta, eposta_izin, eposta_izin_tarihi, cep_tel, sms_izin, sms_izin_tarihi, kaynak)
         VALUES ('Ayşe', 'ayse@example.com', true, date_trunc('second', now() - interval '2 hours'),
                 '0532 111 22 33', 'E', date_trunc('second', now() - interval '2 hours'), 'web sitesi')",
    )
    .unwrap();
    let (mut noting, notices) = connect_noting(&cluster, "postgres");
    noting
        .batch_execute("UPDATE crm.customers SET eposta_izin = false, eposta_izin_tarihi = date_trunc('second', now() - interval '1 minute'), kaynak = 'Mağaza'")
        .unwrap();
    let warned = notices.lock().unwrap().clone();
    assert_eq!(
        texts(&mut c, "SELECT consent_type::text, status::text, source::text FROM iys.outbox WHERE status = 'RET'"),
        [row(&["EPOSTA", "RET", "HS_FIZIKSEL_ORTAM"])],
        "warnings: {warned:?}"
    );
    assert_eq!(texts(&mut c, "SELECT kaynak, sms_izin FROM crm.customers"), [row(&["Mağaza", "E"])]);
    assert!(warned.is_empty(), "{warned:?}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 3);
}

/// The statement that queues a row's consents reads mapped values as the row check does
/// (trimmed, case-insensitive): a value the row check accepted is queued with the status or
/// source the map gives it. Turkish capitals ('MAĞAZA' is the shop, 'GÖNDER' is "send") on a
/// database whose collation is C (the harness's initdb --locale=C), and a value a web form left
/// a tab or newline on. All cases are collected before comparing, so a failure shows each.
#[test]
fn mapped_values_are_queued_as_the_row_check_reads_them() {
    let (_cluster, mut c) = attached_cluster("realcase", "timestamptz", "reject");
    c.batch_execute(
        r#"CREATE TABLE crm.leads (id int PRIMARY KEY, tel text, izin varchar(12), izin_tarihi timestamp, kaynak text);
           SELECT iys.attach('crm.leads', brand_code => '600001', mapping => '{"contact_type": null, "email": null,
               "gsm": "tel", "gsm_permission": "izin", "gsm_consent_date": "izin_tarihi", "gsm_source": "kaynak",
               "gsm_permission_values": {"ONAY": ["Evet", "Gönder"], "RET": ["Hayır", "Gönderme"]},
               "gsm_source_values": {"web sitesi": "HS_WEB", "mağaza": "HS_FIZIKSEL_ORTAM"}}');"#,
    )
    .unwrap();
    let mut seen = Vec::new();
    // (table, the row's values, what it must queue: status, source)
    let cases = [
        ("crm.customers", "'MAĞAZA'", "'E'", ("ONAY", "HS_FIZIKSEL_ORTAM")),
        ("crm.customers", "E'web sitesi\\n'", "'E'", ("ONAY", "HS_WEB")),
        ("crm.leads", "'mağaza'", "'GÖNDER'", ("ONAY", "HS_FIZIKSEL_ORTAM")),
        ("crm.leads", "'mağaza'", "E'Evet\\t'", ("ONAY", "HS_FIZIKSEL_ORTAM")),
        ("crm.leads", "'MAĞAZA'", "'Evet'", ("ONAY", "HS_FIZIKSEL_ORTAM")),
    ];
    for (n, (table, source, permission, _)) in cases.iter().enumerate() {
        let phone = format!("0532 111 22 3{n}");
        let sql = if *table == "crm.customers" {
            format!("INSERT INTO crm.customers (cep_tel, sms_izin, sms_izin_tarihi, kaynak) VALUES ('{phone}', {permission}, now() - interval '1 hour', {source})")
        } else {
            format!("INSERT INTO crm.leads VALUES ({n}, '{phone}', {permission}, (now() AT TIME ZONE 'Europe/Istanbul') - interval '1 hour', {source})")
        };
        let queued = match c.batch_execute(&sql) {
            Ok(()) => texts(&mut c, &format!("SELECT status::text || ' ' || source::text FROM iys.outbox WHERE recipient = '+90532111223{n}'"))
                .first()
                .and_then(|r| r[0].clone())
                .unwrap_or_else(|| "nothing queued".into()),
            Err(e) => format!("ERROR {}", e.as_db_error().map(|d| format!("{} {}", d.code().code(), d.message())).unwrap_or(e.to_string())),
        };
        seen.push(format!("{table} {permission} {source}: {queued}"));
    }
    let expected: Vec<String> = cases.iter().map(|(table, source, permission, (status, src))| format!("{table} {permission} {source}: {status} {src}")).collect();
    assert_eq!(seen, expected);
}

/// Retailers (bayi) travel with each consent: a per-row retailer code column and a table-wide
/// access list reach IYS as IYS's document describes; with a code that is not IYS's 8 digits
/// (H118: IYS would refuse the whole consent) keep mode stores the row and holds its consent
/// back, while an opt-out goes without the retailer; attach refuses a fixed code that is not 8
/// digits.
#[test]
fn retailers_are_sent_with_the_consent() {
    let sim = Sim::start();
    let cluster = Cluster::start("realretail", CONF);
    let mut c = cluster.connect();
    pg_iys_e2e::setup_sync(&mut c, &sim.url());
    c.batch_execute(&customers_sql("timestamptz")).unwrap();
    c.batch_execute("ALTER TABLE crm.customers ADD COLUMN bayi_kodu text, ADD COLUMN bayi_erisim bigint[]").unwrap();
    let with_retailers = |code: &str, access: &str| {
        mapping().replace(r#""contact_type": null,"#, &format!(r#""contact_type": null, "retailer_code": {code}, "retailer_access": {access},"#))
    };
    let err = attach(&mut c, &with_retailers("1234", "null"), "keep").unwrap_err();
    let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(message.contains("retailer_code") && message.contains("8-digit"), "{message}");
    attach(&mut c, &with_retailers(r#""bayi_kodu""#, "[55550127, 98528475]"), "keep").unwrap();

    c.batch_execute(
        "INSERT INTO crm.customers (full_name, cep_tel, sms_izin, sms_izin_tarihi, kaynak, bayi_kodu)
         VALUES ('Ayşe', '0532 111 22 33', 'E', now() - interval '1 hour', 'mağaza', ' 55550127 ')",
    )
    .unwrap();
    // A code IYS would refuse: the consent is held back (the row is stored without it), the
    // opt-out of another row with the same bad code goes without the retailer.
    c.batch_execute(
        "INSERT INTO crm.customers (full_name, cep_tel, sms_izin, sms_izin_tarihi, kaynak, bayi_kodu) VALUES
           ('Ali', '0532 111 22 34', 'E', now() - interval '1 hour', 'mağaza', '5555'),
           ('Veli', '0532 111 22 35', 'H', now() - interval '1 hour', 'mağaza', '5555')",
    )
    .unwrap();
    assert_eq!(
        texts(&mut c, "SELECT full_name, sms_izin FROM crm.customers WHERE bayi_kodu = '5555' ORDER BY full_name"),
        [row(&["Ali"]).into_iter().chain([None]).collect::<Vec<_>>(), row(&["Veli", "H"])]
    );
    assert_eq!(
        texts(&mut c, "SELECT recipient, status::text, retailer_code::text, retailer_access::text FROM iys.outbox WHERE brand_code = '600001' AND recipient LIKE '+90532111%' ORDER BY id"),
        [row(&["+905321112233", "ONAY", "55550127", "{55550127,98528475}"]), vec![s("+905321112235"), s("RET"), None, s("{55550127,98528475}")]]
    );
    let states = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(states.get("rejected"), None, "{states:?}\n{}", log_tail(&cluster));
    let consents = sim.admin_get("/admin/consents?brandCode=600001&recipient=%2B905321112233");
    let held = consents.as_array().and_then(|a| a.iter().find(|c| c["type"] == "MESAJ")).cloned().unwrap_or(Value::Null);
    assert_eq!(held["retailerCode"], json!(55550127), "{held}");
    // IYS shows how many retailers have access (its consent detail's retailerAccessCount).
    assert_eq!(held["retailerAccessCount"], json!(2), "{held}");
}
