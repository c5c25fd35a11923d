//! SQL enums `iys.consent_type`, `iys.consent_status`, `iys.recipient_type`,
//! `iys.consent_source`, and the lenient text conversions behind `iys.to_*()` and the
//! `text::iys.<enum>` casts (sql/types.sql).
//!
//! The enums are pgrx `PostgresEnum`s so that Rust functions can take them as arguments; their
//! labels are the variant identifiers, spelled exactly as IYS spells them, in IYS's order. The
//! Rust type names are lower-case because pgrx uses them as the SQL type names. The text → enum
//! conversions (`iys.to_*()`, behind the `text::iys.<enum>` casts) are plain C-convention
//! functions that return the label's `pg_enum` OID for the function's declared result type
//! (never a type name looked up through `search_path`), so a cast in the generated enqueue
//! statement is one function call rather than a SQL function or a CASE over every label.

#![allow(non_camel_case_types)]

use crate::core::{ConsentSource, ConsentStatus, ConsentType, Error, RecipientType};
use crate::sql_api::error::OrRaise;
use pgrx::prelude::*;

/// `iys.consent_type`: the channel of a consent.
#[derive(PostgresEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum consent_type {
    MESAJ,
    ARAMA,
    EPOSTA,
}

/// `iys.consent_status`.
#[derive(PostgresEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum consent_status {
    ONAY,
    RET,
}

/// `iys.recipient_type`: BIREYSEL (a private person, IYS's default) or TACIR (a merchant).
#[derive(PostgresEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum recipient_type {
    BIREYSEL,
    TACIR,
}

/// `iys.consent_source`: the 13 HS_* values a service provider may send, then the IYS_* values
/// only IYS sets (seen when pulling). Same order as `core::ConsentSource::ALL`.
#[derive(PostgresEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum consent_source {
    HS_FIZIKSEL_ORTAM,
    HS_ISLAK_IMZA,
    HS_WEB,
    HS_CAGRI_MERKEZI,
    HS_SOSYAL_MEDYA,
    HS_EPOSTA,
    HS_MESAJ,
    HS_MOBIL,
    HS_EORTAM,
    HS_ETKINLIK,
    HS_2015,
    HS_ATM,
    HS_KARAR,
    IYS_KISAMESAJ,
    IYS_CM,
    IYS_WEB,
    IYS_WEB_YENI,
    IYS_MOBIL,
    IYS_EPOSTA,
    IYS_AHS_HAT_KAPATMA,
    IYS_FRAME_EPOSTA,
    IYS_FRAME_SMS,
}

impl From<consent_type> for ConsentType {
    fn from(t: consent_type) -> ConsentType {
        match t {
            consent_type::MESAJ => ConsentType::Mesaj,
            consent_type::ARAMA => ConsentType::Arama,
            consent_type::EPOSTA => ConsentType::Eposta,
        }
    }
}

impl From<consent_status> for ConsentStatus {
    fn from(s: consent_status) -> ConsentStatus {
        match s {
            consent_status::ONAY => ConsentStatus::Onay,
            consent_status::RET => ConsentStatus::Ret,
        }
    }
}

impl From<recipient_type> for RecipientType {
    fn from(t: recipient_type) -> RecipientType {
        match t {
            recipient_type::BIREYSEL => RecipientType::Bireysel,
            recipient_type::TACIR => RecipientType::Tacir,
        }
    }
}

/// IYS's spelling of `raw` as an `iys.consent_type` label; 22P02 listing the allowed values.
#[pg_extern(immutable, strict, parallel_safe)]
fn canonical_consent_type(raw: &str) -> &'static str {
    ConsentType::parse(raw).or_raise().as_str()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn canonical_consent_status(raw: &str) -> &'static str {
    ConsentStatus::parse(raw).or_raise().as_str()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn canonical_recipient_type(raw: &str) -> &'static str {
    RecipientType::parse(raw).or_raise().as_str()
}

/// Known sources only: an unknown `IYS_*` name (which `core` keeps leniently for pulls) has no
/// label in the enum, so it is refused like any other unknown value.
#[pg_extern(immutable, strict, parallel_safe)]
fn canonical_consent_source(raw: &str) -> String {
    known_source(raw).as_str().to_owned()
}

