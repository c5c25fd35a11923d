//! The consent endpoints under `/sps/{iysCode}/brands/{brandCode}` (and their `/v2` twins), and
//! the push connection endpoints under `.../push/`. Handlers validate outside the store lock and
//! take it once for the part that must be atomic.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::clock::{self, TURKEY_OFFSET_SECS};
use crate::errors::{self, ApiError};
use crate::http::{Request, Response};
use crate::ids;
use crate::push::{self, CheckFailure, OverLimit, Target};
use crate::router::error_response;
use crate::rules::{self, ConsentType, RecipientType, Status};
use crate::state::{lock, State};
use crate::store::{consent_json, new_batch, Accepted, ConsentKey};

/// Largest list IYS takes in one batch add or multi-status query.
pub const MAX_LIST: usize = 1000;

/// How many days back a daily movement file can be fetched (the document: "o günün tarihinden
/// 7 gün öncesine kadar").
pub const DAILY_FILE_DAYS: i64 = 7;

fn parse_body(req: &Request) -> Result<Value, Response> {
    serde_json::from_slice(&req.body).map_err(|_| error_response("H014"))
}

/// Errors as one response; the HTTP status is the first code's (all of a list share it).
fn errors_response(errs: &[ApiError]) -> Response {
    let status = errs.first().map_or(422, |e| errors::status_of(e.code));
    Response::json(status, &errors::envelope(errs))
}

fn accepted_json(a: &Accepted) -> Value {
    json!({ "transactionId": a.transaction_id, "creationDate": a.creation_date })
}

/// `POST .../consents` (V1) and `POST /v2/.../consents` (V2).
///
/// V2 is idempotent: an identical request (same path, same body) gets the answer of the first
/// one; so does a consent identical (status, date, source) to the one IYS already holds.
pub fn single_add(st: &State, req: &Request, iys: u64, brand: u64, v2: bool) -> Response {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = st.clock.now_ms();
    // serde_json objects are key-sorted, so this text ignores key order and whitespace.
    let canonical = body.to_string();
    if v2 {
        if let Some(prev) = lock(&st.store).v2_replay(now, iys, brand, &canonical) {
            return Response::json(200, &accepted_json(&prev));
        }
    }
    let input = match rules::parse_consent(&body, st.clock.now_local_secs()) {
        Ok(i) => i,
        Err(errs) => return errors_response(&errs),
    };
    let endpoint = if v2 { "v2/consents" } else { "consents" };
    let mut store = lock(&st.store);
    if v2 {
        if let Some(prev) = store.same_as_stored(now, iys, brand, &input) {
            store.remember_v2(iys, brand, canonical, &prev);
            return Response::json(200, &accepted_json(&prev));
        }
    }
    match store.add_single(now, iys, brand, &input, endpoint) {
        Ok(acc) => {
            if v2 {
                store.remember_v2(iys, brand, canonical, &acc);
            }
            Response::json(200, &accepted_json(&acc))
        }
        Err(code) => error_response(code),
    }
}

