//! `/admin/*`: test controls, no authentication, not counted in stats, never rate limited.
//! Not part of IYS.

use serde_json::{json, Map, Value};

use crate::clock::{self, format_turkey_ms, TURKEY_OFFSET_SECS};
use crate::errors::ApiError;
use crate::http::{Request, Response};
use crate::rules::{self, ConsentInput, ConsentType, RecipientType, Status, HS_SOURCES};
use crate::state::{lock, State};
use crate::faults;
use crate::store::{Store, LINE_CLOSURE_SOURCE};
use crate::via::{self, Via};

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
            *lock(&st.faults) = st.fault_defaults.clone();
            lock(&st.tokens).clear_limit();
            Ok(Response::json(200, &lock(&st.faults).to_json()))
        }
        ("GET", "/admin/consents") => consents(st, req),
        ("GET", "/admin/history") => history(st, req),
        ("GET", "/admin/stats") => Ok(stats(st)),
        ("GET", "/admin/push") => Ok(Response::json(200, &st.push.admin_json())),
        ("POST", "/admin/reset") => Ok(reset(st)),
        ("POST", "/admin/citizen-change") => citizen_change(st, req),
        ("POST", "/admin/seed") => seed(st, req),
        ("GET", "/admin/config") => Ok(config_json(st)),
        ("POST", "/admin/config") => set_config(st, req),
        ("GET", "/admin/clock") => Ok(clock_json(st)),
        ("POST", "/admin/clock") => advance_clock(st, req),
        ("GET", "/admin/via") => Ok(Response::json(200, &via::admin_list(st))),
        ("GET", "/admin/via-links") => Ok(Response::json(200, &via::admin_links(st))),
        ("POST", "/admin/via-link/click") => via_click(st, req),
        (method, p) if p.starts_with("/admin/via/") => via_request(st, req, method, &p["/admin/via/".len()..]),
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

/// Forgets consents, history, batches, ViA requests and links, push connections and their
/// queues, stats, faults, rate-limit, H084 and H086 state and the clock offset. Users, issued
/// tokens and settings (the clock speed and push settings too) are kept so connected clients
/// keep working.
fn reset(st: &State) -> Response {
    *lock(&st.via) = Via::default();
    *lock(&st.store) = Store::default();
    st.push.reset();
    *lock(&st.stats) = Default::default();
    *lock(&st.faults) = st.fault_defaults.clone();
    lock(&st.limiter).clear();
    lock(&st.status_limiter).clear();
    lock(&st.tokens).clear_limit();
    st.clock.reset();
    Response::json(200, &json!({ "reset": true }))
}

/// `/admin/via/{requestId}` (GET), `.../approve` and `.../ignore` (POST).
fn via_request(st: &State, req: &Request, method: &str, rest: &str) -> Result<Response, Response> {
    let answer = match (method, rest.split('/').collect::<Vec<_>>().as_slice()) {
        ("GET", [id]) => via::admin_get(st, id),
        ("POST", [id, "approve"]) => {
            let body = body_object(req)?;
            let types = match body.get("types") {
                None => None,
                Some(v) => Some(string_list(v, "types")?.iter().map(|t| ConsentType::parse(t).ok_or_else(|| bad(format!("types: {t:?} is not MESAJ, ARAMA or EPOSTA")))).collect::<Result<Vec<_>, _>>()?),
            };
            let kvk_types = body.get("kvkTypes").map(|v| string_list(v, "kvkTypes")).transpose()?;
            via::admin_approve(st, id, types, kvk_types)
        }
        ("POST", [id, "ignore"]) => via::admin_ignore(st, id),
        _ => return Err(Response::json(404, &json!({ "error": format!("no admin endpoint {} {}", req.method, req.path) }))),
    };
    answer.map(|v| Response::json(200, &v)).map_err(|(status, msg)| Response::json(status, &json!({ "error": msg })))
}

fn string_list(v: &Value, name: &str) -> Result<Vec<String>, Response> {
    v.as_array()
        .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| bad(format!("{name} must be a list of strings")))
}

/// `POST /admin/via-link/click` `{"url": ...}`: the recipient used an opt-out link.
fn via_click(st: &State, req: &Request) -> Result<Response, Response> {
    let body = body_object(req)?;
    let url = text_field(&body, "url").map_err(bad)?.ok_or_else(|| bad("url is required"))?;
    via::admin_click(st, url).map(|v| Response::json(200, &v))
}

fn code_field(body: &Map<String, Value>, name: &str) -> Result<u64, String> {
    match body.get(name) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{name} must be an integer"))
}

fn text_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn codes_text(errs: &[ApiError]) -> String {
    errs.iter().map(|e| e.code).collect::<Vec<_>>().join(",")
}