fn known_source(raw: &str) -> ConsentSource {
    match ConsentSource::parse(raw).or_raise() {
        ConsentSource::IysOther(_) => crate::sql_api::error::raise(&Error::BadEnum {
            type_name: ConsentSource::SQL_TYPE,
            value: raw.trim().to_owned(),
            allowed: ConsentSource::ALL,
        }),
        source => source,
    }
}

/// The `pg_enum` OIDs a conversion call site has resolved, kept in its `FmgrInfo` (`fn_extra`)
/// so that each label is looked up once per expression, not once per row.
#[repr(C)]
struct ResolvedLabels {
    enum_type: pg_sys::Oid,
    oids: [pg_sys::Oid; 32],
}

/// The `pg_enum` OID of `label`, one of `labels`, of the function's result type.
///
/// # Safety
/// `fcinfo` is the call's, from the function manager (its `flinfo` set).
unsafe fn enum_label_datum(fcinfo: pg_sys::FunctionCallInfo, labels: &[&str], label: &str) -> pg_sys::Datum {
    let index = labels.iter().position(|l| *l == label).expect("a parsed value is one of the type's labels");
    let flinfo = (*fcinfo).flinfo;
    let mut resolved = (*flinfo).fn_extra as *mut ResolvedLabels;
    if resolved.is_null() {
        resolved = pg_sys::MemoryContextAllocZero((*flinfo).fn_mcxt, std::mem::size_of::<ResolvedLabels>()) as *mut ResolvedLabels;
        (*resolved).enum_type = pg_sys::get_func_rettype((*flinfo).fn_oid);
        (*flinfo).fn_extra = resolved as *mut std::ffi::c_void;
    }
    let slot = &mut (*resolved).oids[index];
    if *slot == pg_sys::InvalidOid {
        let label = std::ffi::CString::new(label).expect("no NUL in an enum label");
        *slot = pgrx::direct_function_call::<pg_sys::Oid>(
            pg_sys::enum_in,
            &[Some(pg_sys::Datum::from(label.as_ptr())), (*resolved).enum_type.into_datum()],
        )
        .expect("enum_in returns a label's OID");
    }
    pg_sys::Datum::from(*slot)
}

/// PG_FUNCTION_INFO_V1 for a C function declared in sql/types.sql.
macro_rules! function_info_v1 {
    ($finfo:ident) => {
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static pg_sys::Pg_finfo_record {
            const V1_API: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1_API
        }
    };
}

/// `iys.to_*(text)` (sql/types.sql, STRICT): `$label` is the label `$raw` reads as.
macro_rules! text_to_enum {
    ($symbol:ident, $finfo:ident, $labels:expr, $raw:ident => $label:expr) => {
        function_info_v1!($finfo);

        #[pg_guard]
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $symbol(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
            let $raw: &str = pgrx::fcinfo::pg_getarg(fcinfo, 0).expect("a STRICT function's argument is not NULL");
            enum_label_datum(fcinfo, $labels, $label)
        }
    };
}

text_to_enum!(iys_to_consent_type, pg_finfo_iys_to_consent_type, ConsentType::ALL, raw => canonical_consent_type(raw));
text_to_enum!(iys_to_consent_status, pg_finfo_iys_to_consent_status, ConsentStatus::ALL, raw => canonical_consent_status(raw));
text_to_enum!(iys_to_recipient_type, pg_finfo_iys_to_recipient_type, RecipientType::ALL, raw => canonical_recipient_type(raw));
text_to_enum!(iys_to_consent_source, pg_finfo_iys_to_consent_source, ConsentSource::ALL, raw => known_source(raw).as_str());

/// The SQL name of [`iys_recipient_type_or`].
pub const RECIPIENT_TYPE_OR: &str = "iys_internal.recipient_type_or";

function_info_v1!(pg_finfo_iys_recipient_type_or);

