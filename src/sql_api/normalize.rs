//! Phone and e-mail normalisation: the functions behind the `iys.phone` and `iys.email` base
//! types (sql/types.sql) and the plain `iys.normalize_*()` / `iys.is_valid_*()` functions.
//!
//! The types store their values exactly like `text` (a varlena holding the normalised ASCII
//! form), so output, send, comparison and hashing reuse PostgreSQL's built-in `textout`,
//! `textsend` and the byte-wise `bytea` comparators; only input (text and binary) needs code,
//! and it is the core's normalisation. Errors are 22P02 naming the value and the reason.

use crate::core::{ConsentType, Error, Problem};
use crate::sql_api::error::{raise, OrRaise};
use crate::sql_api::types::consent_type;
use pgrx::datum::Internal;
use pgrx::prelude::*;
use std::ffi::CStr;

const PHONE: &str = "iys.phone";
const EMAIL: &str = "iys.email";

fn bad_input(type_name: &'static str) -> impl FnOnce(Problem) -> Error {
    move |problem| Error::BadInput { type_name, problem }
}

fn phone(raw: &str) -> String {
    crate::core::normalize_phone(raw).map_err(bad_input(PHONE)).or_raise()
}

fn email(raw: &str) -> String {
    crate::core::normalize_email(raw).map_err(bad_input(EMAIL)).or_raise()
}

/// Text input of a C string: invalid UTF-8 cannot reach here (the server checks the client
/// encoding), but be explicit rather than panic.
fn cstr_text<'a>(input: &'a CStr, type_name: &'static str) -> &'a str {
    input.to_str().unwrap_or_else(|_| {
        raise(&Error::BadInput {
            type_name,
            problem: Problem::new("H121", "recipient", "", "input is not valid UTF-8"),
        })
    })
}

/// The text of a binary-protocol message (the same bytes `textsend` writes).
fn recv_text(mut buf: Internal) -> String {
    // SAFETY: a type's receive function is called with a StringInfo.
    let info = unsafe { buf.get_mut::<pg_sys::StringInfoData>() }
        .unwrap_or_else(|| raise(&Error::Internal("receive without a buffer".into())));
    let mut nbytes = 0;
    // SAFETY: pq_getmsgtext reads the remaining bytes, converting from the client encoding.
    unsafe {
        let remaining = info.len - info.cursor;
        let ptr = pg_sys::pq_getmsgtext(info, remaining, &mut nbytes);
        let bytes = std::slice::from_raw_parts(ptr as *const u8, nbytes as usize);
        String::from_utf8_lossy(bytes).into_owned()
    }
}

#[pg_extern(sql = false, immutable, strict, parallel_safe)]
fn phone_in(input: &CStr) -> String {
    phone(cstr_text(input, PHONE))
}

#[pg_extern(sql = false, immutable, strict, parallel_safe)]
fn phone_recv(buf: Internal) -> String {
    phone(&recv_text(buf))
}

#[pg_extern(sql = false, immutable, strict, parallel_safe)]
fn phone_from_text(raw: &str) -> String {
    phone(raw)
}

#[pg_extern(sql = false, immutable, strict, parallel_safe)]
fn email_in(input: &CStr) -> String {
    email(cstr_text(input, EMAIL))
}

#[pg_extern(sql = false, immutable, strict, parallel_safe)]
fn email_recv(buf: Internal) -> String {
    email(&recv_text(buf))
}

#[pg_extern(sql = false, immutable, strict, parallel_safe)]
fn email_from_text(raw: &str) -> String {
    email(raw)
}

/// `+905321234567` from what people type (`0532 123 45 67`, `5321234567`, `0090 532 …`,
/// `+90 (532) 123-45-67`), E.164 for other countries' `+`/`00` numbers; 22P02 otherwise.
#[pg_extern(immutable, strict, parallel_safe)]
fn normalize_phone(phone_number: &str) -> String {
    phone(phone_number)
}

/// Trimmed, lower-cased e-mail address as IYS accepts it; 22P02 otherwise.
#[pg_extern(immutable, strict, parallel_safe)]
fn normalize_email(email_address: &str) -> String {
    email(email_address)
}

/// The recipient as IYS wants it for the channel: a Turkish mobile for MESAJ, a Turkish mobile,
/// landline or 850 number for ARAMA, an e-mail address for EPOSTA; 22P02 otherwise.
#[pg_extern(immutable, strict, parallel_safe)]
fn normalize_recipient(recipient: &str, consent_type: consent_type) -> String {
    let channel = ConsentType::from(consent_type);
    let type_name = match channel {
        ConsentType::Mesaj => "MESAJ recipient",
        ConsentType::Arama => "ARAMA recipient",
        ConsentType::Eposta => "EPOSTA recipient",
    };
    crate::core::normalize_recipient(recipient, channel)
        .map_err(bad_input(type_name))
        .or_raise()
}

/// `iys.normalize_recipient()` that answers NULL instead of raising: for lookups of what people
/// type (`iys.can_send`), where an address that cannot be normalised simply matches nothing.
#[pg_extern(immutable, strict, parallel_safe)]
fn try_normalize_recipient(recipient: &str, consent_type: consent_type) -> Option<String> {
    crate::core::normalize_recipient(recipient, ConsentType::from(consent_type)).ok()
}