/// `POST .../consents/request`: validates the whole list synchronously (422 with item
/// indexes), then queues it; state rules are applied per item when the batch is processed.
///
/// H194 marks an item that repeats an earlier one's recipient + recipientType + type, and also
/// one whose recipient (address) appeared earlier in the list with another status: the
/// document forbids different statuses of one address in one list (IYS's write queue keeps one
/// movement per address) and its own example of that case is named `statusOrderError`, H194.
pub fn batch_add(st: &State, req: &Request, iys: u64, brand: u64, v2: bool) -> Response {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Value::Array(items) = body else {
        return error_response("H092");
    };
    if items.is_empty() {
        return error_response("H092");
    }
    if items.len() > MAX_LIST {
        return error_response("H091");
    }
    let now_local = st.clock.now_local_secs();
    let mut errs = Vec::new();
    let mut inputs = Vec::with_capacity(items.len());
    let mut seen: HashSet<(String, RecipientType, ConsentType)> = HashSet::with_capacity(items.len());
    let mut statuses: HashMap<String, Status> = HashMap::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match rules::parse_consent(item, now_local) {
            Ok(input) => {
                let repeated = !seen.insert((input.recipient.clone(), input.recipient_type, input.consent_type));
                let first_status = *statuses.entry(input.recipient.clone()).or_insert(input.status);
                if repeated || first_status != input.status {
                    errs.push(ApiError::new("H194").with_index(index));
                }
                inputs.push(input);
            }
            Err(item_errs) => errs.extend(item_errs.into_iter().map(|e| e.with_index(index))),
        }
    }
    if !errs.is_empty() {
        return Response::json(422, &errors::envelope(&errs));
    }
    let settings = st.settings();
    let now = st.clock.now_ms();
    let (batch, body) = new_batch(inputs, now);
    lock(&st.store).submit_batch(now, settings.batch_delay_ms, settings.batch_enqueue_ms, iys, brand, v2, batch);
    Response::json(202, &body)
}

/// `GET .../consents/request/{requestId}`.
pub fn batch_result(st: &State, iys: u64, brand: u64, request_id: &str) -> Response {
    let id_error = if request_id.chars().count() > 36 {
        Some("H198")
    } else if request_id.chars().all(|c| c.is_alphabetic()) {
        Some("H199")
    } else if request_id.chars().all(|c| c.is_ascii_digit()) {
        Some("H400")
    } else {
        None
    };
    if let Some(code) = id_error {
        return errors_response(&[ApiError::at(code, "requestId").with_value(&Value::from(request_id))]);
    }
    let now = st.clock.now_ms();
    let results = lock(&st.store).batch_results(now, iys, brand, request_id);
    Response::json(200, &results)
}

/// Checks a recipient for a query; e-mails are compared lower-cased, as IYS stores them.
fn query_recipient(raw: &str, ct: ConsentType) -> Result<String, Vec<ApiError>> {
    if !ct.wants_email() && raw.len() > 15 {
        return Err(vec![ApiError::at("H166", "recipient").with_value(&Value::from(raw))]);
    }
    rules::check_recipient(raw, ct).map_err(|errs| errs.into_iter().filter(|e| e.code != "H160").collect())
}

/// `POST .../consents/status`: the current consent of one recipient. A recipient IYS holds
/// nothing for gets `200 {}`.
pub fn single_status(st: &State, req: &Request, iys: u64, brand: u64) -> Response {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(obj) = body.as_object() else {
        return error_response("H097");
    };
    let mut errs = Vec::new();
    let rt = match obj.get("recipientType") {
        None => {
            errs.push(ApiError::at("H170", "recipientType"));
            None
        }
        Some(v) => {
            let rt = v.as_str().and_then(RecipientType::parse);
            if rt.is_none() {
                errs.push(ApiError::at("H116", "recipientType").with_value(v));
            }
            rt
        }
    };
    let ct = match obj.get("type") {
        None => {
            errs.push(ApiError::at("H111", "type"));
            None
        }
        Some(v) => {
            let ct = v.as_str().and_then(ConsentType::parse);
            if ct.is_none() {
                errs.push(ApiError::at("H117", "type").with_value(v));
            }
            ct
        }
    };
    let recipient = match (obj.get("recipient"), ct) {
        (None, _) => {
            errs.push(ApiError::at("H114", "recipient"));
            None
        }
        (Some(Value::String(r)), Some(ct)) => match query_recipient(r, ct) {
            Ok(r) => Some(r),
            Err(mut e) => {
                errs.append(&mut e);
                None
            }
        },
        (Some(Value::String(_)), None) => None,
        (Some(v), _) => {
            errs.push(ApiError::at("H114", "recipient").with_value(v));
            None
        }
    };
    if !errs.is_empty() {
        return errors_response(&errs);
    }
    let (Some(rt), Some(ct), Some(recipient)) = (rt, ct, recipient) else {
        return error_response("H097");
    };
    let key = ConsentKey { iys_code: iys, brand_code: brand, recipient, recipient_type: rt, consent_type: ct };
    let now = st.clock.now_ms();
    let mut store = lock(&st.store);
    match store.current(now, &key) {
        Some(c) => Response::json(200, &consent_json(&key, c, false)),
        None => Response::json(200, &json!({})),
    }
}

