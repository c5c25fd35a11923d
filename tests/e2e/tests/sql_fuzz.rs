//! Property test of the SQL surface: thousands of random strings (seeded, reproducible) go into
//! every function of the types/validation/calendar layer. Each call must either return or fail
//! with a proper data error; never an internal error (XX000 is what a Rust panic becomes) and
//! never a crashed backend.

use pg_iys_e2e::{Cluster, Rng};

const ALPHABETS: &[&str] = &[
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    "0123456789 +-.()",
    "çğıöşüÇĞİÖŞÜ",
    "@._-+!#$%&'*/=?^`{|}~\"[]<>,;:\\",
    " \t\r\n\u{a0}\u{2003}\u{7f}",
    "é€😀中文ßｱ\u{301}\u{200b}\u{feff}٠١٢٣٤٥٦٧٨٩０１２",
    "HS_IYS_ONAYRETMESAJARAMAEPOSTABIREYSELTACIR",
    "-: 0123456789",
];

const SEEDS: &[&str] = &[
    "", "+90", "0090", "05", "5321234567", "@", "@example.com", "ali", "ali@example.com",
    "Veli.Can+tag@Example.COM.TR", "2015-05-01 00:00:00", "2024-02-30 ", "HS_2015", "IYS_",
    "HS_KARAR", "İ", "..", "{\"gsm\": ", "\"}", "null", "infinity",
];

fn random_text(rng: &mut Rng) -> String {
    let mut text = String::from(rng.pick(SEEDS));
    let length = match rng.below(10) {
        0 => 200 + rng.below(600),
        1 => 0,
        _ => rng.below(24),
    };
    for _ in 0..length {
        if rng.below(8) == 0 {
            text.push_str(rng.pick(SEEDS));
        } else {
            let alphabet: Vec<char> = rng.pick(ALPHABETS).chars().collect();
            text.push(alphabet[rng.below(alphabet.len())]);
        }
    }
    text
}

fn random_timestamp(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => rng.pick(&["infinity", "-infinity", "294276-12-31 23:59:59", "4713-01-01 00:00:00 BC", "2015-05-01 00:00:00"]).to_owned(),
        _ => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            1990 + rng.below(60),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60)
        ),
    }
}

