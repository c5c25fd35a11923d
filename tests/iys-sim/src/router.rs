//! Routing and the checks every IYS call goes through, in IYS's order: injected network faults,
//! the per-second rate limit, then the token endpoint or bearer authentication, then the
//! account-level refusal (if injected), the hourly limit of single status queries, then the
//! endpoint itself. The ViA calls under `/via/sps/{iysCode}` name an account but no brand.

use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::admin;
use crate::api;
use crate::errors::{self, ApiError};
use crate::faults::{self, TokenLimitShape};
use crate::http::{parse_urlencoded, Reply, Request, Response};
use crate::state::{lock, State};
use crate::via;

/// The IYS operations the simulator serves.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Token,
    SingleAdd { v2: bool },
    BatchAdd { v2: bool },
    BatchResult { v2: bool, request_id: String },
    Status,
    MultiStatus { recipient_type: String, consent_type: String },
    Changes,
    DailyFile { report_date: String },
    PushRegister,
    PushConnections,
    PushUnregister,
    ViaStart,
    ViaStatus { request_id: String },
    ViaConfirm,
    ViaHashLinks,
    Admin,
    /// Known path, other method.
    WrongMethod,
    NotFound,
}

impl Route {
    /// Method and OpenAPI path template, the name used by `/admin/stats`.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Token => "POST /oauth2/token",
            Route::SingleAdd { v2: false } => "POST /sps/{iysCode}/brands/{brandCode}/consents",
            Route::SingleAdd { v2: true } => "POST /v2/sps/{iysCode}/brands/{brandCode}/consents",
            Route::BatchAdd { v2: false } => "POST /sps/{iysCode}/brands/{brandCode}/consents/request",
            Route::BatchAdd { v2: true } => "POST /v2/sps/{iysCode}/brands/{brandCode}/consents/request",
            Route::BatchResult { v2: false, .. } => "GET /sps/{iysCode}/brands/{brandCode}/consents/request/{requestId}",
            Route::BatchResult { v2: true, .. } => "GET /v2/sps/{iysCode}/brands/{brandCode}/consents/request/{requestId}",
            Route::Status => "POST /sps/{iysCode}/brands/{brandCode}/consents/status",
            Route::MultiStatus { .. } => "POST /sps/{iysCode}/brands/{brandCode}/consents/{recipientType}/status/{type}",
            Route::Changes => "GET /sps/{iysCode}/brands/{brandCode}/consents/changes",
            Route::DailyFile { .. } => "GET /sps/{iysCode}/brands/{brandCode}/changes/{reportDate}/file",
            Route::PushRegister => "POST /sps/{iysCode}/brands/{brandCode}/push/registration",
            Route::PushConnections => "GET /sps/{iysCode}/brands/{brandCode}/push/registration",
            Route::PushUnregister => "POST /sps/{iysCode}/brands/{brandCode}/push/unregistration",
            Route::ViaStart => "POST /via/sps/{iysCode}/consent",
            Route::ViaStatus { .. } => "GET /via/sps/{iysCode}/consent/request/{requestId}",
            Route::ViaConfirm => "POST /via/sps/{iysCode}/confirmation",
            Route::ViaHashLinks => "POST /sps/{iysCode}/brands/{brandCode}/via-hash-links",
            Route::Admin => "admin",
            Route::WrongMethod => "wrong method",
            Route::NotFound => "not found",
        }
    }

    /// Calls that change consents: the ones a lost reply makes ambiguous.
    fn writes(&self) -> bool {
        matches!(self, Route::SingleAdd { .. } | Route::BatchAdd { .. })
    }

    fn is_push(&self) -> bool {
        matches!(self, Route::PushRegister | Route::PushConnections | Route::PushUnregister)
    }

    /// The calls under `/via/sps/{iysCode}`, which document codes of their own.
    fn is_via(&self) -> bool {
        matches!(self, Route::ViaStart | Route::ViaStatus { .. } | Route::ViaConfirm)
    }

    /// Calls the consent quota (H525) does not concern: they add no consent.
    fn quota_free(&self) -> bool {
        self.is_push() || matches!(self, Route::ViaStatus { .. } | Route::ViaHashLinks)
    }
}

/// The raw iysCode and, for brand routes, brandCode segments of a path.
pub type Codes<'a> = (&'a str, Option<&'a str>);

