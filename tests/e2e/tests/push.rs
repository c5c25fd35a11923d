//! IYS pushes citizens' movements to iys-push-receiver (issue #15): registration through SQL,
//! a citizen's RET in the table and in `can_send` within seconds (the pull would wait out IYS's
//! one-hour hold-back), the receiver down then up (the pull covers, the late push is recorded
//! once), and the receiver's role and credentials.

use pg_iys_e2e::{free_port, insert_contacts, log_tail, one, setup_sync, test_tls_file, wait_settled, Cluster, Receiver, Sim, SIM_CLOCK_SPEED};
use serde_json::json;
use std::time::{Duration, Instant};

const CONF: &[&str] = &["iys.flush_interval = 100", "iys.http_timeout = 10000", "iys.pull_interval = 300"];
const PHONE: &str = "+905320000001";

/// The simulator as IYS (its hold-back included), trusting the receiver's test certificate.
fn sim() -> Sim {
    Sim::start_with(iys_sim::Config {
        clock_speed: SIM_CLOCK_SPEED,
        push_ca_file: Some(test_tls_file("test-ca.pem").to_string_lossy().into_owned()),
        // IYS's retry pace is not documented; the test waits seconds, not minutes.
        push_retry_ms: 200,
        ..iys_sim::Config::default()
    })
}

/// The receiver's least-privilege role, and the receiver itself, registered for MESAJ.
fn receiver(cluster: &Cluster, c: &mut postgres::Client, port: u16) -> Receiver {
    c.batch_execute("CREATE ROLE iys_push LOGIN; SELECT iys.grant_push_receiver_rights('iys_push')").unwrap();
    let receiver = Receiver::start(cluster, "iys_push", port);
    c.execute(
        "SELECT iys.push_register('600001', 'MESAJ', $1, $2, $3)",
        &[&receiver.url(), &pg_iys_e2e::RECEIVER_USER, &pg_iys_e2e::RECEIVER_PASSWORD],
    )
    .unwrap();
    let registered = cluster.wait_for(Duration::from_secs(30), || {
        let row = c.query_one("SELECT state, last_error FROM iys.push_connections", &[]).ok()?;
        (row.get::<_, String>(0) != "pending").then(|| (row.get::<_, String>(0), row.get::<_, Option<String>>(1)))
    });
    assert_eq!(registered.as_ref().map(|r| r.0.as_str()), Some("registered"), "{registered:?}; log:\n{}", log_tail(cluster));
    receiver
}

/// A citizen's RET made now in IYS (its pull shows it only an hour later).
fn citizen_ret_now(sim: &Sim, recipient: &str) -> String {
    let answer = sim.admin_post(
        "/admin/citizen-change",
        json!({"iysCode": 700001, "brandCode": 600001, "recipient": recipient, "type": "MESAJ", "status": "RET", "source": "IYS_MOBIL"}),
    );
    answer["transactionId"].as_str().expect("a transactionId").to_owned()
}

fn is_ret(c: &mut postgres::Client, recipient: &str) -> bool {
    c.query_one("SELECT gsm_permission = 'RET' AND NOT iys.can_send($1, 'MESAJ') FROM master_contact WHERE gsm = $1", &[&recipient])
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false)
}