#[test]
fn random_input_never_breaks_the_backend() {
    let cluster = Cluster::start("fuzz", &[]);
    let mut client = cluster.connect();
    client
        .batch_execute(
            "CREATE EXTENSION pg_iys;
             CREATE TABLE fuzz_t (contact_type text, email text, email_permission text,
                 email_consent_date text, email_source text, gsm text, gsm_permission text,
                 gsm_consent_date timestamp, gsm_source text);",
        )
        .unwrap();
    // $1, $2: random text; $3, $4: random timestamps (as text).
    let queries = [
        "SELECT iys_internal.phone_in($1::cstring)::text",
        "SELECT $1::text::iys.phone::text",
        "SELECT iys_internal.email_in($1::cstring)::text",
        "SELECT $1::text::iys.email::text",
        "SELECT $1::text::iys.mobile::text",
        "SELECT iys.normalize_phone($1)",
        "SELECT iys.normalize_email($1)",
        "SELECT iys.is_valid_phone($1)::text || iys.is_valid_email($1)::text || iys.is_turkish_mobile($1)::text",
        "SELECT iys.normalize_recipient($1, 'MESAJ') || iys.normalize_recipient($2, 'EPOSTA')",
        "SELECT iys.normalize_recipient($1, 'ARAMA')",
        "SELECT iys.to_consent_type($1)::text",
        "SELECT iys.to_consent_status($1)::text",
        "SELECT iys.to_recipient_type($1)::text",
        "SELECT iys.to_consent_source($1)::text",
        "SELECT $1::text::iys.consent_source::text",
        "SELECT count(*)::text FROM iys.validate_consent($1, 'MESAJ', 'ONAY', $2, $3::timestamp, 'TACIR', 'ONAY', $4::timestamp)",
        "SELECT count(*)::text FROM iys.validate_consent($1, 'EPOSTA', 'RET', $2, $3::timestamp, at => now() + ($4::timestamp - '2000-01-01'::timestamp) / 1000)",
        "SELECT count(*)::text FROM iys.validate_consent_at($3::timestamp::timestamptz, $1, 'ARAMA', 'ONAY', $2, $4::timestamp)",
        "SELECT iys.check_consent($1, 'MESAJ', 'ONAY', $2, $3::timestamp, at => $4::timestamptz)",
        "SELECT iys.reporting_deadline($3::timestamp)::text || iys.is_business_day($4::date)::text",
        "SELECT count(*)::text FROM iys.validate_table('fuzz_t', $1::jsonb)",
        "SELECT count(*)::text FROM iys.validate_table('fuzz_t', jsonb_build_object('gsm', $1, 'email_permission', $2))",
    ];
    let statements: Vec<_> = queries
        .iter()
        .map(|q| {
            let text = pg_iys_e2e::postgres::types::Type::TEXT;
            client.prepare_typed(q, &[text.clone(), text.clone(), text.clone(), text]).unwrap_or_else(|e| panic!("{q}: {e:?}"))
        })
        .collect();

    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut ok, mut refused) = (0u32, 0u32);
    for round in 0..1_500 {
        let a = random_text(&mut rng);
        let b = if rng.below(3) == 0 { "HS_WEB".to_owned() } else { random_text(&mut rng) };
        let (t1, t2) = (random_timestamp(&mut rng), random_timestamp(&mut rng));
        // Fill the table sometimes, so validate_table scans random rows too.
        if round % 100 == 0 {
            client.execute("TRUNCATE fuzz_t", &[]).unwrap();
        }
        let _ = client.execute(
            "INSERT INTO fuzz_t VALUES ($1, $2, $3, $1, $2, $2, $3, '2024-01-01', $1)",
            &[&a.replace('\0', ""), &b.replace('\0', ""), &(if rng.below(2) == 0 { "ONAY" } else { "x" })],
        );
        for (q, st) in queries.iter().zip(&statements) {
            match client.query(st, &[&a, &b, &t1, &t2]) {
                Ok(_) => ok += 1,
                Err(e) => {
                    let db = e.as_db_error().unwrap_or_else(|| {
                        panic!("{q} with {a:?}, {b:?}, {t1}, {t2}: not a database error: {e}\nserver log:\n{}", cluster.server_log())
                    });
                    let code = db.code().code();
                    assert!(
                        code.starts_with("22") || matches!(code, "23514" | "42703"),
                        "{q} with {a:?}, {b:?}, {t1}, {t2}: unexpected {code} {}",
                        db.message()
                    );
                    refused += 1;
                }
            }
        }
    }
    eprintln!("fuzz: {ok} calls returned, {refused} refused with a data error");
    assert!(ok > 5_000 && refused > 5_000, "the generator must reach both paths: {ok} ok, {refused} refused");
    assert_eq!(client.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
    let log = cluster.server_log();
    assert!(!log.contains("terminated by signal") && !log.contains("PANIC"), "server log:\n{log}");
}

#[test]
fn validate_table_reports_progress_as_notices() {
    use std::sync::{Arc, Mutex};
    let cluster = Cluster::start("progress", &[]);
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&notices);
    let mut client = pg_iys_e2e::postgres::Config::from(cluster.conn_string("postgres").parse::<pg_iys_e2e::postgres::Config>().unwrap())
        .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_owned()))
        .connect(pg_iys_e2e::postgres::NoTls)
        .unwrap();
    client
        .batch_execute(
            "CREATE EXTENSION pg_iys;
             CREATE TABLE mc AS SELECT i AS id, 'BIREYSEL'::text AS contact_type,
                 'user' || i || '@example.com' AS email, 'ONAY'::text AS email_permission,
                 '2024-03-05 10:00'::timestamp AS email_consent_date, 'HS_WEB'::text AS email_source,
                 CASE WHEN i % 1000 = 0 THEN '0212 000 00 00' ELSE '0532 000 00 00' END AS gsm,
                 'ONAY'::text AS gsm_permission, '2024-03-05 10:00'::timestamp AS gsm_consent_date,
                 'HS_MESAJ'::text AS gsm_source
               FROM generate_series(1, 25000) i;
             ANALYZE mc;",
        )
        .unwrap();
    let rows = client
        .query("SELECT row_id, code FROM iys.validate_table('mc', at => '2024-03-06 12:00+03', progress_rows => 10000)", &[])
        .unwrap();
    assert_eq!(rows.len(), 25, "every 1000th row has a landline for MESAJ");
    assert!(rows.iter().all(|r| r.get::<_, String>(1) == "H121"));
    let notices = notices.lock().unwrap().clone();
    let progress: Vec<_> = notices.iter().filter(|n| n.contains("rows scanned")).collect();
    assert_eq!(progress.len(), 2, "{notices:?}");
    assert!(progress[0].starts_with("iys.validate_table(mc): 10000 of about 25000 rows scanned, 10 problems so far, "), "{}", progress[0]);
    assert!(notices.last().unwrap().contains("done, 25000 rows, 25 problems in"), "{notices:?}");
}
