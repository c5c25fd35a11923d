//! The consent vocabulary of IYS: consent type, status, recipient type and source.
//!
//! Every enum parses leniently — surrounding whitespace is ignored, letters match in any case,
//! and Turkish letters fold to their ASCII base (`BİREYSEL`, `tacır`, `HS_ÇAĞRI_MERKEZİ` are
//! what a Turkish keyboard or locale produces) — and always prints IYS's canonical spelling.
//! `-` and spaces are accepted for `_` (`hs fiziksel ortam`).

use std::fmt;
use std::str::FromStr;

use super::error::Error;
use super::problem::Problem;

/// Compares user text with a canonical upper-case ASCII value, folding case and Turkish
/// letters, without allocating.
pub(crate) fn matches_folded(input: &str, canonical: &str) -> bool {
    let mut expected = canonical.bytes();
    for c in input.chars() {
        match (fold_char(c), expected.next()) {
            (Some(got), Some(want)) if got == want => {}
            _ => return false,
        }
    }
    expected.next().is_none()
}

/// Upper-case ASCII form of a character of an enum value, or None when it cannot be part of one.
fn fold_char(c: char) -> Option<u8> {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => Some(c.to_ascii_uppercase() as u8),
        ' ' | '-' => Some(b'_'),
        'ç' | 'Ç' => Some(b'C'),
        'ğ' | 'Ğ' => Some(b'G'),
        'ı' | 'İ' => Some(b'I'),
        'ö' | 'Ö' => Some(b'O'),
        'ş' | 'Ş' => Some(b'S'),
        'ü' | 'Ü' => Some(b'U'),
        _ => None,
    }
}

/// serde visitor that accepts a string and parses it with the type's own lenient parser.
struct ParseVisitor<T> {
    parse: fn(&str) -> Result<T, Error>,
    expecting: &'static str,
}

impl<T> serde::de::Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

/// Declares a closed IYS enum with its canonical texts, parser, Display/FromStr and serde.
macro_rules! iys_enum {
    (
        $(#[$meta:meta])*
        $name:ident, sql = $sql:literal, iys_code = $code:literal,
        { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Canonical texts, in declaration order.
            pub const ALL: &'static [&'static str] = &[$($text),+];
            /// Every variant, in declaration order.
            pub const VARIANTS: &'static [$name] = &[$($name::$variant),+];
            /// Name of the matching SQL enum type.
            pub const SQL_TYPE: &'static str = $sql;
            /// IYS code for a wrong value of this field.
            pub const IYS_CODE: &'static str = $code;

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Trimmed, case- and Turkish-letter-insensitive parse.
            pub fn parse(raw: &str) -> Result<$name, Error> {
                let trimmed = raw.trim();
                // The canonical spelling first (what most rows hold), then the folded comparison.
                $(
                    if trimmed == $text {
                        return Ok($name::$variant);
                    }
                )+
                $(
                    if matches_folded(trimmed, $text) {
                        return Ok($name::$variant);
                    }
                )+
                Err(Error::BadEnum { type_name: $sql, value: trimmed.to_owned(), allowed: $name::ALL })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<$name, Error> {
                $name::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                d.deserialize_str(ParseVisitor { parse: $name::parse, expecting: $sql })
            }
        }
    };
}

iys_enum! {
    /// The channel a consent is for.
    ConsentType, sql = "iys.consent_type", iys_code = "H117",
    {
        /// SMS and other messages to a phone number.
        Mesaj => "MESAJ",
        /// Voice calls to a phone number.
        Arama => "ARAMA",
        /// E-mail.
        Eposta => "EPOSTA",
    }
}

iys_enum! {
    /// Whether the recipient agreed (ONAY) or refused (RET).
    ConsentStatus, sql = "iys.consent_status", iys_code = "H115",
    {
        Onay => "ONAY",
        Ret => "RET",
    }
}

iys_enum! {
    /// Whether the consent was given as a private person or as a merchant.
    RecipientType, sql = "iys.recipient_type", iys_code = "H116",
    {
        Bireysel => "BIREYSEL",
        Tacir => "TACIR",
    }
}

impl ConsentType {
    /// True for the channels whose recipient is a phone number.
    pub fn uses_phone(self) -> bool {
        !matches!(self, ConsentType::Eposta)
    }
}

impl Default for RecipientType {
    /// IYS's default when `recipientType` is omitted.
    fn default() -> RecipientType {
        RecipientType::Bireysel
    }
}

/// Where a consent was collected. `HS_*` values are the only ones a service provider may send;
/// `IYS_*` values are set by IYS and only seen when pulling changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsentSource {
    HsFizikselOrtam,
    HsIslakImza,
    HsEtkinlik,
    HsAtm,
    HsEortam,
    HsWeb,
    HsMobil,
    HsMesaj,
    HsEposta,
    HsCagriMerkezi,
    HsSosyalMedya,
    /// Consent recorded before 1 May 2015; its date is always 2015-05-01 00:00:00.
    Hs2015,
    /// The service provider itself set the consent to RET.
    HsKarar,
    IysKisamesaj,
    IysCm,
    IysWeb,
    IysWebYeni,
    IysMobil,
    IysEposta,
    IysAhsHatKapatma,
    IysFrameEposta,
    IysFrameSms,
    /// An `IYS_*` source this version does not know yet (stored upper-case).
    IysOther(String),
}

