//! `iys.validate_table()`: which rows of a master_contact-shaped table IYS would refuse, and why.
//!
//! One truth with the triggers: the mapping is parsed by the same parser as `iys.attach` (an
//! attached table is read with its own attachment's mapping and brand), the columns are checked
//! as attach checks them (a refusal is the first result, `PGIYS_MAPPING`), and every row is
//! decided by the row trigger's own decision (`core::row`) as an INSERT of it now. So the rows
//! reported are exactly those the trigger would refuse or keep back, with two deliberate
//! differences: the reporting window (H467) only with `check_window => true` (most rows of a
//! live table were collected long ago), and text date columns are read (attach refuses them)
//! so that the DBA sees which values would not convert.
//!
//! The table is read with one SPI cursor in chunks of [`CHUNK_ROWS`] (each chunk's tuples are
//! freed before the next). Long scans report progress as NOTICEs every `progress_rows` rows.

use crate::core::channel::ChannelDecision;
use crate::core::mapping::TableMapping;
use crate::core::row::{delivery_problems, Delivery, RowReader, Slot, StoredChannel, StoredRow};
use crate::core::{parse_iys_datetime, Calendar, Error, Problem};
use crate::sql_api::attach;
use crate::sql_api::error::{raise, OrRaise};
use crate::sql_api::{calendar, time};
use chrono::NaiveDateTime;
use pgrx::datum::{JsonB, Timestamp, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::quote_identifier;
use pgrx::PgRelation;
use std::time::Instant;

/// Rows fetched per SPI round trip.
const CHUNK_ROWS: i64 = 10_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum DateKind {
    /// The SELECT yields a `timestamp` in Turkey time.
    Timestamp,
    /// The SELECT yields text, parsed as IYS's `YYYY-MM-DD HH:mm:ss` (a text column, which
    /// attach refuses; read so that the DBA sees which rows would not convert).
    Text,
}

/// Where one channel's columns land in the SELECT (1-based; no source column: None).
struct ChannelScan {
    address: usize,
    permission: usize,
    date: (usize, DateKind),
    source: Option<usize>,
}

/// The scan plan: the SELECT, where each value lands, and the mapping the row trigger reads.
struct Plan {
    query: String,
    row_id_pos: Option<usize>,
    reader: RowReader,
    /// The attachment's brand code, the default of rows without their own.
    table_brand: Option<String>,
    /// The attachment's on_invalid is 'keep' (an unattached table: attach's default, 'reject').
    keep: bool,
    contact_type_pos: Option<usize>,
    brand_pos: Option<usize>,
    retailer_code_pos: Option<usize>,
    retailer_access_pos: Option<usize>,
    channels: Vec<ChannelScan>,
    /// What `iys.attach` would refuse in the table's columns, reported before the rows.
    layout_problem: Option<Error>,
}

fn plan(tbl: &PgRelation, mapping: Option<&serde_json::Value>) -> Plan {
    let oid = tbl.oid();
    let (table_name, relkind, pk) = Spi::connect(|client| {
        // Qualified unless on this function's search path (pg_catalog, pg_temp).
        let table_name: String = client.select("SELECT $1::regclass::text", None, &[oid.into()])?.first().get(1)?.unwrap_or_default();
        let relkind: String = client
            .select("SELECT relkind::text FROM pg_catalog.pg_class WHERE oid = $1", None, &[oid.into()])?
            .first()
            .get(1)?
            .unwrap_or_default();
        let pk = client
            .select(
                "SELECT a.attname::text FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = $1 AND i.indisprimary
                  ORDER BY array_position(i.indkey::int2[], a.attnum)",
                None,
                &[oid.into()],
            )?
            .map(|r| Ok(r.get::<String>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()?;
        Ok::<_, pgrx::spi::Error>((table_name, relkind, pk))
    })
    .map_err(|e| Error::Internal(format!("reading the catalog failed: {e}")))
    .or_raise();
    let columns = attach::table_columns(oid).or_raise();

    // An attached table is read with its attachment's mapping and brand unless told otherwise:
    // then validate_table and the triggers read it the same way.
    let attachment = attach::load_attachment(oid).or_raise();
    let mapping_json = match (mapping, &attachment) {
        (Some(mapping), _) => Some(mapping.to_string()),
        (None, Some(attachment)) => Some(attachment.mapping_json.clone()),
        (None, None) => None,
    };
    let mapping: TableMapping = attach::parse_mapping(mapping_json.as_deref()).or_raise();
    let layout_problem = match attach::check_column_types(oid, &table_name, &mapping, &columns) {
        Ok(()) => None,
        Err(e @ Error::UndefinedColumn { .. }) => raise(&e),
        Err(e) => Some(e),
    };
    let type_of = |role: &str, column: &str| -> &str {
        match columns.iter().find(|(c, _)| c == column) {
            Some((_, t)) => t.as_str(),
            None => raise(&Error::UndefinedColumn { table: table_name.clone(), column: column.to_owned(), role: role.to_owned() }),
        }
    };

    let mut select: Vec<String> = Vec::new();
    fn add(select: &mut Vec<String>, expr: String) -> usize {
        select.push(expr);
        select.len()
    }
    let row_id_pos = match &mapping.row_id {
        Some(column) => {
            type_of("row_id", column);
            Some(add(&mut select, format!("{}::text", quote_identifier(column))))
        }
        None if !pk.is_empty() => {
            let parts: Vec<String> = pk.iter().map(|c| format!("{}::text", quote_identifier(c))).collect();
            Some(add(&mut select, if parts.len() == 1 { parts[0].clone() } else { format!("concat_ws(',', {})", parts.join(", ")) }))
        }
        None if relkind == "p" => Some(add(&mut select, "tableoid::regclass::text || ':' || ctid::text".into())),
        None if matches!(relkind.as_str(), "r" | "m" | "t") => Some(add(&mut select, "ctid::text".into())),
        None => None,
    };
    let text_col = |select: &mut Vec<String>, role: &str, column: Option<&str>| -> Option<usize> {
        let column = column?;
        type_of(role, column);
        Some(add(select, format!("{}::text", quote_identifier(column))))
    };
    let contact_type_pos = text_col(&mut select, "contact_type", mapping.contact_type.as_deref());
    let brand_pos = text_col(&mut select, "brand_column", mapping.brand_column.as_deref());
    let retailer_code_pos = text_col(&mut select, "retailer_code", mapping.retailer_code_column());
    let retailer_access_pos = text_col(&mut select, "retailer_access", mapping.retailer_access_column());
    let mut channels = Vec::new();
    let mut permission_is_bool = Vec::new();
    for channel in &mapping.channels {
        let address = text_col(&mut select, "address", Some(&channel.address)).expect("a column");
        let permission = text_col(&mut select, "permission", Some(&channel.permission)).expect("a column");
        permission_is_bool.push(type_of("permission", &channel.permission) == "boolean");
        let q = quote_identifier(&channel.consent_date);
        let (expr, kind) = match type_of("consent_date", &channel.consent_date) {
            "timestamp without time zone" => (q, DateKind::Timestamp),
            // An instant: Turkey time is UTC+3, as everywhere in pg_iys.
            "timestamp with time zone" => (format!("({q} AT TIME ZONE INTERVAL '+03:00')"), DateKind::Timestamp),
            // A date: midnight of that day, as the row trigger reads it.
            "date" => (format!("{q}::timestamp"), DateKind::Timestamp),
            _ => (format!("{q}::text"), DateKind::Text),
        };
        let date = (add(&mut select, expr), kind);
        let source = (!channel.source.is_empty()).then(|| text_col(&mut select, "source", Some(&channel.source)).expect("a column"));
        channels.push(ChannelScan { address, permission, date, source });
    }
    // Rows kept out of IYS (the `local_only` column) are not checked, as the triggers do.
    let local = match &mapping.local_only {
        Some(column) => {
            type_of("local_only", column);
            format!(" WHERE NOT coalesce({}::boolean, false)", quote_identifier(column))
        }
        None => String::new(),
    };
    let query = format!("SELECT {} FROM {table_name}{local}", if select.is_empty() { "1".into() } else { select.join(", ") });
    let keep = attachment.as_ref().is_some_and(|a| a.on_invalid == "keep");
    let table_brand = attachment.and_then(|a| a.brand_code).filter(|b| !b.trim().is_empty());
    Plan {
        query,
        row_id_pos,
        reader: RowReader::new(mapping, permission_is_bool),
        table_brand,
        keep,
        contact_type_pos,
        brand_pos,
        retailer_code_pos,
        retailer_access_pos,
        channels,
        layout_problem,
    }
}

type Out = (Option<String>, Option<String>, String, String, Option<String>, String, String);

fn out(row_id: Option<&str>, channel: Option<&str>, field: &str, p: Problem) -> Out {
    (
        row_id.map(str::to_owned),
        channel.map(str::to_owned),
        p.code.to_owned(),
        field.to_owned(),
        (!p.value.is_empty()).then_some(p.value),
        p.message_en,
        p.message_tr,
    )
}

struct Scan<'a> {
    plan: &'a Plan,
    now: NaiveDateTime,
    cal: &'a Calendar,
    check_window: bool,
    results: Vec<Out>,
}

impl Scan<'_> {
    /// One row, decided as the row trigger decides an INSERT of it now.
    fn row(&mut self, row: &pgrx::spi::SpiHeapTupleData<'_>, ordinal: u64) -> Result<(), pgrx::spi::Error> {
        let plan = self.plan;
        let mapping = &plan.reader.mapping;
        let row_id_owned;
        let row_id: Option<&str> = match plan.row_id_pos {
            Some(pos) => row.get::<&str>(pos)?,
            None => {
                row_id_owned = format!("#{ordinal}");
                Some(&row_id_owned)
            }
        };
        let text = |pos: Option<usize>| -> Result<Option<&str>, pgrx::spi::Error> {
            match pos {
                Some(pos) => row.get::<&str>(pos),
                None => Ok(None),
            }
        };
        let mut stored = StoredRow { contact_type: text(plan.contact_type_pos)?, channels: Vec::with_capacity(plan.channels.len()) };
        let mut date_unreadable = vec![false; plan.channels.len()];
        for (i, (scan, columns)) in plan.channels.iter().zip(&mapping.channels).enumerate() {
            let consent_date = match scan.date {
                (pos, DateKind::Timestamp) => row.get::<Timestamp>(pos)?.map(time::from_pg),
                (pos, DateKind::Text) => match row.get::<&str>(pos)?.filter(|t| !t.trim().is_empty()) {
                    None => None,
                    Some(text) => parse_iys_datetime(text)
                        .map_err(|p| {
                            date_unreadable[i] = true;
                            self.results.push(out(row_id, Some(columns.consent_type.as_str()), &columns.consent_date, p));
                        })
                        .ok(),
                },
            };
            stored.channels.push(StoredChannel {
                address: row.get::<&str>(scan.address)?,
                permission: row.get::<&str>(scan.permission)?,
                consent_date,
                source: text(scan.source)?,
            });
        }
        let mut decision = plan.reader.decide(&stored, None, self.now, self.cal);
        if let (Some(problem), Some(column)) = (decision.contact_type_problem.clone(), &mapping.contact_type) {
            self.results.push(out(row_id, None, column, problem));
        }
        // Without check_window, consents collected long ago are not the table's problem.
        let skipped = |i: usize, p: &Problem| (p.code == "H467" && !self.check_window) || (date_unreadable[i] && matches!(p.code, "H112" | "H462"));
        let passes_here = |i: usize, d: &ChannelDecision| matches!(d, ChannelDecision::Invalid { problems } if !date_unreadable[i] && problems.iter().all(|p| skipped(i, p)));
        let queues = decision.queues() || decision.channels.iter().enumerate().any(|(i, d)| passes_here(i, d));
        if queues {
            let delivery = Delivery {
                brand: text(plan.brand_pos)?,
                retailer_code: text(plan.retailer_code_pos)?,
                retailer_access: text(plan.retailer_access_pos)?,
            };
            let problems = delivery_problems(mapping.brand_column.is_some(), plan.table_brand.as_deref(), &delivery);
            // Refused: reported once for the row; held back: with each channel below.
            if decision.hold_back_undeliverable(&problems, plan.keep) {
                for p in problems {
                    let column = Slot::of(p.field).column(mapping, &mapping.channels[0]).to_owned();
                    self.results.push(out(row_id, None, &column, p));
                }
            }
        }
        for (i, (channel, columns)) in decision.channels.into_iter().zip(&mapping.channels).enumerate() {
            let ChannelDecision::Invalid { problems } = channel else { continue };
            for p in problems.into_iter().filter(|p| !skipped(i, p)) {
                let column = Slot::of(p.field).column(mapping, columns).to_owned();
                self.results.push(out(row_id, Some(columns.consent_type.as_str()), &column, p));
            }
        }
        Ok(())
    }
}

/// Every row of `tbl` that IYS would reject, one output row per problem. See the module
/// documentation and README for the mapping keys and the rules checked.
#[pg_extern(stable, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn validate_table(
    tbl: Option<PgRelation>,
    mapping: default!(Option<JsonB>, "NULL"),
    at: default!(Option<TimestampWithTimeZone>, "NULL"),
    check_window: default!(Option<bool>, "false"),
    progress_rows: default!(Option<i64>, "100000"),
) -> TableIterator<
    'static,
    (
        name!(row_id, Option<String>),
        name!(channel, Option<String>),
        name!(code, String),
        name!(field, String),
        name!(value, Option<String>),
        name!(message_en, String),
        name!(message_tr, String),
    ),