#[test]
fn a_citizens_opt_out_arrives_by_push_in_seconds_and_the_pull_records_it_no_more() {
    let sim = sim();
    let cluster = Cluster::start("push", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    let _receiver = receiver(&cluster, &mut c, free_port());
    // IYS's registration check reached the receiver; its test datum (brand 121212) is not ours.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE origin = 'iys'"), 0);
    let listed = sim.admin_get("/admin/push");
    assert_eq!(listed["connections"][0]["delivered"], 0, "{listed}");
    insert_contacts(&mut c, 1, 1);
    wait_settled(&cluster, Duration::from_secs(40));

    let started = Instant::now();
    let txid = citizen_ret_now(&sim, PHONE);
    let arrived = cluster.wait_for(Duration::from_secs(20), || is_ret(&mut c, PHONE).then_some(()));
    let took = started.elapsed();
    assert!(arrived.is_some(), "{}; log:\n{}", sim.admin_get("/admin/push"), log_tail(&cluster));
    // The pull could not have brought it: IYS holds changes back an hour (36 s on this clock).
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(one::<String>(&mut c, &format!("SELECT gsm_source FROM master_contact WHERE gsm = '{PHONE}'")), "IYS_MOBIL");
    assert_eq!(one::<i64>(&mut c, "SELECT movements FROM iys.push_seen"), 1);

    // An hour later (on IYS's clock) the pull shows the same movement: recorded once.
    sim.admin_post("/admin/clock", json!({"advance_secs": 2 * 3600}));
    let pulled_past_it = cluster.wait_for(Duration::from_secs(20), || {
        let after: Option<String> = c.query_one("SELECT after FROM iys.pull_cursor WHERE source = 'IYS'", &[]).ok()?.get(0);
        after.filter(|a| a.ends_with(&txid)).map(|_| ())
    });
    assert!(pulled_past_it.is_some(), "the pull never reached the movement; log:\n{}", log_tail(&cluster));
    assert_eq!(one::<i64>(&mut c, &format!("SELECT count(*) FROM iys.consent_ledger WHERE transaction_id = '{txid}'")), 1);
}

#[test]
fn with_the_receiver_down_the_pull_covers_and_the_late_push_is_recorded_once() {
    let sim = sim();
    let cluster = Cluster::start("push_down", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    let port = free_port();
    let mut receiver = receiver(&cluster, &mut c, port);
    insert_contacts(&mut c, 1, 2);
    wait_settled(&cluster, Duration::from_secs(40));

    receiver.stop();
    let txid = citizen_ret_now(&sim, PHONE);
    std::thread::sleep(Duration::from_secs(2));
    assert!(!is_ret(&mut c, PHONE), "nothing can have brought it yet");
    let pending = sim.admin_get("/admin/push");
    assert!(pending["connections"][0]["failedAttempts"].as_u64().unwrap_or(0) > 0, "IYS keeps trying: {pending}");

    // The pull covers it once IYS shows it.
    sim.admin_post("/admin/clock", json!({"advance_secs": 2 * 3600}));
    let pulled = cluster.wait_for(Duration::from_secs(30), || is_ret(&mut c, PHONE).then_some(()));
    assert!(pulled.is_some(), "log:\n{}", log_tail(&cluster));

    // The receiver back: IYS's retry gets through, and nothing is recorded twice.
    let _receiver = Receiver::start(&cluster, "iys_push", port);
    let delivered = cluster.wait_for(Duration::from_secs(30), || {
        (sim.admin_get("/admin/push")["connections"][0]["delivered"].as_u64() == Some(1)).then_some(())
    });
    assert!(delivered.is_some(), "{}", sim.admin_get("/admin/push"));
    assert_eq!(one::<i64>(&mut c, &format!("SELECT count(*) FROM iys.consent_ledger WHERE transaction_id = '{txid}'")), 1);
    assert_eq!(one::<i64>(&mut c, "SELECT movements FROM iys.push_seen"), 1);
    // A later push goes straight through again.
    citizen_ret_now(&sim, "+905320000002");
    let second = cluster.wait_for(Duration::from_secs(20), || is_ret(&mut c, "+905320000002").then_some(()));
    assert!(second.is_some(), "{}; log:\n{}", sim.admin_get("/admin/push"), log_tail(&cluster));
}

#[test]
fn the_receiver_answers_only_iys_and_its_role_can_do_nothing_else() {
    let sim = sim();
    let cluster = Cluster::start("push_auth", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    let receiver = receiver(&cluster, &mut c, free_port());

    let tls = {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(test_tls_file("test-ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        std::sync::Arc::new(config)
    };
    let agent = ureq::AgentBuilder::new().tls_config(tls).build();
    let post = |auth: Option<&str>, body: &str| -> u16 {
        let mut request = agent.post(&receiver.url()).set("Content-Type", "application/json");
        if let Some(auth) = auth {
            request = request.set("Authorization", auth);
        }
        match request.send_string(body) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{e}"),
        }
    };
    let item = json!({"list": [{"iysCode": 700001, "brandCode": 600001, "recipient": PHONE, "type": "MESAJ", "recipientType": "BIREYSEL",
                                "status": "RET", "source": "IYS_WEB", "consentDate": "2026-11-30 10:00:00",
                                "creationDate": "2026-11-30 10:00:01", "transactionId": "forged-1"}]})
    .to_string();
    // base64("iys:wrong") and base64("iys:push-s3cret")
    assert_eq!(post(None, &item), 401);
    assert_eq!(post(Some("Basic aXlzOndyb25n"), &item), 401);
    assert_eq!(post(Some("Basic aXlzOnB1c2gtczNjcmV0"), "not json"), 400);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE transaction_id = 'forged-1'"), 0);
    assert_eq!(post(Some("Basic aXlzOnB1c2gtczNjcmV0"), &item), 200);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE transaction_id = 'forged-1'"), 1);

    // The receiver's role runs iys.receive_push and nothing else of pg_iys.
    let mut role = postgres::Client::connect(&format!("host=127.0.0.1 port={} user=iys_push dbname=postgres", cluster.port), postgres::NoTls).unwrap();
    for sql in [
        "SELECT count(*) FROM iys.consent_ledger",
        "SELECT count(*) FROM iys.push_connection",
        "SELECT count(*) FROM iys.account",
        "SELECT iys_internal.record_pushed('{\"list\": []}')",
        "SELECT iys.push_register('600001', 'MESAJ', 'https://evil.example.com/', 'u', 'p')",
    ] {
        let err = role.query(sql, &[]).expect_err(sql);
        assert_eq!(err.code().map(|c| c.code()), Some("42501"), "{sql}: {err}");
    }
    assert_eq!(role.query_one("SELECT iys.receive_push('{\"list\": []}')", &[]).unwrap().get::<_, i32>(0), 0);
}