impl ConsentSource {
    /// The 13 values a service provider may send (IYS's order in H119).
    pub const INPUT: &'static [&'static str] = &[
        "HS_FIZIKSEL_ORTAM",
        "HS_ISLAK_IMZA",
        "HS_WEB",
        "HS_CAGRI_MERKEZI",
        "HS_SOSYAL_MEDYA",
        "HS_EPOSTA",
        "HS_MESAJ",
        "HS_MOBIL",
        "HS_EORTAM",
        "HS_ETKINLIK",
        "HS_2015",
        "HS_ATM",
        "HS_KARAR",
    ];

    /// Every known value: the 13 `HS_*` followed by the 9 `IYS_*`.
    pub const ALL: &'static [&'static str] = &[
        "HS_FIZIKSEL_ORTAM",
        "HS_ISLAK_IMZA",
        "HS_WEB",
        "HS_CAGRI_MERKEZI",
        "HS_SOSYAL_MEDYA",
        "HS_EPOSTA",
        "HS_MESAJ",
        "HS_MOBIL",
        "HS_EORTAM",
        "HS_ETKINLIK",
        "HS_2015",
        "HS_ATM",
        "HS_KARAR",
        "IYS_KISAMESAJ",
        "IYS_CM",
        "IYS_WEB",
        "IYS_WEB_YENI",
        "IYS_MOBIL",
        "IYS_EPOSTA",
        "IYS_AHS_HAT_KAPATMA",
        "IYS_FRAME_EPOSTA",
        "IYS_FRAME_SMS",
    ];

    pub const SQL_TYPE: &'static str = "iys.consent_source";
    pub const IYS_CODE: &'static str = "H119";

    pub fn as_str(&self) -> &str {
        match self {
            ConsentSource::HsFizikselOrtam => "HS_FIZIKSEL_ORTAM",
            ConsentSource::HsIslakImza => "HS_ISLAK_IMZA",
            ConsentSource::HsEtkinlik => "HS_ETKINLIK",
            ConsentSource::HsAtm => "HS_ATM",
            ConsentSource::HsEortam => "HS_EORTAM",
            ConsentSource::HsWeb => "HS_WEB",
            ConsentSource::HsMobil => "HS_MOBIL",
            ConsentSource::HsMesaj => "HS_MESAJ",
            ConsentSource::HsEposta => "HS_EPOSTA",
            ConsentSource::HsCagriMerkezi => "HS_CAGRI_MERKEZI",
            ConsentSource::HsSosyalMedya => "HS_SOSYAL_MEDYA",
            ConsentSource::Hs2015 => "HS_2015",
            ConsentSource::HsKarar => "HS_KARAR",
            ConsentSource::IysKisamesaj => "IYS_KISAMESAJ",
            ConsentSource::IysCm => "IYS_CM",
            ConsentSource::IysWeb => "IYS_WEB",
            ConsentSource::IysWebYeni => "IYS_WEB_YENI",
            ConsentSource::IysMobil => "IYS_MOBIL",
            ConsentSource::IysEposta => "IYS_EPOSTA",
            ConsentSource::IysAhsHatKapatma => "IYS_AHS_HAT_KAPATMA",
            ConsentSource::IysFrameEposta => "IYS_FRAME_EPOSTA",
            ConsentSource::IysFrameSms => "IYS_FRAME_SMS",
            ConsentSource::IysOther(name) => name,
        }
    }

    fn from_canonical(canonical: &str) -> Option<ConsentSource> {
        Some(match canonical {
            "HS_FIZIKSEL_ORTAM" => ConsentSource::HsFizikselOrtam,
            "HS_ISLAK_IMZA" => ConsentSource::HsIslakImza,
            "HS_ETKINLIK" => ConsentSource::HsEtkinlik,
            "HS_ATM" => ConsentSource::HsAtm,
            "HS_EORTAM" => ConsentSource::HsEortam,
            "HS_WEB" => ConsentSource::HsWeb,
            "HS_MOBIL" => ConsentSource::HsMobil,
            "HS_MESAJ" => ConsentSource::HsMesaj,
            "HS_EPOSTA" => ConsentSource::HsEposta,
            "HS_CAGRI_MERKEZI" => ConsentSource::HsCagriMerkezi,
            "HS_SOSYAL_MEDYA" => ConsentSource::HsSosyalMedya,
            "HS_2015" => ConsentSource::Hs2015,
            "HS_KARAR" => ConsentSource::HsKarar,
            "IYS_KISAMESAJ" => ConsentSource::IysKisamesaj,
            "IYS_CM" => ConsentSource::IysCm,
            "IYS_WEB" => ConsentSource::IysWeb,
            "IYS_WEB_YENI" => ConsentSource::IysWebYeni,
            "IYS_MOBIL" => ConsentSource::IysMobil,
            "IYS_EPOSTA" => ConsentSource::IysEposta,
            "IYS_AHS_HAT_KAPATMA" => ConsentSource::IysAhsHatKapatma,
            "IYS_FRAME_EPOSTA" => ConsentSource::IysFrameEposta,
            "IYS_FRAME_SMS" => ConsentSource::IysFrameSms,
            _ => return None,
        })
    }

    /// Parses any source, as seen in our tables or in IYS pulls. An unknown `IYS_*` name made
    /// of ASCII letters, digits and `_` is accepted as [`ConsentSource::IysOther`].
    pub fn parse(raw: &str) -> Result<ConsentSource, Error> {
        let trimmed = raw.trim();
        // The canonical spelling first (what most rows hold), then the folded comparison.
        if let Some(canonical) = ConsentSource::ALL
            .iter()
            .find(|c| **c == trimmed)
            .or_else(|| ConsentSource::ALL.iter().find(|c| matches_folded(trimmed, c)))
        {
            if let Some(source) = ConsentSource::from_canonical(canonical) {
                return Ok(source);
            }
        }
        if is_unknown_iys_name(trimmed) {
            return Ok(ConsentSource::IysOther(trimmed.to_ascii_uppercase()));
        }
        Err(Error::BadEnum {
            type_name: ConsentSource::SQL_TYPE,
            value: trimmed.to_owned(),
            allowed: ConsentSource::ALL,
        })
    }

    /// Parses a source we are about to send: only the 13 `HS_*` values pass; anything else,
    /// including every `IYS_*` value, is problem H119.
    pub fn parse_input(raw: &str) -> Result<ConsentSource, Problem> {
        match ConsentSource::parse(raw) {
            Ok(source) if source.is_input() => Ok(source),
            Ok(source) => Err(Problem::new(
                "H119",
                "source",
                raw.trim(),
                format!(
                    "source {} is set by IYS only and cannot be sent; use one of {}",
                    source.as_str(),
                    ConsentSource::INPUT.join(", ")
                ),
            )),
            Err(_) => Err(Problem::new(
                "H119",
                "source",
                raw.trim(),
                format!(
                    "unknown source; use one of {}",
                    ConsentSource::INPUT.join(", ")
                ),
            )),
        }
    }

    /// True for the 13 `HS_*` values a service provider may send.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            ConsentSource::HsFizikselOrtam
                | ConsentSource::HsIslakImza
                | ConsentSource::HsEtkinlik
                | ConsentSource::HsAtm
                | ConsentSource::HsEortam
                | ConsentSource::HsWeb
                | ConsentSource::HsMobil
                | ConsentSource::HsMesaj
                | ConsentSource::HsEposta
                | ConsentSource::HsCagriMerkezi
                | ConsentSource::HsSosyalMedya
                | ConsentSource::Hs2015
                | ConsentSource::HsKarar
        )
    }
}