/// `IYS_` and then capital letters, digits and underscores: any source IYS itself may set
/// (IYS_WEB, IYS_3338, IYS_KISA_LINK, IYS_AHS_HAT_KAPATMA, and names it adds later).
fn is_iys_source(s: &str) -> bool {
    s.strip_prefix("IYS_").is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
}

/// A change the citizen (or IYS, or an operator) made in IYS itself (web, mobile app, SMS to
/// 3338, short link, line closure). No HS rules apply; it shows up in
/// `/consents/changes?source=IYS` once older than the hold-back. `creationDate` (Turkey time)
/// may back-date it, e.g. beyond a one-hour hold-back. `IYS_AHS_HAT_KAPATMA` (the operator
/// closed the line) is a RET that carries the stored consent's own consentDate.
fn citizen_change(st: &State, req: &Request) -> Result<Response, Response> {
    let body = body_object(req)?;
    let iys = code_field(&body, "iysCode").map_err(bad)?;
    let brand = code_field(&body, "brandCode").map_err(bad)?;
    let ct = text_field(&body, "type").map_err(bad)?.and_then(ConsentType::parse).ok_or_else(|| bad("type must be MESAJ, ARAMA or EPOSTA"))?;
    let rt = match text_field(&body, "recipientType").map_err(bad)? {
        None => RecipientType::Bireysel,
        Some(s) => RecipientType::parse(s).ok_or_else(|| bad("recipientType must be BIREYSEL or TACIR"))?,
    };
    let source = text_field(&body, "source").map_err(bad)?.unwrap_or("IYS_WEB");
    if !is_iys_source(source) {
        return Err(bad("source of a citizen change must be an IYS_* source (IYS_ and capital letters, digits, underscores)"));
    }
    let line_closure = source == LINE_CLOSURE_SOURCE;
    let status = match text_field(&body, "status").map_err(bad)? {
        None if line_closure => Status::Ret,
        s => s.and_then(Status::parse).ok_or_else(|| bad("status must be ONAY or RET"))?,
    };
    if line_closure && status != Status::Ret {
        return Err(bad("IYS_AHS_HAT_KAPATMA is always a RET"));
    }
    if line_closure && body.contains_key("consentDate") {
        return Err(bad("IYS_AHS_HAT_KAPATMA carries the stored consent's consentDate; do not give one"));
    }
    let raw_recipient = text_field(&body, "recipient").map_err(bad)?.ok_or_else(|| bad("recipient is required"))?;
    let recipient = rules::check_recipient(raw_recipient, ct).map_err(|e| bad(format!("recipient refused: {}", codes_text(&e))))?;
    let now = st.clock.now_ms();
    let creation_ms = match text_field(&body, "creationDate").map_err(bad)? {
        None => now,
        Some(d) => {
            let local = clock::parse_local(d).map_err(|_| bad("creationDate must be YYYY-MM-DD HH:mm:ss"))?;
            (local - TURKEY_OFFSET_SECS) * 1000
        }
    };
    let (consent_date, consent_date_secs) = match text_field(&body, "consentDate").map_err(bad)? {
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
    let mut store = lock(&st.store);
    let acc = store.citizen_change(now, iys, brand, &input, creation_ms).map_err(bad)?;
    // Pushed at once, whatever its creationDate: the push has no hold-back.
    if let Some(m) = store.last_movement() {
        st.push.movement_recorded(m);
    }
    drop(store);
    Ok(Response::json(200, &json!({ "transactionId": acc.transaction_id, "creationDate": acc.creation_date })))
}

/// Fields of one `/admin/seed` movement; anything else is refused, so a misspelt `inPull`
/// cannot silently seed the wrong thing.
const SEED_FIELDS: [&str; 10] =
    ["iysCode", "brandCode", "recipient", "recipientType", "type", "status", "source", "consentDate", "creationDate", "inPull"];

/// One validated `/admin/seed` movement.
struct Seed {
    iys: u64,
    brand: u64,
    input: ConsentInput,
    creation_ms: i64,
    in_pull: bool,
}

/// `POST /admin/seed`: a list of movements IYS held before the test began: consents given
/// before the company installed pg_iys (years ago, by any HS or IYS source) and movements the
/// pull missed (`inPull: false`). They skip every HS rule (H467, H175, H178, ...) but
/// recipients are checked and normalised as everywhere else. The whole list is checked before
/// any of it is stored; the answer lists each movement's transactionId and creationDate.
fn seed(st: &State, req: &Request) -> Result<Response, Response> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&req.body) else {
        return Err(bad("body must be a JSON list of movements"));
    };
    let now = st.clock.now_ms();
    let seeds = items
        .iter()
        .enumerate()
        .map(|(index, item)| seed_movement(item, now).map_err(|e| Response::json(400, &json!({ "error": format!("movement {index}: {e}"), "index": index }))))
        .collect::<Result<Vec<Seed>, Response>>()?;
    let mut store = lock(&st.store);
    let answers: Vec<Value> = seeds
        .iter()
        .map(|s| {
            let acc = store.seed(now, s.iys, s.brand, &s.input, s.creation_ms, s.in_pull);
            // Recorded now, so pushed now if it is an IYS_ movement the pull serves (a seed
            // the pull missed was missed by the push too).
            if let Some(m) = store.last_movement() {
                st.push.movement_recorded(m);
            }
            json!({ "transactionId": acc.transaction_id, "creationDate": acc.creation_date })
        })
        .collect();
    Ok(Response::json(200, &Value::Array(answers)))
}

