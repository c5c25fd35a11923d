//! `/admin/*`: test controls, no authentication, not counted in stats, never rate limited.
//! Not part of IYS.

use serde_json::{json, Map, Value};

use crate::clock::{self, format_turkey_ms, TURKEY_OFFSET_SECS};
use crate::errors::ApiError;
use crate::http::{Request, Response};
use crate::rules::{self, ConsentInput, ConsentType, RecipientType, Status};
use crate::state::{lock, State};
use crate::store::Store;

fn bad(msg: impl Into<String>) -> Response {
    Response::json(400, &json!({ "error": msg.into() }))
}

fn body_object(req: &Request) -> Result<Map<String, Value>, Response> {
    if req.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad("body must be a JSON object")),
    }
}

fn u64_param(req: &Request, name: &str) -> Result<Option<u64>, Response> {
    match req.query_param(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| bad(format!("{name} must be an integer"))),
    }
}

pub fn handle(st: &State, req: &Request) -> Response {
    let path = req.path.trim_end_matches('/');
    let result = match (req.method.as_str(), path) {
        ("GET", "/admin/faults") => Ok(Response::json(200, &lock(&st.faults).to_json())),
        ("POST", "/admin/faults") => set_faults(st, req),
        ("DELETE", "/admin/faults") => {
            *lock(&st.faults) = Default::default();
            lock(&st.tokens).clear_limit();
            Ok(Response::json(200, &lock(&st.faults).to_json()))
        }
        ("GET", "/admin/consents") => consents(st, req),
        ("GET", "/admin/history") => history(st, req),
        ("GET", "/admin/stats") => Ok(stats(st)),
        ("POST", "/admin/reset") => Ok(reset(st)),
        ("POST", "/admin/citizen-change") => citizen_change(st, req),
        ("GET", "/admin/config") => Ok(config_json(st)),
        ("POST", "/admin/config") => set_config(st, req),
        ("GET", "/admin/clock") => Ok(clock_json(st)),
        ("POST", "/admin/clock") => advance_clock(st, req),
        _ => Err(Response::json(404, &json!({ "error": format!("no admin endpoint {} {}", req.method, req.path) }))),
    };
    result.unwrap_or_else(|r| r)
}

fn set_faults(st: &State, req: &Request) -> Result<Response, Response> {
    let body = body_object(req)?;
    let actions = lock(&st.faults).apply_json(&body).map_err(bad)?;
    if actions.revoke_tokens {
        lock(&st.tokens).revoke_access_tokens();
    }
    if actions.token_limit_hit {
        let s = st.settings().token;
        lock(&st.tokens).force_limited(st.clock.now_ms(), &s);
    }
    Ok(Response::json(200, &lock(&st.faults).to_json()))
}

fn consents(st: &State, req: &Request) -> Result<Response, Response> {
    let brand = u64_param(req, "brandCode")?;
    let recipient = req.query_param("recipient").map(|r| if r.contains('@') { r.to_ascii_lowercase() } else { r });
    let now = st.clock.now_ms();
    let rows = lock(&st.store).consents_json(now, brand, recipient.as_deref());
    Ok(Response::json(200, &Value::Array(rows)))
}

fn history(st: &State, req: &Request) -> Result<Response, Response> {
    let brand = u64_param(req, "brandCode")?;
    let since = u64_param(req, "since")?.unwrap_or(0);
    let limit = u64_param(req, "limit")?.map_or(usize::MAX, |l| l as usize);
    let recipient = req.query_param("recipient").map(|r| if r.contains('@') { r.to_ascii_lowercase() } else { r });
    let now = st.clock.now_ms();
    let rows = lock(&st.store).history_json(now, brand, recipient.as_deref(), since, limit);
    Ok(Response::json(200, &Value::Array(rows)))
}

fn stats(st: &State) -> Response {
    let mut v = lock(&st.stats).to_json();
    v["store"] = lock(&st.store).counts();
    Response::json(200, &v)
}

/// Forgets consents, history, batches, stats, faults, rate-limit and H084 state and the clock
/// offset. Users, issued tokens and settings are kept so connected clients keep working.
fn reset(st: &State) -> Response {
    *lock(&st.store) = Store::default();
    *lock(&st.stats) = Default::default();
    *lock(&st.faults) = Default::default();
    lock(&st.limiter).clear();
    lock(&st.tokens).clear_limit();
    st.clock.reset();
    Response::json(200, &json!({ "reset": true }))
}

fn code_field(body: &Map<String, Value>, name: &str) -> Result<u64, Response> {
    match body.get(name) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| bad(format!("{name} must be an integer")))
}

fn text_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Response> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{name} must be a string"))),
    }
}

fn codes_text(errs: &[ApiError]) -> String {
    errs.iter().map(|e| e.code).collect::<Vec<_>>().join(",")
}