/// `POST .../consents/{recipientType}/status/{type}`: which of up to 1000 recipients are in
/// ONAY.
pub fn multi_status(st: &State, req: &Request, iys: u64, brand: u64, rt_raw: &str, ct_raw: &str) -> Response {
    let rt = RecipientType::parse(rt_raw);
    let ct = ConsentType::parse(ct_raw);
    let mut errs = Vec::new();
    if rt.is_none() {
        errs.push(ApiError::at("H116", "recipientType").with_value(&Value::from(rt_raw)));
    }
    if ct.is_none() {
        errs.push(ApiError::at("H117", "type").with_value(&Value::from(ct_raw)));
    }
    if !errs.is_empty() {
        return errors_response(&errs);
    }
    let (rt, ct) = (rt.unwrap_or(RecipientType::Bireysel), ct.unwrap_or(ConsentType::Mesaj));
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let list = match body.get("recipients") {
        None => return errors_response(&[ApiError::at("H168", "recipients")]),
        Some(Value::Array(l)) => l,
        Some(other) => return errors_response(&[ApiError::at("H478", "recipients").with_value(other)]),
    };
    if list.is_empty() {
        return errors_response(&[ApiError::at("H164", "recipients").with_value(&json!([]))]);
    }
    if list.len() > MAX_LIST {
        return errors_response(&[ApiError::at("H127", "recipients")]);
    }
    let mut recipients = Vec::with_capacity(list.len());
    let mut seen = HashSet::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let normalised = v.as_str().and_then(|s| rules::check_recipient(s, ct).ok());
        match normalised {
            None => errs.push(ApiError::at("H464", "recipient").with_value(v).with_message(errors::h464_message(ct))),
            Some(r) => {
                if !seen.insert(r.clone()) {
                    let mut e = ApiError::new("H193").with_value(v);
                    e.location = vec![Value::from("recipients"), Value::from(i)];
                    errs.push(e);
                }
                recipients.push(r);
            }
        }
    }
    if !errs.is_empty() {
        return errors_response(&errs);
    }
    let now = st.clock.now_ms();
    let approved = lock(&st.store).approved_among(now, iys, brand, rt, ct, &recipients);
    Response::json(200, &json!({ "requestId": ids::uuid(), "list": approved }))
}

/// `GET .../consents/changes?source=IYS|HS&limit=&after=`: movements of the last 7 days minus
/// the hold-back, oldest first; 204 when there is nothing new.
pub fn changes(st: &State, req: &Request, iys: u64, brand: u64) -> Response {
    let source = req.query_param("source").unwrap_or_else(|| "IYS".to_string());
    let citizen = match source.as_str() {
        "IYS" => true,
        "HS" => false,
        _ => return errors_response(&[ApiError::at("H506", "source").with_value(&Value::from(source.as_str()))]),
    };
    let limit = match req.query_param("limit") {
        None => MAX_LIST,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIST).contains(&n) => n,
            _ => return errors_response(&[ApiError::at("H507", "limit").with_value(&Value::from(l.as_str()))]),
        },
    };
    let after = req.query_param("after").filter(|a| !a.is_empty());
    let settings = st.settings();
    let now = st.clock.now_ms();
    let window_start = now - settings.changes_window_secs as i64 * 1000;
    let window_end = now - settings.changes_holdback_secs as i64 * 1000;
    let result = lock(&st.store).changes(now, iys, brand, citizen, after.as_deref(), limit, window_start, window_end);
    match result {
        // H098 is a 400 in the code table, but this operation documents 422 for bad parameters.
        Err(()) => Response::json(422, &errors::envelope(&[ApiError::at("H098", "after").with_value(&Value::from(after.unwrap_or_default()))])),
        Ok((mut list, next)) => {
            if citizen {
                list.append(&mut lock(&st.faults).unreadable_changes);
            }
            if list.is_empty() {
                Response::empty(204)
            } else {
                Response::json(200, &json!({ "after": next, "list": list }))
            }
        }
    }
}

