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
    /// Anything else: final for what was sent.
    Final,
}

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

    /// Classifies an HTTP error answer. `batch` marks the batch-add endpoint, whose 422 means
    /// "these items are bad" rather than "this request is bad".
    pub fn from_status(status: u16, errors: Vec<EnvelopeError>, batch: bool) -> CallFailure {
        let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
        let kind = if codes.contains(&"H084") {
            FailureKind::TokenLimit
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
        assert_eq!(CallFailure::from_status(429, err("H084", None), false).kind, FailureKind::TokenLimit);
        assert_eq!(CallFailure::from_status(429, err("H124", None), true).kind, FailureKind::Retryable);
        assert_eq!(CallFailure::from_status(401, err("H351", None), true).kind, FailureKind::Unauthorized);
        assert_eq!(CallFailure::from_status(503, err("H192", None), true).kind, FailureKind::Retryable);
        assert_eq!(CallFailure::from_status(502, Vec::new(), true).kind, FailureKind::Retryable);
        assert_eq!(CallFailure::from_status(422, err("H467", Some(4)), true).kind, FailureKind::BatchRejected);
        assert_eq!(CallFailure::from_status(422, err("H467", Some(4)), false).kind, FailureKind::Final);
        assert_eq!(CallFailure::from_status(400, err("H118", None), true).kind, FailureKind::Final);
        assert_eq!(CallFailure::from_status(403, err("H999", None), true).kind, FailureKind::Final);
        assert!(CallFailure::transport("timed out").is_retryable());
    }

    #[test]
    fn converts_to_the_crate_error_with_code() {
        let e: Error = CallFailure::from_status(503, err("H192", None), true).into();
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