fn seed_movement(item: &Value, now_ms: i64) -> Result<Seed, String> {
    let body = item.as_object().ok_or("a movement must be a JSON object")?;
    if let Some(unknown) = body.keys().find(|k| !SEED_FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field {unknown:?} (fields: {})", SEED_FIELDS.join(", ")));
    }
    let iys = code_field(body, "iysCode")?;
    let brand = code_field(body, "brandCode")?;
    let ct = text_field(body, "type")?.and_then(ConsentType::parse).ok_or("type must be MESAJ, ARAMA or EPOSTA")?;
    let rt = match text_field(body, "recipientType")? {
        None => RecipientType::Bireysel,
        Some(s) => RecipientType::parse(s).ok_or("recipientType must be BIREYSEL or TACIR")?,
    };
    let status = text_field(body, "status")?.and_then(Status::parse).ok_or("status must be ONAY or RET")?;
    let source = match text_field(body, "source")? {
        Some(s) if HS_SOURCES.contains(&s) || is_iys_source(s) => Some(s.to_string()),
        Some(s) => return Err(format!("source {s:?} is neither one of the 13 HS_* sources nor an IYS_* source")),
        // IYS keeps a TACIR consent without a source; everybody else's has one.
        None if rt == RecipientType::Tacir => None,
        None => return Err("source is required (except for TACIR)".into()),
    };
    let raw_recipient = text_field(body, "recipient")?.ok_or("recipient is required")?;
    let recipient = rules::check_recipient(raw_recipient, ct).map_err(|e| format!("recipient refused: {}", codes_text(&e)))?;
    let creation_ms = match text_field(body, "creationDate")? {
        None => now_ms,
        Some(d) => (clock::parse_local(d).map_err(|_| "creationDate must be YYYY-MM-DD HH:mm:ss")? - TURKEY_OFFSET_SECS) * 1000,
    };
    if creation_ms > now_ms {
        return Err("creationDate is in the future: IYS cannot have recorded it yet".into());
    }
    let consent_date_secs = match text_field(body, "consentDate")? {
        Some(d) => Some(clock::parse_local(d).map_err(|_| "consentDate must be YYYY-MM-DD HH:mm:ss")?),
        // A BIREYSEL consent always has a date in IYS; a TACIR one may have none.
        None if rt == RecipientType::Bireysel => Some(creation_ms.div_euclid(1000) + TURKEY_OFFSET_SECS),
        None => None,
    };
    let in_pull = match body.get("inPull") {
        None => true,
        Some(v) => v.as_bool().ok_or("inPull must be true or false")?,
    };
    let input = ConsentInput {
        recipient,
        consent_type: ct,
        recipient_type: rt,
        status,
        source,
        consent_date: consent_date_secs.map(clock::format_local),
        consent_date_secs,
        retailer_code: None,
        retailer_access: None,
    };
    Ok(Seed { iys, brand, input, creation_ms, in_pull })
}

fn config_json(st: &State) -> Response {
    let s = st.settings();
    let push = st.push.client();
    Response::json(
        200,
        &json!({
            "batch_delay_ms": s.batch_delay_ms,
            "batch_enqueue_ms": s.batch_enqueue_ms,
            "clock_speed": st.clock.speed(),
            "rate_limit_per_sec": s.rate_limit_per_sec,
            "status_limit_per_hour": s.status_limit_per_hour,
            "token_limit_shape": lock(&st.faults).token_limit_shape.as_str(),
            "changes_holdback_secs": s.changes_holdback_secs,
            "changes_window_secs": s.changes_window_secs,
            "token_ttl_secs": s.token.ttl_secs,
            "refresh_ttl_secs": s.token.refresh_ttl_secs,
            "token_limit_per_hour": s.token.limit_per_window,
            "token_limit_window_secs": s.token.window_secs,
            "push_ca_file": push.ca_file,
            "push_retry_ms": push.retry_ms,
            "push_max_attempts": push.max_attempts,
        }),
    )
}

