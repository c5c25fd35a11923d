//! How a failed IYS call is classified, which decides what the worker does next.

use super::wire::EnvelopeError;
use crate::core::{is_retryable_code, Error};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer: connect refused, reset, timeout. Retry with backoff.
    Transport,
    /// IYS is overloaded or failing (5xx, 429 H124, retryable codes). Retry with backoff.
    Retryable,
    /// 401 / H351: the access token is expired or revoked. Refresh once, then retry.
    Unauthorized,
    /// 429 H084 on the token endpoint: no token call for a full hour.
    TokenLimit,
    /// 422 on a batch: IYS refused the whole list; `errors` name the offending items by index.
    BatchRejected,
    /// IYS refuses the account or brand, not the records: 403 (H353 not authorised for this
    /// iysCode/brandCode; H520/H521/H524/H586 subscription paused, expired, closed, missing or
    /// without API), 422 H525 (consent quota used up), 404. Pause and keep the records.
    AccountRefused,
    /// The token endpoint refused the account's username or password.
    BadCredentials,
    /// Anything else: final for what was sent.
    Final,
}

/// Which call failed: the same status means different things on different endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    TokenPassword,
    TokenRefresh,
    BatchSubmit,
    /// The single status query (`consents/status`): besides IYS's 10 requests a second (H124)
    /// it has a limit of its own, 1000 queries an hour per IP (H086).
    StatusQuery,
    /// Batch results, changes, multi status, the daily file: everything else under /sps/.
    Other,
    /// İLETİ ViA (consent requests, one-time codes, opt-out links): its own codes, and a 404
    /// that is about the request (H1112), not the account.
    Via,
}

impl Call {
    fn is_token(self) -> bool {
        matches!(self, Call::TokenPassword | Call::TokenRefresh)
    }
}

/// Codes that refuse the account, not the records (whatever the HTTP status).
pub(super) const ACCOUNT_CODES: &[&str] = &["H353", "H520", "H521", "H524", "H525", "H586"];

/// ViA codes that refuse the account's use of ViA, not the request: no ViA credit (H1015), the
/// consent quota used up (H1031), the subscription inactive or missing (H1092, H1093), no ViA
/// permission (H1104), the iysCode not the user's (H1040), identity service refusal (H1046).
const VIA_ACCOUNT_CODES: &[&str] = &["H1015", "H1031", "H1040", "H1046", "H1092", "H1093", "H1104"];

/// ViA codes that ask to try again: IYS's own services unreachable or failing.
const VIA_RETRY_CODES: &[&str] = &["H1001", "H1002", "H1003", "H1004", "H1009", "H1017", "H1019", "H1047", "H1053", "H1059"];

/// IYS's limit of single status queries an hour (429).
const STATUS_QUERY_LIMIT: &str = "H086";

#[derive(Debug, Clone)]
pub struct CallFailure {
    pub kind: FailureKind,
    pub status: Option<u16>,
    pub errors: Vec<EnvelopeError>,
    /// Short description for logs and status views. Never contains credentials or tokens.
    pub message: String,
}

impl CallFailure {
    pub fn transport(message: impl Into<String>) -> CallFailure {
        CallFailure { kind: FailureKind::Transport, status: None, errors: Vec::new(), message: message.into() }
    }