> {
    let tbl = tbl.unwrap_or_else(|| {
        crate::sql_api::error::raise(&crate::core::Error::InvalidParameter {
            parameter: "tbl",
            message: "the table is NULL".into(),
            hint: Some("Pass the table to check, e.g. iys.validate_table('master_contact').".into()),
        })
    });
    let plan = plan(&tbl, mapping.as_ref().map(|j| &j.0));
    let now = match at {
        Some(at) => crate::core::utc_to_turkey(time::from_pg_micros(pg_sys::TimestampTz::from(at)).and_utc()),
        None => time::now_turkey(),
    };
    let cal = calendar::current();
    let progress_every = progress_rows.unwrap_or(100_000).max(0) as u64;
    let estimate = tbl.reltuples().map_or(0.0, |r| r as f64);
    let table_name = tbl.name().to_owned();
    drop(tbl);

    let mut scan = Scan { plan: &plan, now, cal: &cal, check_window: check_window.unwrap_or(false), results: Vec::new() };
    if let Some(e) = &plan.layout_problem {
        let message = match e.hint() {
            Some(hint) => format!("iys.attach would refuse the table: {e} ({hint})"),
            None => format!("iys.attach would refuse the table: {e}"),
        };
        let problem = Problem::with_tr("PGIYS_MAPPING", "mapping", "", message, "iys.attach bu tablonun sütunlarını kabul etmez");
        scan.results.push(out(None, None, "mapping", problem));
    }
    let started = Instant::now();
    let mut scanned: u64 = 0;
    let mut next_notice = progress_every;
    Spi::connect(|client| {
        let mut cursor = client.try_open_cursor(plan.query.as_str(), &[])?;
        loop {
            let table = cursor.fetch(CHUNK_ROWS as _)?;
            // SAFETY: fetch just set SPI_tuptable to this chunk; it is freed after use below.
            let tuptable = unsafe { pg_sys::SPI_tuptable };
            if table.is_empty() {
                break;
            }
            for row in table {
                scanned += 1;
                scan.row(&row, scanned)?;
            }
            // SAFETY: nothing refers to this chunk's tuples any more (values were copied).
            unsafe { pg_sys::SPI_freetuptable(tuptable) };
            pg_sys::check_for_interrupts!();
            if progress_every > 0 && scanned >= next_notice {
                next_notice = (scanned / progress_every + 1) * progress_every;
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                let of = if estimate > scanned as f64 {
                    format!(" of about {}", estimate as u64)
                } else {
                    String::new()
                };
                notice!(
                    "iys.validate_table({table_name}): {scanned}{of} rows scanned, {} problems so far, {:.0} rows/s",
                    scan.results.len(),
                    scanned as f64 / secs
                );
            }
        }
        Ok::<_, pgrx::spi::Error>(())
    })
    .map_err(|e| Error::Internal(format!("scanning failed: {e}")))
    .or_raise();
    if progress_every > 0 && scanned >= progress_every {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        notice!(
            "iys.validate_table({table_name}): done, {scanned} rows, {} problems in {secs:.2} s ({:.0} rows/s)",
            scan.results.len(),
            scanned as f64 / secs
        );
    }
    TableIterator::new(scan.results)
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn setup() {
        Spi::run(
            "CREATE TABLE mc (
                 id bigint PRIMARY KEY, contact_type text,
                 email text, email_permission text, email_consent_date timestamp, email_source text,
                 gsm text, gsm_permission text, gsm_consent_date timestamptz, gsm_source text);
             INSERT INTO mc VALUES
               (1, 'BIREYSEL', 'ali@example.com', 'ONAY', '2024-03-05 10:00', 'HS_WEB',
                   '0532 123 45 67', 'ONAY', '2024-03-05 07:00+00', 'HS_MESAJ'),
               (2, 'BIREYSEL', 'şule@örnek.com', 'ONAY', '2024-03-05 10:00', 'HS_WEB',
                   '+9005321234567', 'RET', '2024-03-05 07:00+00', 'HS_KARAR'),
               (3, 'TACIR', NULL, NULL, NULL, NULL, '0212 123 45 67', 'Y', NULL, NULL),
               (4, 'KURUMSAL', 'a@bc.co', 'MAYBE', '2099-01-01', 'IYS_WEB', NULL, NULL, NULL, NULL)",
        )
        .unwrap();
    }

    fn problems(call: &str) -> String {
        Spi::get_one::<String>(&format!(
            "SELECT coalesce(string_agg(concat_ws(':', row_id, channel, code, field), ' ' ORDER BY row_id::int, channel, code), '')
               FROM {call}"
        ))
        .unwrap()
        .unwrap()
    }

    #[pg_test]
    fn reports_each_rejected_row_with_column_names() {
        setup();
        assert_eq!(
            problems("iys.validate_table('mc', at => '2024-03-06 12:00+03')"),
            "2:EPOSTA:H120:email 2:MESAJ:H121:gsm 3:MESAJ:H115:gsm_permission 3:MESAJ:H121:gsm 4:EPOSTA:H115:email_permission \
             4:EPOSTA:H119:email_source 4:EPOSTA:H162:email_consent_date 4:H116:contact_type"
        );
    }

    /// What the row trigger takes, validate_table takes: 'Y' only through a value map, a
    /// free-text source only through a source map.
    #[pg_test]
    fn value_maps_as_attach_reads_them() {
        setup();
        Spi::run("UPDATE mc SET gsm_permission = 'E', gsm_source = 'mağaza', gsm = '0532 123 45 67', gsm_consent_date = '2024-03-05 07:00+00' WHERE id = 3").unwrap();
        assert_eq!(
            problems(r#"iys.validate_table('mc', '{"email_permission": null, "contact_type": null}', at => '2024-03-06 12:00+03')"#),
            "2:MESAJ:H121:gsm 3:MESAJ:H115:gsm_permission 3:MESAJ:H119:gsm_source"
        );
        assert_eq!(
            problems(r#"iys.validate_table('mc', '{"email_permission": null, "contact_type": null,
                "gsm_permission_values": {"ONAY": ["E", "ONAY"], "RET": ["H", "RET"]}, "gsm_source_values": {"mağaza": "HS_FIZIKSEL_ORTAM"}}',
                at => '2024-03-06 12:00+03')"#),
            "2:MESAJ:H121:gsm"
        );
    }

    #[pg_test]
    fn window_and_call_channel_on_request() {
        setup();
        // Three business days after Tue 2024-03-05 10:00 is Fri 2024-03-08 10:00.
        assert_eq!(
            problems("iys.validate_table('mc', '{\"email_permission\": null}', at => '2024-03-08 12:00+03', check_window => true)"),
            "1:MESAJ:H467:gsm_consent_date 2:MESAJ:H121:gsm 2:MESAJ:H467:gsm_consent_date 3:MESAJ:H115:gsm_permission 3:MESAJ:H121:gsm 4:H116:contact_type"
        );
        // ARAMA accepts landlines; the call channel reads the gsm columns here. Without a
        // contact_type column every row is BIREYSEL, so row 3 needs a date and a source.
        assert_eq!(
            problems(r#"iys.validate_table('mc', '{"email_permission": null, "gsm_permission": null, "call": "gsm",
                "call_permission": "gsm_permission", "call_consent_date": "gsm_consent_date",
                "call_source": "gsm_source", "contact_type": null}', at => '2024-03-06 12:00+03')"#),
            "2:ARAMA:H121:gsm 3:ARAMA:H112:gsm_consent_date 3:ARAMA:H113:gsm_source 3:ARAMA:H115:gsm_permission"
        );
    }

    #[pg_test(error = "column \"eposta\" of relation public.mc does not exist")]
    fn missing_columns_are_named() {
        setup();
        Spi::run(r#"SELECT * FROM iys.validate_table('mc', '{"email": "eposta"}')"#).unwrap();
    }

    #[pg_test(error = "invalid tbl: the table is NULL")]
    fn a_null_table_is_a_clear_error() {
        Spi::run("SELECT * FROM iys.validate_table(NULL)").unwrap();
    }

    #[pg_test(error = "invalid mapping: unknown key \"mail\"")]
    fn unknown_mapping_keys_are_refused() {
        setup();
        Spi::run(r#"SELECT * FROM iys.validate_table('mc', '{"mail": "email"}')"#).unwrap();
    }
}
