//! `POST /oauth2/token`: password and refresh grants, token lifetimes, refresh rotation, and the
//! hourly limit of the token endpoint (H084, where a call made while limited restarts the hour).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::ids;

/// Token tunables; all durations are in simulated time.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub limit_per_window: u32,
    /// Length of the H084 window; IYS uses one hour.
    pub window_secs: u64,
}

#[derive(Clone, Debug)]
struct Session {
    user: String,
    expires_ms: i64,
}

/// Calls to the token endpoint in the current window, and the "halt until" after H084.
/// One counter for all clients: IYS counts per IP and every client of the simulator is local.
#[derive(Debug, Default)]
struct HourLimiter {
    calls: Vec<i64>,
    blocked_until_ms: Option<i64>,
}

impl HourLimiter {
    fn admit(&mut self, now_ms: i64, limit: u32, window_ms: i64) -> bool {
        if let Some(until) = self.blocked_until_ms {
            if now_ms < until {
                // IYS: retrying before the hour is up restarts the hour.
                self.blocked_until_ms = Some(now_ms + window_ms);
                return false;
            }
            self.blocked_until_ms = None;
            self.calls.clear();
        }
        self.calls.retain(|t| *t > now_ms - window_ms);
        if self.calls.len() as u64 >= limit as u64 {
            self.blocked_until_ms = Some(now_ms + window_ms);
            return false;
        }
        self.calls.push(now_ms);
        true
    }
}

/// A refused grant: OAuth2 `error` and `error_description`, answered with HTTP 400.
#[derive(Debug, PartialEq)]
pub struct GrantError {
    pub error: &'static str,
    pub description: &'static str,
}

fn refuse(error: &'static str, description: &'static str) -> GrantError {
    GrantError { error, description }
}

#[derive(Debug, Default)]
pub struct TokenStore {
    users: HashMap<String, String>,
    access: HashMap<String, Session>,
    refresh: HashMap<String, Session>,
    limiter: HourLimiter,
}

impl TokenStore {
    pub fn new(users: &[(String, String)]) -> Self {
        TokenStore { users: users.iter().cloned().collect(), ..Default::default() }
    }

    /// Counts a token call against the hourly limit; false means answer 429 H084.
    pub fn admit(&mut self, now_ms: i64, s: &TokenSettings) -> bool {
        self.limiter.admit(now_ms, s.limit_per_window, s.window_secs as i64 * 1000)
    }

    /// Puts the endpoint into the H084 state as if the limit had just been exceeded.
    pub fn force_limited(&mut self, now_ms: i64, s: &TokenSettings) {
        self.limiter.blocked_until_ms = Some(now_ms + s.window_secs as i64 * 1000);
    }

    pub fn clear_limit(&mut self) {
        self.limiter = HourLimiter::default();
    }

    pub fn limited_until_ms(&self) -> Option<i64> {
        self.limiter.blocked_until_ms
    }

    /// Invalidates every access token issued so far (refresh tokens stay usable).
    pub fn revoke_access_tokens(&mut self) {
        self.access.clear();
    }

    /// The user behind a live access token.
    pub fn user_of(&self, token: &str, now_ms: i64) -> Option<&str> {
        self.access.get(token).filter(|s| s.expires_ms > now_ms).map(|s| s.user.as_str())
    }

    /// Handles a grant request whose parameters came from a JSON or form body.
    pub fn grant(&mut self, params: &Map<String, Value>, now_ms: i64, s: &TokenSettings) -> Result<Value, GrantError> {
        let grant_type = match params.get("grant_type") {
            None => return Err(refuse("invalid_request", "Giriş yöntemi belirtilmemiş.")),
            Some(Value::String(g)) if g.is_empty() => return Err(refuse("invalid_grant", "Giriş yöntemi boş olamaz.")),
            Some(Value::String(g)) => g.as_str(),
            Some(_) => return Err(refuse("invalid_grant", "Desteklenmeyen giriş yöntemi.")),
        };
        let user = match grant_type {
            "password" => {
                let username = text_param(params, "username", ("Kullanıcı adı verilmemiş.", "Desteklenmeyen kullanıcı adı türü.", "Kullanıcı adı boş bırakılamaz."))?;
                let password = text_param(params, "password", ("Şifre verilmemiş.", "Desteklenmeyen şifre türü.", "Şifre boş bırakılamaz."))?;
                if self.users.get(username).map(String::as_str) != Some(password) {
                    return Err(refuse("invalid_request", "Kullanıcı kimlik bilgileri geçersiz."));
                }
                username.to_string()
            }
            "refresh_token" => {
                let token = text_param(params, "refresh_token", ("Yenileme jetonu verilmemiş.", "Desteklenmeyen yenileme jetonu türü.", "Yenileme jetonu boş olamaz."))?;
                // Rotation: a refresh token works once; the answer carries its successor.
                match self.refresh.remove(token) {
                    Some(sess) if sess.expires_ms > now_ms => sess.user,
                    _ => return Err(refuse("invalid_grant", "Yenileme jetonu geçersiz veya süresi dolmuş.")),
                }
            }
            _ => return Err(refuse("invalid_request", "Bilinmeyen giriş yöntemi.")),
        };
        Ok(self.issue(user, now_ms, s))
    }

    fn issue(&mut self, user: String, now_ms: i64, s: &TokenSettings) -> Value {
        let access = ids::token("iys-sim-access");
        let refresh = ids::token("iys-sim-refresh");
        self.access.retain(|_, sess| sess.expires_ms > now_ms);
        self.refresh.retain(|_, sess| sess.expires_ms > now_ms);
        self.access.insert(access.clone(), Session { user: user.clone(), expires_ms: now_ms + s.ttl_secs as i64 * 1000 });
        self.refresh.insert(refresh.clone(), Session { user, expires_ms: now_ms + s.refresh_ttl_secs as i64 * 1000 });
        json!({
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": s.ttl_secs,
            "refresh_expires_in": s.refresh_ttl_secs,
            "token_type": "bearer",
        })
    }
}

/// A required string parameter, with the document's wording for missing / wrong type / empty.
fn text_param<'a>(params: &'a Map<String, Value>, name: &str, msgs: (&'static str, &'static str, &'static str)) -> Result<&'a str, GrantError> {
    match params.get(name) {
        None => Err(refuse("invalid_request", msgs.0)),
        Some(Value::String(v)) if v.is_empty() => Err(refuse("invalid_grant", msgs.2)),
        Some(Value::String(v)) => Ok(v),
        Some(_) => Err(refuse("invalid_request", msgs.1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_while_limited_restarts_the_window() {
        let mut l = HourLimiter::default();
        assert!(l.admit(0, 2, 1000));
        assert!(l.admit(10, 2, 1000));
        assert!(!l.admit(20, 2, 1000)); // limited until 1020
        assert!(!l.admit(900, 2, 1000)); // restarts: until 1900
        assert!(!l.admit(1500, 2, 1000)); // until 2500
        assert!(l.admit(2500, 2, 1000));
    }
}