    /// Classifies an HTTP error answer of a call to `endpoint`.
    pub fn from_status(status: u16, errors: Vec<EnvelopeError>, endpoint: Call) -> CallFailure {
        let errors = if endpoint == Call::StatusQuery && status == 429 && errors.iter().all(|e| e.code.is_empty()) {
            // A 429 of the status query that names no limit is read as the hourly one: waiting
            // for the hour cannot overload IYS, retrying every second might.
            vec![EnvelopeError { code: STATUS_QUERY_LIMIT.into(), message: "HTTP 429 without a code: taken as the hourly limit of single status queries".into(), ..Default::default() }]
        } else {
            errors
        };
        let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
        let batch = endpoint == Call::BatchSubmit;
        let via = endpoint == Call::Via;
        let kind = if via && (status == 403 || codes.iter().any(|c| VIA_ACCOUNT_CODES.contains(c) || ACCOUNT_CODES.contains(c))) {
            FailureKind::AccountRefused
        } else if via && (status == 401 || codes.iter().any(|c| matches!(*c, "H351" | "H1038" | "H1045"))) {
            FailureKind::Unauthorized
        } else if via && (status >= 500 || status == 429 || status == 408 || codes.iter().any(|c| VIA_RETRY_CODES.contains(c) || is_retryable_code(c))) {
            FailureKind::Retryable
        } else if via {
            FailureKind::Final
        } else if codes.contains(&"H084") || (endpoint.is_token() && status == 429 && !codes.contains(&"H124")) {
            // IYS does not document H084's shape (an errors list, a flat object, no body): any
            // 429 of the token endpoint stops token calls for the hour, unless IYS says it is
            // its per-second limit (H124), which a later call passes.
            FailureKind::TokenLimit
        } else if endpoint == Call::TokenPassword && matches!(status, 400 | 401 | 403) {
            FailureKind::BadCredentials
        } else if !endpoint.is_token() && (status == 403 || status == 404 || codes.iter().any(|c| ACCOUNT_CODES.contains(c))) {
            FailureKind::AccountRefused
        } else if status == 401 || codes.contains(&"H351") {
            FailureKind::Unauthorized
        } else if status == 422 && batch && errors.iter().any(|e| e.index.is_some()) {
            FailureKind::BatchRejected
        } else if status >= 500 || status == 429 || status == 408 || codes.iter().any(|c| is_retryable_code(c)) {
            FailureKind::Retryable
        } else {
            FailureKind::Final
        };
        let message = match errors.first() {
            Some(e) => format!("HTTP {status} {}: {}", e.code, e.message),
            None => format!("HTTP {status}"),
        };
        CallFailure { kind, status: Some(status), errors, message }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, FailureKind::Transport | FailureKind::Retryable)
    }

    /// IYS refused the call for its request rate, not for what was asked: 429 H124 (10 requests
    /// a second, any call) or H086 (1000 single status queries an hour). Retryable; after H086
    /// ([`CallFailure::is_status_query_limit`]) no single status query should go out for up to
    /// an hour. The token endpoint's own limit (H084) is [`FailureKind::TokenLimit`] instead.
    // Callers may still test `status == Some(429)`, which covers both limits alike.
    pub fn is_rate_limited(&self) -> bool {
        self.kind != FailureKind::TokenLimit && (self.status == Some(429) || self.has_code("H124") || self.is_status_query_limit())
    }

    /// The hourly limit of single status queries (H086) is reached.
    pub fn is_status_query_limit(&self) -> bool {
        self.has_code(STATUS_QUERY_LIMIT)
    }

    fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// Whether the refusal is about one brand (H353, 404) rather than the whole account.
    pub fn is_brand_refusal(&self) -> bool {
        self.status == Some(404) || self.code() == Some("H353")
    }

    /// The first IYS code of the answer, if any.
    pub fn code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str()).filter(|c| !c.is_empty())
    }
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<CallFailure> for Error {
    fn from(failure: CallFailure) -> Error {
        Error::Http {
            status: failure.status,
            code: failure.code().map(str::to_owned),
            retryable: failure.is_retryable(),
            message: failure.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, index: Option<usize>) -> Vec<EnvelopeError> {
        vec![EnvelopeError { code: code.into(), index, ..Default::default() }]
    }

    #[test]
    fn classification_follows_iys_codes_and_statuses() {
        use Call::*;
        let kind = |status, errors, call| CallFailure::from_status(status, errors, call).kind;
        assert_eq!(kind(429, err("H084", None), TokenPassword), FailureKind::TokenLimit);
        assert_eq!(kind(429, err("H124", None), BatchSubmit), FailureKind::Retryable);
        assert_eq!(kind(401, err("H351", None), BatchSubmit), FailureKind::Unauthorized);
        assert_eq!(kind(503, err("H192", None), BatchSubmit), FailureKind::Retryable);
        assert_eq!(kind(502, Vec::new(), BatchSubmit), FailureKind::Retryable);
        assert_eq!(kind(422, err("H467", Some(4)), BatchSubmit), FailureKind::BatchRejected);
        assert_eq!(kind(422, err("H467", Some(4)), Other), FailureKind::Final);
        assert_eq!(kind(400, err("H118", None), BatchSubmit), FailureKind::Final);
        assert!(CallFailure::transport("timed out").is_retryable());
    }

    #[test]
    fn status_query_limits_are_recognisable_rate_limits() {
        let h086 = CallFailure::from_status(429, err("H086", None), Call::StatusQuery);
        assert!(h086.is_retryable() && h086.is_rate_limited() && h086.is_status_query_limit(), "{h086:?}");
        let h124 = CallFailure::from_status(429, err("H124", None), Call::StatusQuery);
        assert!(h124.is_retryable() && h124.is_rate_limited() && !h124.is_status_query_limit(), "{h124:?}");
        // No code at all: the stricter, hourly reading.
        let bare = CallFailure::from_status(429, Vec::new(), Call::StatusQuery);
        assert!(bare.is_rate_limited() && bare.is_status_query_limit(), "{bare:?}");
        assert_eq!(bare.code(), Some("H086"));
        // Elsewhere a bare 429 is the per-second limit; H084 is the token halt, not a rate limit.
        let other = CallFailure::from_status(429, Vec::new(), Call::Other);
        assert!(other.is_rate_limited() && !other.is_status_query_limit());
        assert!(!CallFailure::from_status(429, err("H084", None), Call::TokenPassword).is_rate_limited());
        assert!(!CallFailure::from_status(422, err("H117", None), Call::StatusQuery).is_rate_limited());
    }

    #[test]
    fn any_429_of_the_token_endpoint_is_the_h084_halt() {
        for call in [Call::TokenPassword, Call::TokenRefresh] {
            assert_eq!(CallFailure::from_status(429, Vec::new(), call).kind, FailureKind::TokenLimit);
            assert_eq!(CallFailure::from_status(429, err("H999", None), call).kind, FailureKind::TokenLimit);
            assert_eq!(CallFailure::from_status(429, err("H124", None), call).kind, FailureKind::Retryable);
        }
        // The flat shape {code, message} is read too.
        let flat = super::super::wire::parse_error_envelope(r#"{"code":"H084","message":"limit"}"#);
        assert_eq!(CallFailure::from_status(429, flat, Call::Other).kind, FailureKind::TokenLimit);
    }

    #[test]
    fn account_refusals_pause_instead_of_rejecting() {
        use Call::*;
        for (status, code) in [(403, "H353"), (403, "H520"), (403, "H521"), (403, "H524"), (403, "H586"), (422, "H525"), (403, "H999")] {
            let failure = CallFailure::from_status(status, err(code, None), BatchSubmit);
            assert_eq!(failure.kind, FailureKind::AccountRefused, "{status} {code}");
            assert_eq!(failure.is_brand_refusal(), code == "H353");
        }
        let not_found = CallFailure::from_status(404, Vec::new(), Other);
        assert_eq!(not_found.kind, FailureKind::AccountRefused);
        assert!(not_found.is_brand_refusal());
        assert_eq!(CallFailure::from_status(401, Vec::new(), TokenPassword).kind, FailureKind::BadCredentials);
        assert_eq!(CallFailure::from_status(400, Vec::new(), TokenPassword).kind, FailureKind::BadCredentials);
        assert_ne!(CallFailure::from_status(400, Vec::new(), TokenRefresh).kind, FailureKind::BadCredentials);
    }

    #[test]
    fn converts_to_the_crate_error_with_code() {
        let e: Error = CallFailure::from_status(503, err("H192", None), Call::BatchSubmit).into();
        match e {
            Error::Http { status, code, retryable, .. } => {
                assert_eq!(status, Some(503));
                assert_eq!(code.as_deref(), Some("H192"));
                assert!(retryable);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