/// `GET .../changes/{reportDate}/file`: the brand's movements of one Turkey-time day as CSV.
/// IYS writes the file at the end of each day, so today and later days have none yet (204,
/// "Dosya bulunamadı"); days more than a week back are refused (H502).
pub fn daily_file(st: &State, iys: u64, brand: u64, report_date: &str) -> Response {
    let refused = |code| errors_response(&[ApiError::at(code, "reportDate").with_value(&Value::from(report_date))]);
    let Some(day) = clock::parse_date(report_date) else {
        return refused("H501");
    };
    let now = st.clock.now_ms();
    let today = (now.div_euclid(1000) + TURKEY_OFFSET_SECS).div_euclid(86_400);
    if day >= today {
        return Response::empty(204);
    }
    if today - day > DAILY_FILE_DAYS {
        return refused("H502");
    }
    let from_ms = (day * 86_400 - TURKEY_OFFSET_SECS) * 1000;
    let file = lock(&st.store).daily_file(now, iys, brand, from_ms, from_ms + 86_400_000);
    Response::csv(200, file)
}

// ---- İzin Hareketi İletimi (Push) ---------------------------------------------------------------

/// The texts the push operations' examples give their codes, where they differ from the table's
/// (H093 is "transactionId bulunamadı." there, H191 "brandCode integer ...").
const PUSH_USERNAME_MISSING: &str = "Kullanıcı adı (username) bulunamadı.";
const PUSH_PASSWORD_MISSING: &str = "Şifre (password) bulunamadı.";
const PUSH_TIMEOUT: &str = "Bağlantı zaman aşımına uğradı.";
const PUSH_NOT_CONNECTED: &str = "Bağlantı oluşturulamadı.";
const PUSH_NOT_REMOVED: &str = "Bağlantı kaldırılamadı.";

/// `https://` (any case) and a host: IYS connects no other address.
fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.get(..8).filter(|scheme| scheme.eq_ignore_ascii_case("https://")).map(|_| &url[8..]) else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A credential: a non-blank string, else H093 at `field` with the operation's text.
fn push_credential(obj: &serde_json::Map<String, Value>, field: &str, message: &'static str, errs: &mut Vec<ApiError>) -> Option<String> {
    match obj.get(field) {
        Some(Value::String(v)) if !v.trim().is_empty() => Some(v.clone()),
        _ => {
            errs.push(ApiError::at("H093", field).with_message(message));
            None
        }
    }
}

/// One `{url, type, username, password}` with the documented codes, in the documented shapes:
/// a missing url is H531 at `url` (`urlNotFound`), a non-https one H531 alone
/// (`httpsRequired`); `index` marks the item when a registration lists several.
fn push_target(obj: &serde_json::Map<String, Value>, index: Option<usize>, errs: &mut Vec<ApiError>) -> Option<Target> {
    let before = errs.len();
    let url = match obj.get("url") {
        None | Some(Value::Null) => {
            errs.push(ApiError::at("H531", "url"));
            None
        }
        Some(Value::String(u)) if is_https_url(u) => Some(u.clone()),
        Some(_) => {
            errs.push(ApiError::new("H531"));
            None
        }
    };
    let consent_type = match obj.get("type") {
        None | Some(Value::Null) => {
            errs.push(ApiError::at("H111", "type"));
            None
        }
        Some(t) => {
            let ct = t.as_str().and_then(ConsentType::parse);
            if ct.is_none() {
                errs.push(ApiError::at("H117", "type").with_value(t));
            }
            ct
        }
    };
    let username = push_credential(obj, "username", PUSH_USERNAME_MISSING, errs);
    let password = push_credential(obj, "password", PUSH_PASSWORD_MISSING, errs);
    if let Some(i) = index {
        for e in &mut errs[before..] {
            e.index = Some(i);
        }
    }
    Some(Target { url: url?, consent_type: consent_type?, username: username?, password: password? })
}