/// Splits a path into its route and its raw iysCode (and brandCode) segments.
pub fn classify<'a>(method: &str, path: &'a str) -> (Route, Option<Codes<'a>>) {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segs.first() == Some(&"admin") {
        return (Route::Admin, None);
    }
    if segs == ["oauth2", "token"] {
        return (if method == "POST" { Route::Token } else { Route::WrongMethod }, None);
    }
    if let ["via", "sps", iys, tail @ ..] = segs.as_slice() {
        // The other ViA calls (KVK consent queries, the clarification file) are not served.
        let (route, wanted) = match tail {
            ["consent"] => (Route::ViaStart, "POST"),
            ["consent", "request", id] => (Route::ViaStatus { request_id: id.to_string() }, "GET"),
            ["confirmation"] => (Route::ViaConfirm, "POST"),
            _ => return (Route::NotFound, None),
        };
        return if method == wanted { (route, Some((*iys, None))) } else { (Route::WrongMethod, None) };
    }
    let (v2, rest) = match segs.as_slice() {
        ["v2", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let [ "sps", iys, "brands", brand, area, tail @ .. ] = rest else {
        return (Route::NotFound, None);
    };
    let codes = Some((*iys, Some(*brand)));
    if *area == "via-hash-links" {
        return match (v2, tail, method) {
            (false, [], "POST") => (Route::ViaHashLinks, codes),
            (false, [], _) => (Route::WrongMethod, None),
            _ => (Route::NotFound, None),
        };
    }
    if *area == "changes" {
        // The daily movement file is the only `changes/...` call served (not the summary).
        let (false, [date, "file"]) = (v2, tail) else {
            return (Route::NotFound, None);
        };
        let route = Route::DailyFile { report_date: date.to_string() };
        return if method == "GET" { (route, codes) } else { (Route::WrongMethod, None) };
    }
    if *area == "push" {
        let route = match (v2, tail, method) {
            (false, ["registration"], "POST") => Route::PushRegister,
            (false, ["registration"], "GET") => Route::PushConnections,
            (false, ["unregistration"], "POST") => Route::PushUnregister,
            (false, ["registration" | "unregistration"], _) => Route::WrongMethod,
            _ => Route::NotFound,
        };
        return if route.is_push() { (route, codes) } else { (route, None) };
    }
    if *area != "consents" {
        return (Route::NotFound, None);
    }
    let (route, wanted) = match (v2, tail) {
        (_, []) => (Route::SingleAdd { v2 }, "POST"),
        (_, ["request"]) => (Route::BatchAdd { v2 }, "POST"),
        (_, ["request", id]) => (Route::BatchResult { v2, request_id: id.to_string() }, "GET"),
        (false, ["status"]) => (Route::Status, "POST"),
        (false, ["changes"]) => (Route::Changes, "GET"),
        (false, [rt, "status", t]) => (Route::MultiStatus { recipient_type: rt.to_string(), consent_type: t.to_string() }, "POST"),
        _ => return (Route::NotFound, None),
    };
    if method != wanted {
        return (Route::WrongMethod, None);
    }
    (route, codes)
}

pub fn error_response(code: &'static str) -> Response {
    Response::json(errors::status_of(code), &errors::envelope(&[ApiError::new(code)]))
}

/// Entry point for every HTTP request.
pub fn handle(st: &State, req: &Request) -> Reply {
    let (route, codes) = classify(&req.method, &req.path);
    if route == Route::Admin {
        return Reply::Send(admin::handle(st, req));
    }
    let outcome = handle_iys(st, req, &route, codes);
    let (reply, label) = match outcome {
        Outcome::Answer(r) => {
            let status = r.status.to_string();
            (Reply::Send(r), status)
        }
        Outcome::Dropped => (Reply::Drop, "dropped".to_string()),
        Outcome::LostReply => (Reply::Drop, "lost_reply".to_string()),
    };
    lock(&st.stats).record(route.name(), &label);
    reply
}

/// What happened to an IYS call, for the reply and for `/admin/stats`.
enum Outcome {
    Answer(Response),
    /// Closed unanswered before processing (`drop_rate`).
    Dropped,
    /// Processed, then closed unanswered (`lost_reply_rate`).
    LostReply,
}

impl From<Response> for Outcome {
    fn from(r: Response) -> Self {
        Outcome::Answer(r)
    }
}

fn handle_iys(st: &State, req: &Request, route: &Route, codes: Option<Codes>) -> Outcome {
    let standing = lock(&st.faults).clone();
    if faults::roll(standing.drop_rate) {
        return Outcome::Dropped;
    }
    if standing.latency_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(standing.latency_ms));
    }
    if lock(&st.faults).take_burst() {
        return error_response("H124").into();
    }
    let settings = st.settings();
    if let Some(limit) = settings.rate_limit_per_sec {
        if !lock(&st.limiter).admit(req.peer.ip(), limit, Instant::now()) {
            return error_response("H124").into();
        }
    }
    if *route == Route::Token {
        return token_endpoint(st, req).into();
    }
    if !authenticated(st, req) {
        // The ViA calls document H1045 for the same text.
        return error_response(if route.is_via() { "H1045" } else { "H351" }).into();
    }
    let Some((iys_raw, brand_raw)) = codes else {
        let status = if *route == Route::WrongMethod { 405 } else { 404 };
        let body = json!({"errors": [{"code": status.to_string(), "message": format!("{} {} is not served by the IYS simulator", req.method, req.path)}]});
        return Response::json(status, &body).into();
    };
    if faults::roll(standing.error_rate) {
        return error_response(faults::pick_server_error()).into();
    }
    let (iys, brand) = match (iys_raw.parse::<u64>(), brand_raw.map(str::parse::<u64>)) {
        (Ok(iys), None) => (iys, None),
        (Ok(iys), Some(Ok(brand))) => (iys, Some(brand)),
        // The ViA calls document no 422: an iysCode that cannot be an account's number is
        // not the caller's.
        (Err(_), None) => return error_response("H1040").into(),
        (iys, brand) => {
            let mut errs = Vec::new();
            if iys.is_err() {
                errs.push(ApiError::at("H190", "iysCode").with_value(&Value::from(iys_raw)));
            }
            if brand.is_some_and(|b| b.is_err()) {
                errs.push(ApiError::at("H191", "brandCode").with_value(&Value::from(brand_raw.unwrap_or_default())));
            }
            return Response::json(422, &errors::envelope(&errs)).into();
        }
    };
    // Account-level refusal (subscription, authorisation, quota): nothing is processed. The
    // consent quota (422 H525) does not concern calls that add no consent (push connections,
    // whose operations document no such answer, the ViA status query and the opt-out links);
    // ViA's own calls answer it as 400 H1031, as they document.
    let refused = |r: &&faults::AccountRefusal| r.applies_to(iys, brand) && !(route.quota_free() && r.code == Some("H525"));
    if let Some(refusal) = standing.account_refusal.as_ref().filter(refused) {
        if refusal.code == Some("H525") && route.is_via() {
            return via::quota_refused().into();
        }
        return Response::json(refusal.status, &errors::account_refusal_body(refusal.code, iys)).into();
    }
    if *route == Route::Status {
        if let Some(limit) = settings.status_limit_per_hour {
            let now = st.clock.now_ms();
            if !lock(&st.status_limiter).admit(req.peer.ip(), limit, 3_600_000, now) {
                return error_response("H086").into();
            }
        }
    }
    let resp = match (route, brand) {
        (Route::ViaStart, _) => via::start(st, req, iys),
        (Route::ViaStatus { request_id }, _) => via::status(st, iys, request_id),
        (Route::ViaConfirm, _) => via::confirm(st, req, iys),
        (_, None) => unreachable!("the other routes carry a brandCode"),
        (Route::SingleAdd { v2 }, Some(brand)) => api::single_add(st, req, iys, brand, *v2),
        (Route::BatchAdd { v2 }, Some(brand)) => api::batch_add(st, req, iys, brand, *v2),
        (Route::BatchResult { request_id, .. }, Some(brand)) => api::batch_result(st, iys, brand, request_id),
        (Route::Status, Some(brand)) => api::single_status(st, req, iys, brand),
        (Route::MultiStatus { recipient_type, consent_type }, Some(brand)) => api::multi_status(st, req, iys, brand, recipient_type, consent_type),
        (Route::Changes, Some(brand)) => api::changes(st, req, iys, brand),
        (Route::DailyFile { report_date }, Some(brand)) => api::daily_file(st, iys, brand, report_date),
        (Route::PushRegister, Some(brand)) => api::push_register(st, req, iys, brand),
        (Route::PushConnections, Some(brand)) => api::push_connections(st, iys, brand),
        (Route::PushUnregister, Some(brand)) => api::push_unregister(st, req, iys, brand),
        (Route::ViaHashLinks, Some(brand)) => via::hash_links(st, req, iys, brand),
        _ => unreachable!("non-IYS routes are answered above"),
    };
    // Ambiguous failure: the change is applied, the answer never arrives.
    if route.writes() && resp.status < 300 && faults::roll(standing.lost_reply_rate) {
        return Outcome::LostReply;
    }
    Outcome::Answer(resp)
}

