//! SQL enums `iys.consent_type`, `iys.consent_status`, `iys.recipient_type`,
//! `iys.consent_source`, and the lenient text conversions behind `iys.to_*()` and the
//! `text::iys.<enum>` casts (sql/types.sql).
//!
//! The enums are pgrx `PostgresEnum`s so that Rust functions can take them as arguments; their
//! labels are the variant identifiers, spelled exactly as IYS spells them, in IYS's order. The
//! Rust type names are lower-case because pgrx uses them as the SQL type names. pg_iys never
//! *returns* these enums from Rust (pgrx would resolve the type name through `search_path`);
//! text → enum happens in SQL (`iys.canonical_*()::iys.<enum>`), see sql/types.sql.

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
    match ConsentSource::parse(raw).or_raise() {
        ConsentSource::IysOther(_) => crate::sql_api::error::raise(&Error::BadEnum {
            type_name: ConsentSource::SQL_TYPE,
            value: raw.trim().to_owned(),
            allowed: ConsentSource::ALL,
        }),
        source => source.as_str().to_owned(),
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

    #[pg_test(error = "invalid value 'SMS' for iys.consent_type; allowed: MESAJ, ARAMA, EPOSTA")]
    fn bad_consent_type_lists_allowed_values() {
        Spi::run("SELECT iys.to_consent_type('SMS')").unwrap();
    }

    #[pg_test(error = "invalid value 'iys_yeni' for iys.consent_source; allowed: HS_FIZIKSEL_ORTAM, HS_ISLAK_IMZA, HS_WEB, HS_CAGRI_MERKEZI, HS_SOSYAL_MEDYA, HS_EPOSTA, HS_MESAJ, HS_MOBIL, HS_EORTAM, HS_ETKINLIK, HS_2015, HS_ATM, HS_KARAR, IYS_KISAMESAJ, IYS_CM, IYS_WEB, IYS_WEB_YENI, IYS_MOBIL, IYS_EPOSTA, IYS_AHS_HAT_KAPATMA, IYS_FRAME_EPOSTA, IYS_FRAME_SMS")]
    fn unknown_iys_source_is_not_an_enum_value() {
        Spi::run("SELECT 'iys_yeni'::text::iys.consent_source").unwrap();
    }
}