/// A change the citizen made in IYS itself (web, mobile app, SMS to 3338). No HS rules apply;
/// it shows up in `/consents/changes?source=IYS` once older than the hold-back.
/// `creationDate` (Turkey time) may back-date it, e.g. beyond a one-hour hold-back.
fn citizen_change(st: &State, req: &Request) -> Result<Response, Response> {
    let body = body_object(req)?;
    let iys = code_field(&body, "iysCode")?;
    let brand = code_field(&body, "brandCode")?;
    let ct = text_field(&body, "type")?.and_then(ConsentType::parse).ok_or_else(|| bad("type must be MESAJ, ARAMA or EPOSTA"))?;
    let rt = match text_field(&body, "recipientType")? {
        None => RecipientType::Bireysel,
        Some(s) => RecipientType::parse(s).ok_or_else(|| bad("recipientType must be BIREYSEL or TACIR"))?,
    };
    let status = text_field(&body, "status")?.and_then(Status::parse).ok_or_else(|| bad("status must be ONAY or RET"))?;
    let source = text_field(&body, "source")?.unwrap_or("IYS_WEB");
    if !source.starts_with("IYS_") {
        return Err(bad("source of a citizen change must be an IYS_* source"));
    }
    let raw_recipient = text_field(&body, "recipient")?.ok_or_else(|| bad("recipient is required"))?;
    let recipient = rules::check_recipient(raw_recipient, ct).map_err(|e| bad(format!("recipient refused: {}", codes_text(&e))))?;
    let now = st.clock.now_ms();
    let creation_ms = match text_field(&body, "creationDate")? {
        None => now,
        Some(d) => {
            let local = clock::parse_local(d).map_err(|_| bad("creationDate must be YYYY-MM-DD HH:mm:ss"))?;
            (local - TURKEY_OFFSET_SECS) * 1000
        }
    };
    let (consent_date, consent_date_secs) = match text_field(&body, "consentDate")? {
        None => {
            let secs = creation_ms.div_euclid(1000) + TURKEY_OFFSET_SECS;
            (clock::format_local(secs), secs)
        }
        Some(d) => (d.to_string(), clock::parse_local(d).map_err(|_| bad("consentDate must be YYYY-MM-DD HH:mm:ss"))?),
    };
    let input = ConsentInput {
        recipient,
        consent_type: ct,
        recipient_type: rt,
        status,
        source: Some(source.to_string()),
        consent_date: Some(consent_date),
        consent_date_secs: Some(consent_date_secs),
        retailer_code: None,
        retailer_access: None,
    };
    let acc = lock(&st.store).citizen_change(now, iys, brand, &input, creation_ms);
    Ok(Response::json(200, &json!({ "transactionId": acc.transaction_id, "creationDate": acc.creation_date })))
}

fn config_json(st: &State) -> Response {
    let s = st.settings();
    Response::json(
        200,
        &json!({
            "batch_delay_ms": s.batch_delay_ms,
            "rate_limit_per_sec": s.rate_limit_per_sec,
            "changes_holdback_secs": s.changes_holdback_secs,
            "changes_window_secs": s.changes_window_secs,
            "token_ttl_secs": s.token.ttl_secs,
            "refresh_ttl_secs": s.token.refresh_ttl_secs,
            "token_limit_per_hour": s.token.limit_per_window,
            "token_limit_window_secs": s.token.window_secs,
        }),
    )
}

fn set_config(st: &State, req: &Request) -> Result<Response, Response> {
    let body = body_object(req)?;
    let mut s = st.settings();
    for (k, v) in &body {
        let n = || v.as_u64().ok_or_else(|| bad(format!("{k} must be a non-negative integer")));
        match k.as_str() {
            "batch_delay_ms" => s.batch_delay_ms = n()?,
            "rate_limit_per_sec" => s.rate_limit_per_sec = if v.is_null() { None } else { Some(n()? as u32) },
            "changes_holdback_secs" => s.changes_holdback_secs = n()?,
            "changes_window_secs" => s.changes_window_secs = n()?,
            "token_ttl_secs" => s.token.ttl_secs = n()?,
            "refresh_ttl_secs" => s.token.refresh_ttl_secs = n()?,
            "token_limit_per_hour" => s.token.limit_per_window = n()? as u32,
            "token_limit_window_secs" => s.token.window_secs = n()?,
            other => return Err(bad(format!("unknown setting {other:?}"))),
        }
    }
    *lock(&st.settings) = s;
    Ok(config_json(st))
}

fn clock_json(st: &State) -> Response {
    let now = st.clock.now_ms();
    let limited = lock(&st.tokens).limited_until_ms().filter(|u| *u > now).map(format_turkey_ms);
    Response::json(200, &json!({ "now": format_turkey_ms(now), "offsetSecs": st.clock.offset_secs(), "tokenLimitedUntil": limited }))
}

/// `{"advance_secs": N}` moves simulated time forward (or back, if negative).
fn advance_clock(st: &State, req: &Request) -> Result<Response, Response> {
    let body = body_object(req)?;
    let secs = body.get("advance_secs").and_then(Value::as_i64).ok_or_else(|| bad("advance_secs must be an integer"))?;
    st.clock.advance_secs(secs);
    Ok(clock_json(st))
}