fn authenticated(st: &State, req: &Request) -> bool {
    let Some(h) = req.header("authorization") else { return false };
    let Some((scheme, token)) = h.split_once(' ') else { return false };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let now = st.clock.now_ms();
    lock(&st.tokens).user_of(token.trim(), now).is_some()
}

/// `POST /oauth2/token` with a JSON or form body.
fn token_endpoint(st: &State, req: &Request) -> Response {
    let now = st.clock.now_ms();
    let settings = st.settings().token;
    let mut tokens = lock(&st.tokens);
    if !tokens.admit(now, &settings) {
        let shape = lock(&st.faults).token_limit_shape;
        return token_limited(shape);
    }
    let is_form = req.header("content-type").is_some_and(|c| c.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let params: Map<String, Value> = if is_form {
        let text = String::from_utf8_lossy(&req.body);
        parse_urlencoded(&text).into_iter().map(|(k, v)| (k, Value::String(v))).collect()
    } else {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(m)) => m,
            _ => {
                let body = json!({"error": "invalid_request", "error_description": "Gönderilen istek JSON formatına uygun değil!"});
                return Response::json(400, &body);
            }
        }
    };
    match tokens.grant(&params, now, &settings) {
        Ok(v) => Response::json(200, &v),
        Err(e) => Response::json(400, &json!({"error": e.error, "error_description": e.description})),
    }
}