fn set_config(st: &State, req: &Request) -> Result<Response, Response> {
    let body = body_object(req)?;
    let mut s = st.settings();
    let mut speed = None;
    let mut shape = None;
    let (mut ca_file, mut retry_ms, mut max_attempts) = (None, None, None);
    for (k, v) in &body {
        let n = || v.as_u64().ok_or_else(|| bad(format!("{k} must be a non-negative integer")));
        match k.as_str() {
            "batch_delay_ms" => s.batch_delay_ms = n()?,
            "batch_enqueue_ms" => s.batch_enqueue_ms = n()?,
            "clock_speed" => speed = Some(clock_speed(v)?),
            "token_limit_shape" => shape = Some(faults::parse_shape(v).map_err(bad)?),
            "rate_limit_per_sec" => s.rate_limit_per_sec = if v.is_null() { None } else { Some(n()? as u32) },
            "status_limit_per_hour" => s.status_limit_per_hour = if v.is_null() { None } else { Some(n()? as u32) },
            "changes_holdback_secs" => s.changes_holdback_secs = n()?,
            "changes_window_secs" => s.changes_window_secs = n()?,
            "token_ttl_secs" => s.token.ttl_secs = n()?,
            "refresh_ttl_secs" => s.token.refresh_ttl_secs = n()?,
            "token_limit_per_hour" => s.token.limit_per_window = n()? as u32,
            "token_limit_window_secs" => s.token.window_secs = n()?,
            "push_ca_file" => {
                ca_file = Some(match v {
                    Value::Null => None,
                    Value::String(p) => Some(p.as_str()),
                    _ => return Err(bad("push_ca_file must be a path (string) or null")),
                })
            }
            "push_retry_ms" => retry_ms = Some(n()?),
            "push_max_attempts" => max_attempts = Some(u32::try_from(n()?).ok().filter(|m| *m > 0).ok_or_else(|| bad("push_max_attempts must be 1 or more"))?),
            other => return Err(bad(format!("unknown setting {other:?}"))),
        }
    }
    // Last of the checks (a CA file that cannot be used changes nothing), first of the changes.
    st.push.configure(ca_file, retry_ms, max_attempts).map_err(bad)?;
    *lock(&st.settings) = s;
    if let Some(shape) = shape {
        lock(&st.faults).token_limit_shape = shape;
    }
    if let Some(speed) = speed {
        st.clock.set_speed(speed);
    }
    Ok(config_json(st))
}

fn clock_speed(v: &Value) -> Result<f64, Response> {
    v.as_f64().filter(|f| f.is_finite() && *f >= 0.0).ok_or_else(|| bad("clock_speed must be a number >= 0 (1 = real time, 0 = frozen)"))
}

fn clock_json(st: &State) -> Response {
    let now = st.clock.now_ms();
    let limited = lock(&st.tokens).limited_until_ms().filter(|u| *u > now).map(format_turkey_ms);
    Response::json(
        200,
        &json!({ "now": format_turkey_ms(now), "offsetSecs": st.clock.offset_secs(), "clockSpeed": st.clock.speed(), "tokenLimitedUntil": limited }),
    )
}

/// Moves simulated time: `{"advance_secs": N}` forward (or back, if negative), `{"now":
/// "YYYY-MM-DD HH:mm:ss"}` to that Turkey time, `{"clock_speed": X}` changes the speed from now
/// on. `clock_speed` is applied first (so `{"clock_speed": 0, "now": ...}` freezes the clock at
/// exactly that second), then `now`, then `advance_secs`; at least one is needed.
fn advance_clock(st: &State, req: &Request) -> Result<Response, Response> {
    let body = body_object(req)?;
    for k in body.keys() {
        if !matches!(k.as_str(), "advance_secs" | "now" | "clock_speed") {
            return Err(bad(format!("unknown clock field {k:?} (advance_secs, now, clock_speed)")));
        }
    }
    if body.is_empty() {
        return Err(bad("give advance_secs, now or clock_speed"));
    }
    // Everything is checked before anything changes.
    let speed = body.get("clock_speed").map(clock_speed).transpose()?;
    let now_local = match body.get("now") {
        None => None,
        Some(v) => Some(v.as_str().and_then(|s| clock::parse_local(s).ok()).ok_or_else(|| bad("now must be YYYY-MM-DD HH:mm:ss (Turkey time)"))?),
    };
    let advance = match body.get("advance_secs") {
        None => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| bad("advance_secs must be an integer"))?),
    };
    if let Some(speed) = speed {
        st.clock.set_speed(speed);
    }
    if let Some(local) = now_local {
        st.clock.set_ms((local - TURKEY_OFFSET_SECS) * 1000);
    }
    if let Some(secs) = advance {
        st.clock.advance_secs(secs);
    }
    Ok(clock_json(st))
}