/// `IYS_` followed by at least one ASCII letter, digit or `_` (any case).
fn is_unknown_iys_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() > 4
        && bytes[..4].eq_ignore_ascii_case(b"IYS_")
        && bytes[4..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

impl fmt::Display for ConsentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConsentSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<ConsentSource, Error> {
        ConsentSource::parse(s)
    }
}

impl serde::Serialize for ConsentSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ConsentSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ConsentSource, D::Error> {
        d.deserialize_str(ParseVisitor {
            parse: ConsentSource::parse,
            expecting: ConsentSource::SQL_TYPE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;

    fn deserialize<'de, T: serde::Deserialize<'de>>(
        s: &'de str,
    ) -> Result<T, serde::de::value::Error> {
        T::deserialize(s.into_deserializer())
    }

    #[test]
    fn simple_enums_round_trip() {
        for (i, text) in ConsentType::ALL.iter().enumerate() {
            assert_eq!(ConsentType::parse(text).unwrap(), ConsentType::VARIANTS[i]);
            assert_eq!(ConsentType::VARIANTS[i].as_str(), *text);
            assert_eq!(ConsentType::VARIANTS[i].to_string(), *text);
        }
        for (i, text) in ConsentStatus::ALL.iter().enumerate() {
            assert_eq!(
                ConsentStatus::parse(text).unwrap(),
                ConsentStatus::VARIANTS[i]
            );
        }
        for (i, text) in RecipientType::ALL.iter().enumerate() {
            assert_eq!(
                RecipientType::parse(text).unwrap(),
                RecipientType::VARIANTS[i]
            );
        }
        assert_eq!(ConsentType::ALL, ["MESAJ", "ARAMA", "EPOSTA"]);
        assert_eq!(RecipientType::default(), RecipientType::Bireysel);
    }

    #[test]
    fn parse_trims_and_ignores_case_and_turkish_letters() {
        assert_eq!(
            ConsentType::parse("  eposta\t").unwrap(),
            ConsentType::Eposta
        );
        assert_eq!(ConsentType::parse("Mesaj").unwrap(), ConsentType::Mesaj);
        assert_eq!(ConsentStatus::parse("onay").unwrap(), ConsentStatus::Onay);
        assert_eq!(
            RecipientType::parse("BİREYSEL").unwrap(),
            RecipientType::Bireysel
        );
        assert_eq!(
            RecipientType::parse("bıreysel").unwrap(),
            RecipientType::Bireysel
        );
        assert_eq!(RecipientType::parse("TACİR").unwrap(), RecipientType::Tacir);
        assert_eq!("arama".parse::<ConsentType>().unwrap(), ConsentType::Arama);
        assert_eq!(
            ConsentSource::parse("HS_ÇAĞRI_MERKEZİ").unwrap(),
            ConsentSource::HsCagriMerkezi
        );
        assert_eq!(
            ConsentSource::parse("hs fiziksel-ortam").unwrap(),
            ConsentSource::HsFizikselOrtam
        );
    }

    #[test]
    fn bad_values_list_allowed_ones() {
        match ConsentType::parse(" SMS ") {
            Err(Error::BadEnum {
                type_name,
                value,
                allowed,
            }) => {
                assert_eq!(type_name, "iys.consent_type");
                assert_eq!(value, "SMS");
                assert_eq!(allowed, ConsentType::ALL);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(ConsentStatus::parse("ONAYY").is_err());
        assert!(ConsentStatus::parse("").is_err());
        assert!(RecipientType::parse("BIREYSL").is_err());
        assert!(ConsentType::parse("MESAJX").is_err());
        assert!(ConsentType::parse("MESA").is_err());
        let e = ConsentSource::parse("HS_201").unwrap_err();
        assert!(e.to_string().contains("HS_2015"), "{e}");
    }

    #[test]
    fn consent_source_knows_all_22_values() {
        assert_eq!(ConsentSource::INPUT.len(), 13);
        assert_eq!(ConsentSource::ALL.len(), 22);
        for text in ConsentSource::ALL {
            let source = ConsentSource::parse(text).unwrap();
            assert_eq!(source.as_str(), *text);
            assert_eq!(source.is_input(), text.starts_with("HS_"), "{text}");
            assert!(!matches!(source, ConsentSource::IysOther(_)), "{text}");
        }
        for text in ConsentSource::INPUT {
            assert!(ConsentSource::ALL.contains(text));
        }
    }

    #[test]
    fn unknown_iys_sources_are_kept() {
        assert_eq!(
            ConsentSource::parse(" iys_yeni_kanal ").unwrap(),
            ConsentSource::IysOther("IYS_YENI_KANAL".into())
        );
        assert!(ConsentSource::parse("IYS_").is_err());
        assert!(ConsentSource::parse("IYS_ŞUBE").is_err());
        assert!(ConsentSource::parse("HS_YENI").is_err());
        assert!(!ConsentSource::IysOther("IYS_X".into()).is_input());
    }

    #[test]
    fn parse_input_refuses_iys_sources_with_h119() {
        assert_eq!(
            ConsentSource::parse_input(" hs_web ").unwrap(),
            ConsentSource::HsWeb
        );
        assert_eq!(
            ConsentSource::parse_input("HS_2015").unwrap(),
            ConsentSource::Hs2015
        );
        for raw in [
            "IYS_WEB",
            "IYS_KISAMESAJ",
            "IYS_NEW_THING",
            "HS_201",
            "",
            "WEB",
        ] {
            let p = ConsentSource::parse_input(raw).unwrap_err();
            assert_eq!(p.code, "H119", "{raw}");
            assert_eq!(p.field, "source");
            assert!(p.message_tr.starts_with("İzin kaynağı (source)"));
        }
        let p = ConsentSource::parse_input("IYS_WEB").unwrap_err();
        assert!(p.message_en.contains("set by IYS only"), "{}", p.message_en);
    }

    #[test]
    fn serde_uses_canonical_text() {
        assert_eq!(
            deserialize::<ConsentType>("EPOSTA").unwrap(),
            ConsentType::Eposta
        );
        assert_eq!(
            deserialize::<ConsentStatus>("ret").unwrap(),
            ConsentStatus::Ret
        );
        assert_eq!(
            deserialize::<RecipientType>("TACIR").unwrap(),
            RecipientType::Tacir
        );
        assert_eq!(
            deserialize::<ConsentSource>("IYS_FRAME_SMS").unwrap(),
            ConsentSource::IysFrameSms
        );
        assert_eq!(
            deserialize::<ConsentSource>("IYS_SOMETHING").unwrap(),
            ConsentSource::IysOther("IYS_SOMETHING".into())
        );
        let err = deserialize::<ConsentType>("FAX").unwrap_err().to_string();
        assert!(err.contains("FAX") && err.contains("MESAJ"), "{err}");
    }

    #[test]
    fn uses_phone() {
        assert!(ConsentType::Mesaj.uses_phone());
        assert!(ConsentType::Arama.uses_phone());
        assert!(!ConsentType::Eposta.uses_phone());
    }
}