/// 429 H084 in the configured shape.
fn token_limited(shape: TokenLimitShape) -> Response {
    let message = errors::describe("H084").1;
    match shape {
        TokenLimitShape::Errors => error_response("H084"),
        TokenLimitShape::Flat => Response::json(429, &json!({ "code": "H084", "message": message })),
        TokenLimitShape::Empty => Response::empty(429),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(classify("POST", "/sps/1/brands/2/consents").0, Route::SingleAdd { v2: false });
        assert_eq!(classify("POST", "/v2/sps/1/brands/2/consents").0, Route::SingleAdd { v2: true });
        assert_eq!(classify("POST", "/v2/sps/1/brands/2/consents/request").0, Route::BatchAdd { v2: true });
        assert_eq!(
            classify("GET", "/sps/1/brands/2/consents/request/abc-1").0,
            Route::BatchResult { v2: false, request_id: "abc-1".into() }
        );
        assert_eq!(
            classify("POST", "/sps/1/brands/2/consents/BIREYSEL/status/MESAJ").0,
            Route::MultiStatus { recipient_type: "BIREYSEL".into(), consent_type: "MESAJ".into() }
        );
        assert_eq!(
            classify("GET", "/sps/1/brands/2/changes/2024-03-01/file"),
            (Route::DailyFile { report_date: "2024-03-01".into() }, Some(("1", Some("2"))))
        );
        assert_eq!(classify("POST", "/sps/1/brands/2/changes/2024-03-01/file").0, Route::WrongMethod);
        assert_eq!(classify("GET", "/v2/sps/1/brands/2/changes/2024-03-01/file").0, Route::NotFound);
        assert_eq!(classify("GET", "/sps/1/brands/2/changes/2024-03-01/recipients/BIREYSEL").0, Route::NotFound);
        assert_eq!(classify("GET", "/sps/1/brands/2/consents").0, Route::WrongMethod);
        assert_eq!(classify("GET", "/sps/1/brands/2/other").0, Route::NotFound);
        assert_eq!(classify("GET", "/admin/stats").0, Route::Admin);
        assert_eq!(classify("POST", "/sps/1/brands/2/push/registration"), (Route::PushRegister, Some(("1", Some("2")))));
        assert_eq!(classify("GET", "/sps/1/brands/2/push/registration").0, Route::PushConnections);
        assert_eq!(classify("POST", "/sps/1/brands/2/push/unregistration").0, Route::PushUnregister);
        assert_eq!(classify("GET", "/sps/1/brands/2/push/unregistration").0, Route::WrongMethod);
        assert_eq!(classify("POST", "/v2/sps/1/brands/2/push/registration").0, Route::NotFound);
        assert_eq!(classify("POST", "/sps/1/brands/2/push/other").0, Route::NotFound);
        assert_eq!(classify("POST", "/via/sps/1/consent"), (Route::ViaStart, Some(("1", None))));
        assert_eq!(classify("GET", "/via/sps/1/consent/request/r-1").0, Route::ViaStatus { request_id: "r-1".into() });
        assert_eq!(classify("POST", "/via/sps/1/confirmation").0, Route::ViaConfirm);
        assert_eq!(classify("GET", "/via/sps/1/consent").0, Route::WrongMethod);
        assert_eq!(classify("GET", "/via/sps/1/consent/r-1").0, Route::NotFound);
        assert_eq!(classify("POST", "/sps/1/brands/2/via-hash-links"), (Route::ViaHashLinks, Some(("1", Some("2")))));
        assert_eq!(classify("GET", "/sps/1/brands/2/via-hash-links").0, Route::WrongMethod);
        assert_eq!(classify("POST", "/v2/sps/1/brands/2/via-hash-links").0, Route::NotFound);
    }
}