fn push_message(text: &str) -> Response {
    Response::json(200, &json!({ "message": text }))
}

/// 422 H530 for a type that has its two active connections already; `location` and `value`
/// say which type, since the document's bare H530 would not tell it from an unusable address.
fn over_limit_response(OverLimit(ct): OverLimit) -> Response {
    let e = ApiError::at("H530", "type").with_value(&Value::from(ct.as_str())).with_message(PUSH_NOT_CONNECTED);
    errors_response(&[e])
}

fn check_failure_response(f: &CheckFailure) -> Response {
    let e = match f {
        CheckFailure::Timeout => ApiError::new("H191").with_message(PUSH_TIMEOUT),
        CheckFailure::Failed(_) => ApiError::new("H530").with_message(PUSH_NOT_CONNECTED),
    };
    errors_response(&[e])
}

/// `POST .../push/registration` with `{"connection": [{url, type, username, password}, ...]}`.
///
/// After the format checks and the two-per-type limit, IYS checks each address as the
/// document says (it enforces basic authentication, answers within 5 s) and posts it the test
/// datum; only if every address passes are they connected (all or none). An address that
/// fails is listed with status "Bağlantı Oluşturulamadı", as the document's example shows.
/// No lock is held while addresses are contacted.
pub fn push_register(st: &State, req: &Request, iys: u64, brand: u64) -> Response {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Not the documented shape at all: 400 H014, the operation's 400 example.
    let Some(Value::Array(list)) = body.get("connection") else {
        return error_response("H014");
    };
    let items: Vec<&serde_json::Map<String, Value>> = list.iter().filter_map(Value::as_object).collect();
    if items.is_empty() || items.len() != list.len() {
        return error_response("H014");
    }
    let mut errs = Vec::new();
    let several = items.len() > 1;
    let targets: Vec<Option<Target>> = items.iter().enumerate().map(|(i, obj)| push_target(obj, several.then_some(i), &mut errs)).collect();
    if !errs.is_empty() {
        return errors_response(&errs);
    }
    let targets: Vec<Target> = targets.into_iter().flatten().collect();
    if let Some(over) = st.push.over_limit(iys, brand, &targets) {
        return over_limit_response(over);
    }
    let client = st.push.client();
    for t in &targets {
        if let Err(f) = push::check_address(&client, t) {
            st.push.record_failure(iys, brand, t, &f, st.clock.now_ms());
            return check_failure_response(&f);
        }
    }
    match st.push.connect(iys, brand, &targets, st.clock.now_ms()) {
        Ok(()) => push_message("Bağlantı oluşturuldu"),
        Err(over) => over_limit_response(over),
    }
}

/// `GET .../push/registration`: the brand's connections (`[]` when none).
pub fn push_connections(st: &State, iys: u64, brand: u64) -> Response {
    Response::json(200, &Value::Array(st.push.list(iys, brand)))
}

/// `POST .../push/unregistration` with `{url, type, username, password}`: removes that one
/// connection if the credentials are the registered ones, else 422 H530 "Bağlantı
/// kaldırılamadı.". The address is not contacted.
pub fn push_unregister(st: &State, req: &Request, iys: u64, brand: u64) -> Response {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(obj) = body.as_object() else {
        return error_response("H014");
    };
    let mut errs = Vec::new();
    let target = push_target(obj, None, &mut errs);
    let Some(target) = target.filter(|_| errs.is_empty()) else {
        return errors_response(&errs);
    };
    if st.push.disconnect(iys, brand, &target) {
        push_message("Bağlantı Kaldırıldı")
    } else {
        errors_response(&[ApiError::new("H530").with_message(PUSH_NOT_REMOVED)])
    }
}
