//! Recording pushed movements: `iys.receive_push` in the database, one call per request, in its
//! own transaction (autocommit), so a returned call is a committed one.

use std::sync::Mutex;

/// Open connections, reused across requests; one per request being handled at most.
pub struct Store {
    conninfo: String,
    idle: Mutex<Vec<postgres::Client>>,
}

impl Store {
    pub fn new(conninfo: String) -> Store {
        Store { conninfo, idle: Mutex::new(Vec::new()) }
    }

    /// Records one request's body (`{"list":[...]}`); answers how many movements were new. A
    /// connection found broken is replaced once.
    pub fn record(&self, body: &str) -> Result<i32, String> {
        let mut last_error = String::new();
        for _ in 0..2 {
            let pooled = self.idle.lock().map_err(|_| "connection pool poisoned")?.pop();
            let mut client = match pooled {
                Some(client) if !client.is_closed() => client,
                _ => postgres::Client::connect(&self.conninfo, postgres::NoTls).map_err(|e| format!("connecting to the database: {e}"))?,
            };
            match client.query_one("SELECT iys.receive_push($1::pg_catalog.text::pg_catalog.jsonb)", &[&body]) {
                Ok(row) => {
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(client);
                    }
                    return Ok(row.get(0));
                }
                // A dropped connection (server restart, failover): try once more on a new one.
                Err(e) if client.is_closed() => last_error = e.to_string(),
                Err(e) => {
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(client);
                    }
                    return Err(e.as_db_error().map(|d| format!("{}: {}", d.code().code(), d.message())).unwrap_or_else(|| e.to_string()));
                }
            }
        }
        Err(last_error)
    }
}
