//! Fault injection for tests: failures IYS (or the network to it) can produce, switched on and
//! off at run time through `/admin/faults`.

use serde_json::{json, Map, Value};

/// How the token endpoint's 429 H084 answer looks. IYS documents the code and its text but no
/// body for it, so clients must recognise all of these (and any other 429 from that endpoint).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenLimitShape {
    /// `{"errors":[{"code":"H084","message":"..."}]}`, IYS's usual envelope.
    #[default]
    Errors,
    /// `{"code":"H084","message":"..."}`.
    Flat,
    /// Status 429 with an empty body.
    Empty,
}

impl TokenLimitShape {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "errors" => Some(Self::Errors),
            "flat" => Some(Self::Flat),
            "empty" => Some(Self::Empty),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Errors => "errors",
            Self::Flat => "flat",
            Self::Empty => "empty",
        }
    }
}

/// An account-level refusal: every consent endpoint answers `status` with `code` (and
/// processes nothing) for the matching iysCode/brandCode.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountRefusal {
    pub status: u16,
    /// `None` only for 404.
    pub code: Option<&'static str>,
    /// Limited to this iysCode, if given.
    pub iys_code: Option<u64>,
    /// Limited to this brandCode, if given.
    pub brand_code: Option<u64>,
}

/// The refusals the simulator can play, as (HTTP status, code): IYS's account-level answers.
pub const ACCOUNT_REFUSALS: [(u16, Option<&str>); 7] = [
    (403, Some("H353")),
    (403, Some("H520")),
    (403, Some("H521")),
    (403, Some("H524")),
    (403, Some("H586")),
    (422, Some("H525")),
    (404, None),
];

impl AccountRefusal {
    fn from_json(v: &Value) -> Result<Option<Self>, String> {
        const USAGE: &str = "account_refusal must be null or {\"status\": 403|422|404, \"code\": \"H353|H520|H521|H524|H586\" (403) or \"H525\" (422) or none (404), \"iysCode\"?: N, \"brandCode\"?: N}";
        let obj = match v {
            Value::Null => return Ok(None),
            Value::Object(o) => o,
            _ => return Err(USAGE.to_string()),
        };
        let mut status = None;
        let mut code: Option<&str> = None;
        let mut iys_code = None;
        let mut brand_code = None;
        for (k, v) in obj {
            match k.as_str() {
                "status" => status = Some(v.as_u64().ok_or(USAGE)?),
                "code" => code = if v.is_null() { None } else { Some(v.as_str().ok_or(USAGE)?) },
                "iysCode" => iys_code = Some(v.as_u64().ok_or("account_refusal.iysCode must be an integer")?),
                "brandCode" => brand_code = Some(v.as_u64().ok_or("account_refusal.brandCode must be an integer")?),
                other => return Err(format!("unknown account_refusal field {other:?}; {USAGE}")),
            }
        }
        let status = status.ok_or(USAGE)?;
        let (status, code) = ACCOUNT_REFUSALS
            .iter()
            .find(|(s, c)| *s as u64 == status && *c == code)
            .copied()
            .ok_or(USAGE)?;
        Ok(Some(AccountRefusal { status, code, iys_code, brand_code }))
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("status".into(), Value::from(self.status));
        if let Some(c) = self.code {
            m.insert("code".into(), Value::from(c));
        }
        if let Some(i) = self.iys_code {
            m.insert("iysCode".into(), Value::from(i));
        }
        if let Some(b) = self.brand_code {
            m.insert("brandCode".into(), Value::from(b));
        }
        Value::Object(m)
    }

