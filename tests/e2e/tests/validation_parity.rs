//! Validation parity: pg_iys refuses locally exactly the recipients IYS refuses. A generated
//! corpus of addresses in the form they travel to IYS (lower-case e-mails, E.164 phones), near
//! every rule's edge, goes through pg_iys's validator (SQL, `iys.try_normalize_recipient`) and
//! through the simulator's own implementation of IYS's document (`iys_sim::accepts_recipient`);
//! every verdict must agree. The corpus is deterministic (a fixed seed), so a difference is
//! reproducible; the test prints the first differences with the rule that differs.
//!
//! Two differences are pg_iys's declared policy, stricter than IYS where its document is silent,
//! and are counted, not failed: no phone channel takes a foreign number, and ARAMA takes a
//! Turkish mobile, landline or 850 number only (not toll-free, premium, pager or satellite).

use pg_iys_e2e::{Cluster, Rng};

const PLAIN: &str = "abcdefghijklmnopqrstuvwxyz0123456789";

/// E-mail addresses near the edges of the document's rules 1–7.
fn emails(rng: &mut Rng, n: usize) -> Vec<String> {
    let specials = "._-+!#$%&'*/=?^`{|}~(),;:\"[]<>\\ ";
    let turkish = "çğıöşü";
    (0..n)
        .map(|_| {
            let local = match rng.below(10) {
                0 => rng.text(&format!("{PLAIN}{specials}"), 0, 6),
                1 => format!("{}{}{}", rng.text(PLAIN, 1, 4), rng.pick(&[".", "..", "_", "-", "+", "+tag", "."]), rng.text(PLAIN, 0, 4)),
                2 => format!("{}{}", rng.text(PLAIN, 1, 5), rng.text(turkish, 1, 1)),
                3 => rng.text(PLAIN, 60, 70),
                4 => format!(".{}", rng.text(PLAIN, 1, 5)),
                _ => rng.text(PLAIN, 1, 12),
            };
            let name = match rng.below(8) {
                0 => rng.text(PLAIN, 1, 1),
                1 => format!("{}-{}", rng.text(PLAIN, 1, 4), rng.text(PLAIN, 1, 4)),
                2 => format!("-{}", rng.text(PLAIN, 1, 4)),
                3 => format!("{}.{}", rng.text(PLAIN, 1, 3), rng.text(PLAIN, 1, 6)),
                4 => rng.text(&format!("{PLAIN}_+!."), 1, 8),
                5 => rng.text(PLAIN, 0, 0),
                _ => rng.text(PLAIN, 2, 10),
            };
            let tld = match rng.below(8) {
                0 => rng.text("abcdefghijklmnopqrstuvwxyz", 1, 1),
                1 => rng.text("abc0123", 2, 3),
                2 => String::new(),
                _ => rng.pick(&["com", "com.tr", "org", "net", "tr", "io", "co"]).to_owned(),
            };
            let at = rng.pick(&["@", "@", "@", "@", "@", "", "@@"]);
            let dot = if tld.is_empty() { "" } else { "." };
            let address = format!("{local}{at}{name}{dot}{tld}");
            // Stretch some to the 265-character limit and past it.
            if rng.below(25) == 0 {
                let pad = 255 + rng.below(15);
                format!("{}{address}", "a".repeat(pad.saturating_sub(address.len())))
            } else {
                address
            }
        })
        .collect()
}

/// Phone numbers in E.164 near the edges: Turkish ranges in and out of the numbering plan,
/// wrong lengths, foreign numbers, the `+900` mistake, more than 15 characters.
fn phones(rng: &mut Rng, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| match rng.below(10) {
            0..=2 => format!("+90{}{}", rng.below(10), rng.text("0123456789", 9, 9)),
            3..=4 => format!("+90{}{}", rng.pick(&["532", "555", "505", "542", "212", "216", "312", "850", "800", "900", "512"]), rng.text("0123456789", 7, 7)),
            5 => format!("+905{}{}", rng.below(10), rng.text("0123456789", 8, 8)),
            6 => format!("+90{}", rng.text("0123456789", 8, 12)),
            7 => format!("+{}{}", rng.pick(&["1", "44", "49", "33", "994", "7", "86"]), rng.text("0123456789", 6, 12)),
            8 => format!("+{}", rng.text("0123456789", 13, 16)),
            _ => format!("{}{}", rng.pick(&["+9005", "905", "+90 5", "+0"]), rng.text("0123456789", 8, 10)),
        })
        .collect()
}

#[test]
fn pg_iys_and_the_simulator_refuse_the_same_recipients() {
    let cluster = Cluster::start("parity", &[]);
    let mut c = cluster.connect();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_iys").unwrap();
    let mut rng = Rng(0x5EED_1A5E_2026_1202);
    let corpus: Vec<(&str, Vec<String>)> =
        vec![("EPOSTA", emails(&mut rng, 20_000)), ("MESAJ", phones(&mut rng, 20_000)), ("ARAMA", phones(&mut rng, 20_000))];
    let mut differences = Vec::new();
    let (mut accepted, mut by_policy) = (0, 0);
    for (consent_type, addresses) in &corpus {
        // pg_iys accepts an address on the wire when it normalises to itself.
        let rows = c
            .query(
                "SELECT x, iys.try_normalize_recipient(x, $2::text::iys.consent_type) IS NOT DISTINCT FROM x
                   FROM unnest($1::text[]) AS x",
                &[addresses, consent_type],
            )
            .unwrap();
        for row in rows {
            let (address, ours): (String, bool) = (row.get(0), row.get(1));
            let theirs = iys_sim::accepts_recipient(&address, consent_type);
            accepted += usize::from(ours);
            if !ours && theirs && stricter_by_policy(&address, consent_type) {
                by_policy += 1;
            } else if ours != theirs {
                differences.push(format!("{consent_type} {address:?}: pg_iys {}, IYS {}", verdict(ours), verdict(theirs)));
            }
        }
    }
    let total: usize = corpus.iter().map(|(_, a)| a.len()).sum();
    eprintln!("{total} recipients, {accepted} accepted by both sides, {by_policy} refused by pg_iys's stricter policy, {} differences", differences.len());
    // The corpus must exercise both verdicts, or agreement says nothing.
    assert!(accepted > total / 10 && accepted < total * 9 / 10, "{accepted} of {total} accepted");
    assert!(differences.is_empty(), "{} differences, first ones:\n{}", differences.len(), differences[..differences.len().min(30)].join("\n"));
}

/// pg_iys's declared policy where IYS's document is silent (see the module documentation).
fn stricter_by_policy(address: &str, consent_type: &str) -> bool {
    use iys_sim::numbering::{turkish_kind, Kind};
    match (consent_type, address.strip_prefix("+90")) {
        ("EPOSTA", _) => false,
        (_, None) => true,
        ("ARAMA", Some(national)) => {
            matches!(turkish_kind(national), Some(Kind::TollFree | Kind::PremiumRate | Kind::Pager | Kind::PersonalNumber))
        }
        _ => false,
    }
}

fn verdict(accepts: bool) -> &'static str {
    if accepts {
        "accepts"
    } else {
        "refuses"
    }
}