/// `iys_internal.recipient_type_or(value text, otherwise iys.recipient_type)`: the contact type
/// as `RecipientType::parse` reads it (the row check's reading), `otherwise` when it is NULL or
/// no recipient type (an opt-out goes with the default type). Not STRICT.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn iys_recipient_type_or(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    match pgrx::fcinfo::pg_getarg::<&str>(fcinfo, 0).and_then(|raw| RecipientType::parse(raw).ok()) {
        Some(t) => enum_label_datum(fcinfo, RecipientType::ALL, t.as_str()),
        None => {
            let otherwise = pgrx::fcinfo::pg_getarg_datum(fcinfo, 1);
            (*fcinfo).isnull = otherwise.is_none();
            otherwise.unwrap_or(pg_sys::Datum::from(0))
        }
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn enum_labels_are_exactly_iys_spelling_in_order() {
        use crate::core::{ConsentSource, ConsentStatus, ConsentType, RecipientType};
        for (sql_type, expected) in [
            ("iys.consent_type", ConsentType::ALL),
            ("iys.consent_status", ConsentStatus::ALL),
            ("iys.recipient_type", RecipientType::ALL),
            ("iys.consent_source", ConsentSource::ALL),
        ] {
            let labels = Spi::get_one::<String>(&format!(
                "SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder)
                   FROM pg_enum WHERE enumtypid = '{sql_type}'::regtype"
            ))
            .unwrap()
            .unwrap();
            assert_eq!(labels, expected.join(","), "{sql_type}");
        }
    }

    #[pg_test]
    fn to_functions_and_casts_are_lenient() {
        let row = Spi::get_one::<String>(
            "SELECT concat_ws(' ', iys.to_consent_type(' eposta '), iys.to_consent_status('Onay'),
                    iys.to_recipient_type('tacır'), iys.to_consent_source('hs çağrı merkezi'),
                    'mesaj'::text::iys.consent_type, 'BİREYSEL'::text::iys.recipient_type)",
        )
        .unwrap()
        .unwrap();
        assert_eq!(row, "EPOSTA ONAY TACIR HS_CAGRI_MERKEZI MESAJ BIREYSEL");
    }

    #[pg_test]
    fn casts_resolve_each_label_of_a_column() {
        // One call site converts several labels (each resolved once and kept for the next rows).
        let row = Spi::get_one::<String>(
            "SELECT string_agg(v::iys.consent_source::text || '/' || s::iys.consent_status::text, ' ' ORDER BY n)
               FROM (VALUES (1, 'hs_web', 'ret'), (2, ' HS_MESAJ ', 'ONAY'), (3, 'hs web', 'Onay'), (4, 'iys_mobil', 'RET')) t(n, v, s)",
        )
        .unwrap()
        .unwrap();
        assert_eq!(row, "HS_WEB/RET HS_MESAJ/ONAY HS_WEB/ONAY IYS_MOBIL/RET");
    }

    #[pg_test]
    fn recipient_type_or_reads_like_the_row_check() {
        let row = Spi::get_one::<String>(
            "SELECT concat_ws(' ', iys_internal.recipient_type_or(' Tacır ', 'BIREYSEL'),
                    iys_internal.recipient_type_or('kurumsal', 'BIREYSEL'), iys_internal.recipient_type_or(NULL, 'TACIR'),
                    coalesce(iys_internal.recipient_type_or('x', NULL)::text, 'null'))",
        )
        .unwrap()
        .unwrap();
        assert_eq!(row, "TACIR BIREYSEL TACIR null");
    }

    #[pg_test(error = "invalid value 'SMS' for iys.consent_type; allowed: MESAJ, ARAMA, EPOSTA")]
    fn bad_consent_type_lists_allowed_values() {
        Spi::run("SELECT iys.to_consent_type('SMS')").unwrap();
    }

    #[pg_test(error = "invalid value 'iys_yeni' for iys.consent_source; allowed: HS_FIZIKSEL_ORTAM, HS_ISLAK_IMZA, HS_WEB, HS_CAGRI_MERKEZI, HS_SOSYAL_MEDYA, HS_EPOSTA, HS_MESAJ, HS_MOBIL, HS_EORTAM, HS_ETKINLIK, HS_2015, HS_ATM, HS_KARAR, IYS_KISAMESAJ, IYS_CM, IYS_WEB, IYS_WEB_YENI, IYS_MOBIL, IYS_EPOSTA, IYS_AHS_HAT_KAPATMA, IYS_FRAME_EPOSTA, IYS_FRAME_SMS")]
    fn unknown_iys_source_is_not_an_enum_value() {
        Spi::run("SELECT 'iys_yeni'::text::iys.consent_source").unwrap();
    }
}
