//! İLETİ ViA in SQL: `iys.validate_via_request()` (every problem IYS's ViA would answer, as rows)
//! and the checks behind `iys.request_via_consent()` (sql/via.sql), which queues the request for
//! the worker.
//!
//! Not STRICT: a NULL recipient, verification type or form id is itself IYS's H1057/H1005.

use crate::core::via::{self, ViaRequestInput};
use crate::core::Error;
use crate::sql_api::error::raise;
use pgrx::prelude::*;

fn borrowed(list: &Option<Vec<Option<String>>>) -> Vec<Option<&str>> {
    list.iter().flatten().map(|item| item.as_deref()).collect()
}

/// Runs `check` on the SQL arguments.
#[allow(clippy::too_many_arguments)]
fn checked<R>(
    recipient: Option<&str>,
    verification_type: Option<&str>,
    form_id: Option<i64>,
    etk_types: &Option<Vec<Option<String>>>,
    brand_codes: &Option<Vec<Option<String>>>,
    recipient_type: Option<&str>,
    kvk_types: &Option<Vec<Option<String>>>,
    person_name: Option<&str>,
    person_id_number: Option<&str>,
    then: impl FnOnce(Result<via::ViaRequest, Vec<crate::core::Problem>>) -> R,
) -> R {
    let (etk, brands, kvk) = (borrowed(etk_types), borrowed(brand_codes), borrowed(kvk_types));
    let input = ViaRequestInput {
        recipient,
        verification_type,
        form_id,
        etk_types: &etk,
        brand_codes: &brands,
        recipient_type,
        kvk_types: &kvk,
        person_name,
        person_id_number,
    };
    then(via::check_via_request(&input))
}

/// Every problem IYS's ViA would answer this consent request with (H1005, H1012, H1026, H1027,
/// H1029, H1057, H1061, H1063, H1066, H1085, H1086, H1090, H1096). No rows: IYS's checks of the
/// request itself pass (whether the form id and brands are the account's, IYS alone knows).
#[allow(clippy::too_many_arguments)]
#[pg_extern(immutable, parallel_safe)]
fn validate_via_request(
    recipient: Option<&str>,
    verification_type: Option<&str>,
    form_id: Option<i64>,
    etk_types: default!(Option<Vec<Option<String>>>, "NULL"),
    brand_codes: default!(Option<Vec<Option<String>>>, "NULL"),
    recipient_type: default!(Option<&str>, "'BIREYSEL'"),
    kvk_types: default!(Option<Vec<Option<String>>>, "NULL"),
    person_name: default!(Option<&str>, "NULL"),
    person_id_number: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(code, String),
        name!(field, String),
        name!(value, Option<String>),
        name!(message_en, String),
        name!(message_tr, String),
    ),
> {
    let problems = checked(
        recipient,
        verification_type,
        form_id,
        &etk_types,
        &brand_codes,
        recipient_type,
        &kvk_types,
        person_name,
        person_id_number,
        |result| result.err().unwrap_or_default(),
    );
    crate::sql_api::validate::rows(problems)
}

/// Raises 23514 listing every problem when IYS would refuse the request; otherwise returns the
/// recipient in IYS's form. Declared in sql/via.sql, in schema iys_internal.
#[allow(clippy::too_many_arguments)]
#[pg_extern(immutable, parallel_safe, sql = false)]
fn check_via_request(
    recipient: Option<&str>,
    verification_type: Option<&str>,
    form_id: Option<i64>,
    etk_types: Option<Vec<Option<String>>>,
    brand_codes: Option<Vec<Option<String>>>,
    recipient_type: Option<&str>,
    kvk_types: Option<Vec<Option<String>>>,
    person_name: Option<&str>,
    person_id_number: Option<&str>,
) -> String {
    checked(
        recipient,
        verification_type,
        form_id,
        &etk_types,
        &brand_codes,
        recipient_type,
        &kvk_types,
        person_name,
        person_id_number,
        |result| match result {
            Ok(request) => request.recipient,
            Err(problems) => raise(&Error::invalid(problems)),
        },
    )
}

/// Signals the worker once this transaction commits (a ViA request or an opt-out link to
/// fetch). Declared in sql/via.sql, in schema iys_internal.
#[pg_extern(volatile, sql = false)]
fn wake_worker() {
    crate::worker::wake::wake_worker_at_commit();
}