/// A stored value as attach's value maps compare it (trimmed, Unicode lower-case): the
/// statement that queues a row reads mapped permissions and sources through it, exactly as the
/// row check does.
#[pg_extern(immutable, strict, parallel_safe)]
fn fold_value(value: &str) -> String {
    crate::core::mapping::fold(value)
}

/// For CHECK constraints on text columns: whether `iys.normalize_phone()` accepts the text.
#[pg_extern(immutable, strict, parallel_safe)]
fn is_valid_phone(phone_number: &str) -> bool {
    crate::core::normalize_phone(phone_number).is_ok()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn is_valid_email(email_address: &str) -> bool {
    crate::core::normalize_email(email_address).is_ok()
}

/// True for a number in the form of a Turkish mobile, `+905XXXXXXXXX` once normalised (the
/// `iys.mobile` domain's check: a form, never tightened, so that a dump restores). Whether IYS
/// takes it for MESAJ (its numbering plan): `iys.try_normalize_recipient(x, 'MESAJ')`.
#[pg_extern(immutable, strict, parallel_safe)]
fn is_turkish_mobile(phone_number: &str) -> bool {
    crate::core::normalize_phone(phone_number).is_ok_and(|e164| crate::core::phone::has_turkish_mobile_form(&e164))
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn one(sql: &str) -> String {
        Spi::get_one::<String>(sql).unwrap().unwrap_or_else(|| "<null>".into())
    }

    #[pg_test]
    fn phone_type_normalises_what_people_type() {
        for typed in [
            "0532 123 45 67",
            "5321234567",
            "905321234567",
            "+90 (532) 123-45-67",
            "0090532 123 45 67",
            "+905321234567",
        ] {
            assert_eq!(one(&format!("SELECT '{typed}'::iys.phone::text")), "+905321234567", "{typed}");
            assert_eq!(one(&format!("SELECT iys.normalize_phone('{typed}')")), "+905321234567");
            assert_eq!(one(&format!("SELECT '{typed}'::text::iys.phone::text")), "+905321234567");
        }
        assert_eq!(one("SELECT '+49 151 1234 5678'::iys.phone::text"), "+4915112345678");
    }

    #[pg_test(error = "invalid iys.phone value '+9005321234567': a Turkish number has no 0 after +90; write +905321234567, not +9005321234567")]
    fn trunk_zero_after_country_code_is_refused() {
        Spi::run("SELECT '+9005321234567'::iys.phone").unwrap();
    }

    #[pg_test]
    fn phone_comparisons_indexes_and_checks() {
        // iys.phone's operators live in schema iys (see sql/types.sql).
        Spi::run("SET LOCAL search_path = public, iys").unwrap();
        Spi::run(
            "CREATE TEMP TABLE p (id int, gsm iys.phone UNIQUE, mobile iys.mobile);
             CREATE INDEX ON p USING hash (gsm);
             INSERT INTO p VALUES (1, '0532 123 45 67', '0532 123 45 67'), (2, '+90 212 123 45 67', NULL)",
        )
        .unwrap();
        // The literal is normalised by iys.phone's input, then compared byte-wise.
        assert_eq!(one("SELECT id::text FROM p WHERE gsm = '0532-123-45-67'"), "1");
        assert_eq!(one("SELECT id::text FROM p WHERE gsm = '+902121234567'"), "2");
        assert_eq!(one("SELECT string_agg(gsm, ',' ORDER BY gsm) FROM p"), "+902121234567,+905321234567");
        assert_eq!(one("SELECT count(*)::text FROM p WHERE gsm::text LIKE '+90532%'"), "1");
        // The unique index sees the normalised value: another spelling finds the same key.
        assert_eq!(
            one("SELECT count(*)::text FROM p WHERE gsm IN ('05321234567', '5321234567')"),
            "1"
        );
    }

    #[pg_test(error = "value for domain iys.mobile violates check constraint \"turkish_mobile\"")]
    fn mobile_domain_refuses_landlines() {
        Spi::run("SELECT '0212 123 45 67'::iys.mobile").unwrap();
    }

    #[pg_test]
    fn email_type_trims_and_lowercases() {
        Spi::run("SET LOCAL search_path = public, iys").unwrap();
        assert_eq!(one("SELECT '  Ali.Veli@Example.COM '::iys.email::text"), "ali.veli@example.com");
        assert_eq!(one("SELECT iys.normalize_email('X.Y@Firma.Com.TR')"), "x.y@firma.com.tr");
        assert_eq!(
            one("SELECT ('ALI@example.com'::iys.email = 'ali@EXAMPLE.com')::text"),
            "true"
        );
        assert_eq!(one("SELECT iys.is_valid_email('şule@example.com')::text"), "false");
        assert_eq!(one("SELECT iys.is_valid_phone('0532 123 45 67')::text"), "true");
        assert_eq!(one("SELECT iys.is_turkish_mobile('0212 123 45 67')::text"), "false");
        assert_eq!(
            one("SELECT iys.normalize_recipient('0532 123 45 67', 'MESAJ')"),
            "+905321234567"
        );
    }

    #[pg_test(error = "invalid MESAJ recipient value '+4915112345678': +4915112345678 is not a Turkish number; MESAJ consents need a Turkish mobile number (+905XXXXXXXXX)")]
    fn mesaj_needs_a_turkish_mobile() {
        Spi::run("SELECT iys.normalize_recipient('+4915112345678', 'MESAJ')").unwrap();
    }
}