    /// Whether the refusal covers this iysCode/brandCode; one limited to a brand does not cover
    /// the calls that name no brand (ViA's, under `/via/sps/{iysCode}`).
    pub fn applies_to(&self, iys: u64, brand: Option<u64>) -> bool {
        self.iys_code.is_none_or(|i| i == iys) && self.brand_code.is_none_or(|b| brand == Some(b))
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Fraction of consent-endpoint requests answered with a retryable 5xx (503 H192 or
    /// 500 H101) without being processed.
    pub error_rate: f64,
    /// The next N non-admin requests are answered 429 H124.
    pub burst_429: u64,
    /// Delay added to every non-admin request.
    pub latency_ms: u64,
    /// Fraction of non-admin requests whose connection is closed with no answer, unprocessed.
    pub drop_rate: f64,
    /// Fraction of consent write requests that ARE processed but whose connection is then closed
    /// with no answer: the ambiguous failure that tests at-least-once delivery without duplicates.
    pub lost_reply_rate: f64,
    /// While set, the consent endpoints answer this account-level refusal.
    pub account_refusal: Option<AccountRefusal>,
    /// Body of the token endpoint's 429 H084.
    pub token_limit_shape: TokenLimitShape,
    /// Items added, as given, to the next `/consents/changes?source=IYS` page (then gone): what a
    /// newer IYS or a broken one could send (a null recipient, a numeric status, unknown fields).
    pub unreadable_changes: Vec<Value>,
}

/// One-shot actions a fault request may carry besides the standing faults.
#[derive(Debug, Default, PartialEq)]
pub struct FaultActions {
    pub revoke_tokens: bool,
    pub token_limit_hit: bool,
}

fn rate(v: &Value, name: &str) -> Result<f64, String> {
    match v.as_f64() {
        Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{name} must be a number in 0..1")),
    }
}

fn count(v: &Value, name: &str) -> Result<u64, String> {
    v.as_u64().ok_or_else(|| format!("{name} must be a non-negative integer"))
}

impl Faults {
    /// Merges the given subset of fields into the standing faults.
    pub fn apply_json(&mut self, body: &Map<String, Value>) -> Result<FaultActions, String> {
        let mut next = self.clone();
        let mut actions = FaultActions::default();
        for (k, v) in body {
            match k.as_str() {
                "error_rate" => next.error_rate = rate(v, k)?,
                "drop_rate" => next.drop_rate = rate(v, k)?,
                "lost_reply_rate" => next.lost_reply_rate = rate(v, k)?,
                "burst_429" => next.burst_429 = count(v, k)?,
                "latency_ms" => next.latency_ms = count(v, k)?,
                "account_refusal" => next.account_refusal = AccountRefusal::from_json(v)?,
                "token_limit_shape" => next.token_limit_shape = parse_shape(v)?,
                "unreadable_changes" => next.unreadable_changes = v.as_array().cloned().ok_or("unreadable_changes must be a list")?,
                "revoke_tokens" => actions.revoke_tokens = v.as_bool().ok_or("revoke_tokens must be a boolean")?,
                "token_limit_hit" => actions.token_limit_hit = v.as_bool().ok_or("token_limit_hit must be a boolean")?,
                other => return Err(format!("unknown fault {other:?}")),
            }
        }
        *self = next;
        Ok(actions)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "error_rate": self.error_rate,
            "burst_429": self.burst_429,
            "latency_ms": self.latency_ms,
            "drop_rate": self.drop_rate,
            "lost_reply_rate": self.lost_reply_rate,
            "account_refusal": self.account_refusal.as_ref().map(AccountRefusal::to_json),
            "token_limit_shape": self.token_limit_shape.as_str(),
            "unreadable_changes": self.unreadable_changes.len(),
        })
    }

    /// Consumes one request of a 429 burst.
    pub fn take_burst(&mut self) -> bool {
        if self.burst_429 > 0 {
            self.burst_429 -= 1;
            true
        } else {
            false
        }
    }
}

/// `"errors"`, `"flat"` or `"empty"`.
pub fn parse_shape(v: &Value) -> Result<TokenLimitShape, String> {
    v.as_str().and_then(TokenLimitShape::parse).ok_or_else(|| "token_limit_shape must be \"errors\", \"flat\" or \"empty\"".to_string())
}

/// True with probability `p`.
pub fn roll(p: f64) -> bool {
    p > 0.0 && fastrand::f64() < p
}

/// The retryable server error to inject: IYS's timeout or its "could not save".
pub fn pick_server_error() -> &'static str {
    if fastrand::bool() {
        "H192"
    } else {
        "H101"
    }
}
