//! What IYS holds: current consents per (iysCode, brandCode, recipient, recipientType, type),
//! the ordered history of accepted movements (the source of `/consents/changes` and of
//! `/admin/history`), and async batches waiting to be processed.
//!
//! Batches are processed lazily but strictly in submission order: every public method first
//! runs [`Store::process_due`], so a batch whose delay has passed is applied before any later
//! request sees or changes the same consents, as IYS's single write queue would.
//!
//! Several movements of one (iysCode, brandCode, recipient, type) created in the same second
//! share one transactionId, as IYS documents (and warns about).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::clock::format_turkey_ms;
use crate::errors;
use crate::ids;
use crate::rules::{check_transition, ConsentInput, ConsentType, CurrentState, RecipientType, Status};

/// IYS answers batch results for 60 days; older request ids answer `[]` (and are forgotten).
pub const BATCH_RESULT_RETENTION_MS: i64 = 60 * 24 * 3600 * 1000;

/// The source of an operator's line closure: a RET that keeps the consent's date.
pub const LINE_CLOSURE_SOURCE: &str = "IYS_AHS_HAT_KAPATMA";

/// The daily movement file's columns, in the order of the document's example file.
pub const DAILY_FILE_HEADER: &str = "creationDate,transactionId,recipient,recipientType,type,status,consentDate,source";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConsentKey {
    pub iys_code: u64,
    pub brand_code: u64,
    pub recipient: String,
    pub recipient_type: RecipientType,
    pub consent_type: ConsentType,
}

impl ConsentKey {
    pub fn of(iys_code: u64, brand_code: u64, input: &ConsentInput) -> Self {
        ConsentKey {
            iys_code,
            brand_code,
            recipient: input.recipient.clone(),
            recipient_type: input.recipient_type,
            consent_type: input.consent_type,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StoredConsent {
    pub status: Status,
    pub source: Option<String>,
    pub consent_date: Option<String>,
    pub consent_date_secs: Option<i64>,
    pub retailer_code: Option<i64>,
    pub retailer_access_count: usize,
    pub creation_ms: i64,
    pub transaction_id: String,
    /// Position in the history of the movement that produced this state.
    pub movement: usize,
}

/// Which API call produced a movement; `/admin/history` reports it so tests can prove that
/// nothing was lost or applied twice.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub endpoint: &'static str,
    pub request_id: Option<Arc<str>>,
    pub sub_request_id: Option<Arc<str>>,
    pub index: Option<usize>,
    /// A change made by the citizen in IYS itself (source IYS_*), listed by `changes?source=IYS`.
    pub by_citizen: bool,
    /// Planted by `/admin/seed` as a movement the pull never served: `/consents/changes` skips
    /// it; the daily file, the status queries and `/admin/history` show it.
    pub missed_by_pull: bool,
}

#[derive(Clone, Debug)]
pub struct Movement {
    pub seq: u64,
    pub key: ConsentKey,
    pub status: Status,
    pub source: Option<String>,
    pub consent_date: Option<String>,
    pub creation_ms: i64,
    pub transaction_id: String,
    /// History position of the first movement with this transactionId (itself, unless it shares
    /// the id with an earlier movement of the same second).
    pub group: usize,
    pub origin: Origin,
}

impl Movement {
    /// The shape of an item of `/consents/changes`.
    fn change_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(d) = &self.consent_date {
            m.insert("consentDate".into(), Value::from(d.as_str()));
        }
        m.insert("creationDate".into(), Value::from(format_turkey_ms(self.creation_ms)));
        if let Some(s) = &self.source {
            m.insert("source".into(), Value::from(s.as_str()));
        }
        m.insert("recipient".into(), Value::from(self.key.recipient.as_str()));
        m.insert("recipientType".into(), Value::from(self.key.recipient_type.as_str()));
        m.insert("status".into(), Value::from(self.status.as_str()));
        m.insert("type".into(), Value::from(self.key.consent_type.as_str()));
        m.insert("transactionId".into(), Value::from(self.transaction_id.as_str()));
        Value::Object(m)
    }

    /// The movement as IYS pushes it to a registered address: the fields and types of the
    /// push test datum (the document: pushed movements "have the same format as the test
    /// datum"), i.e. an item of `/consents/changes` plus `iysCode` and `brandCode` as numbers.
    /// A movement without a consentDate (a line closure of a TACIR consent stored without one)
    /// leaves it out, as `/consents/changes` does: IYS never sends a made-up date.
    pub fn push_json(&self) -> Value {
        let mut m = match self.change_json() {
            Value::Object(m) => m,
            _ => unreachable!("change_json builds an object"),
        };
        m.insert("iysCode".into(), Value::from(self.key.iys_code));
        m.insert("brandCode".into(), Value::from(self.key.brand_code));
        Value::Object(m)
    }

    /// One line of the daily movement file, in [`DAILY_FILE_HEADER`]'s column order. No value
    /// needs quoting: addresses, codes and dates never hold a comma, a quote or a line break
    /// (IYS's e-mail and phone rules forbid them).
    fn file_line(&self) -> String {
        [
            format_turkey_ms(self.creation_ms).as_str(),
            &self.transaction_id,
            &self.key.recipient,
            self.key.recipient_type.as_str(),
            self.key.consent_type.as_str(),
            self.status.as_str(),
            self.consent_date.as_deref().unwrap_or(""),
            self.source.as_deref().unwrap_or(""),
        ]
        .join(",")
    }

    fn admin_json(&self) -> Value {
        let mut m = match self.change_json() {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        m.insert("seq".into(), Value::from(self.seq));
        m.insert("iysCode".into(), Value::from(self.key.iys_code));
        m.insert("brandCode".into(), Value::from(self.key.brand_code));
        m.insert("endpoint".into(), Value::from(self.origin.endpoint));
        m.insert("byCitizen".into(), Value::from(self.origin.by_citizen));
        m.insert("inPull".into(), Value::from(!self.origin.missed_by_pull));
        if let Some(r) = &self.origin.request_id {
            m.insert("requestId".into(), Value::from(&**r));
        }
        if let Some(s) = &self.origin.sub_request_id {
            m.insert("subRequestId".into(), Value::from(&**s));
        }
        if let Some(i) = self.origin.index {
            m.insert("index".into(), Value::from(i));
        }
        Value::Object(m)
    }
}

/// Outcome of a write that IYS accepted.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub transaction_id: String,
    pub creation_date: String,
}

/// A batch with its ids assigned, ready to be queued.
#[derive(Debug)]
pub struct NewBatch {
    request_id: Arc<str>,
    sub_request_ids: Vec<Arc<str>>,
    inputs: Vec<ConsentInput>,
}

/// Assigns the requestId and subRequestIds of a validated batch and renders the 202 body,
/// without touching the store (so it runs outside its lock).
pub fn new_batch(inputs: Vec<ConsentInput>, now_ms: i64) -> (NewBatch, Value) {
    let request_id: Arc<str> = Arc::from(ids::uuid());
    let creation_date = format_turkey_ms(now_ms);
    let sub_request_ids: Vec<Arc<str>> = inputs.iter().map(|_| Arc::from(ids::uuid())).collect();
    let sub_requests: Vec<Value> = inputs
        .iter()
        .zip(&sub_request_ids)
        .map(|(input, sub)| {
            let mut m = input.to_json();
            m.insert("subRequestId".into(), Value::from(&**sub));
            m.insert("creationDate".into(), Value::from(creation_date.as_str()));
            Value::Object(m)
        })
        .collect();
    let body = json!({ "requestId": &*request_id, "subRequests": sub_requests });
    (NewBatch { request_id, sub_request_ids, inputs }, body)
}

/// What became of one batch item. Kept this small (not as JSON) because a drain benchmark
/// leaves millions of them behind; rendered when somebody asks.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// Applied: the movement at this history position.
    Applied(usize),
    /// V2 only: IYS already held exactly this consent, set by the movement at this position.
    Replayed(usize),
    Refused(&'static str),
}

#[derive(Debug)]
struct Batch {
    request_id: Arc<str>,
    iys_code: u64,
    brand_code: u64,
    v2: bool,
    submitted_ms: i64,
    /// Until then the result is `[]`.
    visible_ms: i64,
    /// From then on the batch is applied; between `visible_ms` and this, items are `enqueue`.
    ready_ms: i64,
    sub_request_ids: Vec<Arc<str>>,
    /// The consents, until processed.
    inputs: Vec<ConsentInput>,
    outcomes: Option<Vec<Outcome>>,
}

/// A position in the changes feed: (creation time of the transaction's first movement, history
/// position of that first movement, history position). Movements sharing a transactionId are
/// thereby adjacent, so a page never has to split them and a cursor naming that transactionId
/// is unambiguous.
type Cursor = (i64, usize, usize);

#[derive(Debug, Default)]
pub struct Store {
    consents: HashMap<ConsentKey, StoredConsent>,
    history: Vec<Movement>,
    by_transaction: HashMap<String, usize>,
    batches: HashMap<Arc<str>, Batch>,
    /// Batches not applied yet, in submission order.
    pending: VecDeque<Arc<str>>,
    /// Every kept batch in submission order, to forget them after 60 days.
    kept: VecDeque<Arc<str>>,
    /// Last movement per (iysCode, brandCode, recipient, type): (creation second, transactionId),
    /// so a second movement in the same second reuses the transactionId.
    last_tx: HashMap<(u64, u64, String, ConsentType), (i64, String)>,
    /// V2 single add: (iysCode, brandCode, exact body) → the answer given the first time.
    v2_bodies: HashMap<(u64, u64, String), Accepted>,
}

impl Store {
    pub fn current(&mut self, now_ms: i64, key: &ConsentKey) -> Option<&StoredConsent> {
        self.process_due(now_ms);
        self.consents.get(key)
    }

    /// Single add (V1 and V2 after its idempotency check): rules, then record.
    pub fn add_single(&mut self, now_ms: i64, iys: u64, brand: u64, input: &ConsentInput, endpoint: &'static str) -> Result<Accepted, &'static str> {
        self.process_due(now_ms);
        let key = ConsentKey::of(iys, brand, input);
        let current = self.consents.get(&key).map(|c| CurrentState { status: c.status, consent_date_secs: c.consent_date_secs });
        check_transition(current.as_ref(), input)?;
        let origin = Origin { endpoint, ..Default::default() };
        Ok(self.record(key, input, now_ms, origin))
    }

    /// V2 single add: the answer given to an identical earlier request, if any.
    pub fn v2_replay(&mut self, now_ms: i64, iys: u64, brand: u64, body: &str) -> Option<Accepted> {
        self.process_due(now_ms);
        self.v2_bodies.get(&(iys, brand, body.to_string())).cloned()
    }

    pub fn remember_v2(&mut self, iys: u64, brand: u64, body: String, accepted: &Accepted) {
        self.v2_bodies.insert((iys, brand, body), accepted.clone());
    }

    /// V2 idempotency on content: the stored consent already says exactly this (same status,
    /// consent date and source), so the movement that set it is returned instead of a new one.
    pub fn same_as_stored(&mut self, now_ms: i64, iys: u64, brand: u64, input: &ConsentInput) -> Option<Accepted> {
        self.process_due(now_ms);
        self.duplicate_of(iys, brand, input).map(|pos| self.accepted_at(pos))
    }

    /// History position of the movement that set a stored consent identical to `input`.
    fn duplicate_of(&self, iys: u64, brand: u64, input: &ConsentInput) -> Option<usize> {
        let c = self.consents.get(&ConsentKey::of(iys, brand, input))?;
        let same = c.status == input.status && c.consent_date == input.consent_date && c.source == input.source;
        same.then_some(c.movement)
    }

    fn accepted_at(&self, pos: usize) -> Accepted {
        let m = &self.history[pos];
        Accepted {
            transaction_id: m.transaction_id.clone(),
            creation_date: format_turkey_ms(m.creation_ms),
        }
    }

    /// A change the citizen made in IYS itself: no HS rules apply. An operator's line closure
    /// ([`LINE_CLOSURE_SOURCE`]) is a RET carrying the stored consent's own date (and fails
    /// when nothing is stored).
    pub fn citizen_change(&mut self, now_ms: i64, iys: u64, brand: u64, input: &ConsentInput, creation_ms: i64) -> Result<Accepted, String> {
        self.process_due(now_ms);
        let key = ConsentKey::of(iys, brand, input);
        let mut input = input.clone();
        if input.source.as_deref() == Some(LINE_CLOSURE_SOURCE) {
            let stored = self.consents.get(&key).ok_or("IYS_AHS_HAT_KAPATMA closes a line that has a stored consent; there is none")?;
            input.status = Status::Ret;
            input.consent_date = stored.consent_date.clone();
            input.consent_date_secs = stored.consent_date_secs;
        }
        let origin = Origin { endpoint: "admin/citizen-change", by_citizen: true, ..Default::default() };
        Ok(self.record(key, &input, creation_ms, origin))
    }

    /// A change IYS recorded through ViA (an approval, a used opt-out link): recorded now as
    /// a change made in IYS itself, no HS rules, listed by `changes?source=IYS`.
    pub fn iys_change(&mut self, now_ms: i64, iys: u64, brand: u64, input: &ConsentInput, endpoint: &'static str) -> Accepted {
        self.process_due(now_ms);
        let origin = Origin { endpoint, by_citizen: true, ..Default::default() };
        self.record(ConsentKey::of(iys, brand, input), input, now_ms, origin)
    }

    /// A movement IYS held before the test began (`/admin/seed`): no rules apply, it is dated
    /// `creation_ms` (possibly years ago) and becomes the stored consent only if no later
    /// movement of that consent is stored already, so seeds can come in any order.
    pub fn seed(&mut self, now_ms: i64, iys: u64, brand: u64, input: &ConsentInput, creation_ms: i64, in_pull: bool) -> Accepted {
        self.process_due(now_ms);
        let key = ConsentKey::of(iys, brand, input);
        let by_citizen = input.source.as_deref().is_some_and(|s| s.starts_with("IYS_"));
        let origin = Origin { endpoint: "admin/seed", by_citizen, missed_by_pull: !in_pull, ..Default::default() };
        let previous = self.consents.get(&key).cloned();
        let slot = (iys, brand, key.recipient.clone(), key.consent_type);
        let last_tx = self.last_tx.get(&slot).cloned();
        let accepted = self.record(key.clone(), input, creation_ms, origin);
        if let Some(stored) = previous.filter(|p| p.creation_ms > creation_ms) {
            self.consents.insert(key, stored);
        }
        // A back-dated seed must not stop a later movement from sharing the transactionId of
        // the latest second's movements.
        if let Some(last) = last_tx.filter(|(second, _)| *second > creation_ms.div_euclid(1000)) {
            self.last_tx.insert(slot, last);
        }
        accepted
    }

    /// The movement recorded last (what a citizen change or a seed just added).
    pub fn last_movement(&self) -> Option<&Movement> {
        self.history.last()
    }

    /// The daily movement file of one brand: every movement (HS and citizens', pulled or not)
    /// created in [from_ms, to_ms), oldest first, under [`DAILY_FILE_HEADER`]; it ends with a
    /// line break, as the document says.
    pub fn daily_file(&mut self, now_ms: i64, iys: u64, brand: u64, from_ms: i64, to_ms: i64) -> String {
        self.process_due(now_ms);
        let mut day: Vec<&Movement> = self
            .history
            .iter()
            .filter(|m| m.key.iys_code == iys && m.key.brand_code == brand && (from_ms..to_ms).contains(&m.creation_ms))
            .collect();
        // Stable: movements of the same millisecond keep the order IYS accepted them in.
        day.sort_by_key(|m| m.creation_ms);
        let mut text = String::with_capacity(DAILY_FILE_HEADER.len() + 1 + day.len() * 160);
        text.push_str(DAILY_FILE_HEADER);
        text.push('\n');
        for m in day {
            text.push_str(&m.file_line());
            text.push('\n');
        }
        text
    }

    /// The transactionId of a new movement: a fresh one, or the one of a movement of the same
    /// address and type created in the same second.
    fn transaction_id_for(&mut self, key: &ConsentKey, creation_ms: i64) -> String {
        let second = creation_ms.div_euclid(1000);
        let slot = (key.iys_code, key.brand_code, key.recipient.clone(), key.consent_type);
        match self.last_tx.get_mut(&slot) {
            Some((s, tx)) if *s == second => tx.clone(),
            Some(entry) => {
                *entry = (second, ids::transaction_id());
                entry.1.clone()
            }
            None => {
                let tx = ids::transaction_id();
                self.last_tx.insert(slot, (second, tx.clone()));
                tx
            }
        }
    }

    fn record(&mut self, key: ConsentKey, input: &ConsentInput, creation_ms: i64, origin: Origin) -> Accepted {
        let transaction_id = self.transaction_id_for(&key, creation_ms);
        let pos = self.history.len();
        let accepted = Accepted {
            transaction_id: transaction_id.clone(),
            creation_date: format_turkey_ms(creation_ms),
        };
        self.consents.insert(
            key.clone(),
            StoredConsent {
                status: input.status,
                source: input.source.clone(),
                consent_date: input.consent_date.clone(),
                consent_date_secs: input.consent_date_secs,
                retailer_code: input.retailer_code,
                retailer_access_count: input.retailer_access.as_ref().map_or(0, Vec::len),
                creation_ms,
                transaction_id: transaction_id.clone(),
                movement: pos,
            },
        );
        // A shared transactionId keeps its first position: the group's place in the feed.
        let group = *self.by_transaction.entry(transaction_id.clone()).or_insert(pos);
        self.history.push(Movement {
            seq: pos as u64 + 1,
            key,
            status: input.status,
            source: input.source.clone(),
            consent_date: input.consent_date.clone(),
            creation_ms,
            transaction_id,
            group,
            origin,
        });
        accepted
    }

    /// Queues a validated batch (built by [`new_batch`] outside the lock): its result is `[]`
    /// for `delay_ms`, then `enqueue` for `enqueue_ms`, then it is applied.
    #[allow(clippy::too_many_arguments)]
    pub fn submit_batch(&mut self, now_ms: i64, delay_ms: u64, enqueue_ms: u64, iys: u64, brand: u64, v2: bool, batch: NewBatch) {
        self.process_due(now_ms);
        let NewBatch { request_id, sub_request_ids, inputs } = batch;
        let visible_ms = now_ms.saturating_add(delay_ms as i64);
        let b = Batch {
            request_id: request_id.clone(),
            iys_code: iys,
            brand_code: brand,
            v2,
            submitted_ms: now_ms,
            visible_ms,
            ready_ms: visible_ms.saturating_add(enqueue_ms as i64),
            sub_request_ids,
            inputs,
            outcomes: None,
        };
        self.batches.insert(request_id.clone(), b);
        self.pending.push_back(request_id.clone());
        self.kept.push_back(request_id);
    }

    /// Applies every queued batch whose delay has passed, oldest first, and forgets applied
    /// batches older than 60 days.
    pub fn process_due(&mut self, now_ms: i64) {
        while let Some(id) = self.pending.front() {
            let ready = self.batches.get(id).is_none_or(|b| b.ready_ms <= now_ms);
            if !ready {
                break;
            }
            let id = self.pending.pop_front().expect("front exists");
            self.process_batch(&id);
        }
        while let Some(id) = self.kept.front() {
            let expired = match self.batches.get(id) {
                None => true,
                Some(b) => b.outcomes.is_some() && now_ms - b.submitted_ms > BATCH_RESULT_RETENTION_MS,
            };
            if !expired {
                break;
            }
            let id = self.kept.pop_front().expect("front exists");
            self.batches.remove(&id);
        }
    }

    fn process_batch(&mut self, id: &Arc<str>) {
        let Some(mut batch) = self.batches.remove(id) else { return };
        let inputs = std::mem::take(&mut batch.inputs);
        let outcomes = inputs.iter().enumerate().map(|(index, input)| self.process_item(&batch, index, input)).collect();
        batch.outcomes = Some(outcomes);
        self.batches.insert(id.clone(), batch);
    }

    fn process_item(&mut self, batch: &Batch, index: usize, input: &ConsentInput) -> Outcome {
        if batch.v2 {
            if let Some(pos) = self.duplicate_of(batch.iys_code, batch.brand_code, input) {
                return Outcome::Replayed(pos);
            }
        }
        let key = ConsentKey::of(batch.iys_code, batch.brand_code, input);
        let current = self.consents.get(&key).map(|c| CurrentState { status: c.status, consent_date_secs: c.consent_date_secs });
        if let Err(code) = check_transition(current.as_ref(), input) {
            return Outcome::Refused(code);
        }
        let origin = Origin {
            endpoint: if batch.v2 { "v2/consents/request" } else { "consents/request" },
            request_id: Some(batch.request_id.clone()),
            sub_request_id: Some(batch.sub_request_ids[index].clone()),
            index: Some(index),
            ..Default::default()
        };
        // The batch is processed as of its ready time, so creation dates do not depend on
        // when somebody happened to look.
        self.record(key, input, batch.ready_ms, origin);
        Outcome::Applied(self.history.len() - 1)
    }

    /// One item of a processed batch as `GET .../consents/request/{id}` shows it.
    fn render_outcome(&self, b: &Batch, index: usize, outcome: Outcome) -> Value {
        let sub = &*b.sub_request_ids[index];
        let pos = match outcome {
            Outcome::Refused(code) => {
                return json!({ "index": index, "status": "failure", "subRequestId": sub, "error": errors::short(code) });
            }
            Outcome::Applied(pos) | Outcome::Replayed(pos) => pos,
        };
        let m = &self.history[pos];
        let mut v = json!({
            "index": index,
            "status": "success",
            "requestId": &*b.request_id,
            "subRequestId": sub,
            "transactionId": m.transaction_id,
            "creationDate": format_turkey_ms(m.creation_ms),
        });
        if b.v2 {
            v["isAddConsentV2Service"] = Value::from(true);
        }
        if let Outcome::Replayed(_) = outcome {
            let mut info = Map::new();
            if let Some(r) = &m.origin.request_id {
                info.insert("requestId".into(), Value::from(&**r));
            }
            if let Some(s) = &m.origin.sub_request_id {
                info.insert("subRequestId".into(), Value::from(&**s));
            }
            v["originalRequestInformation"] = Value::Object(info);
        }
        v
    }

    /// `GET .../consents/request/{requestId}`. `[]` until `batch_delay_ms` has passed since the
    /// submit (IYS: "ask no earlier than 300 s; earlier answers may be empty"), then every item
    /// `enqueue` while `batch_enqueue_ms` runs, then the per-item results. Unknown ids, another
    /// brand's and ids older than 60 days answer `[]` too, as IYS does ("older request ids
    /// answer empty"; an empty answer never means the consents were refused).
    pub fn batch_results(&mut self, now_ms: i64, iys: u64, brand: u64, request_id: &str) -> Value {
        self.process_due(now_ms);
        let Some(b) = self.batches.get(request_id) else { return json!([]) };
        if b.iys_code != iys || b.brand_code != brand || now_ms < b.visible_ms || now_ms - b.submitted_ms > BATCH_RESULT_RETENTION_MS {
            return json!([]);
        }
        if let Some(outcomes) = &b.outcomes {
            return outcomes.iter().enumerate().map(|(i, o)| self.render_outcome(b, i, *o)).collect();
        }
        // The document's own example spells it `subrequestId` for queued items.
        b.sub_request_ids.iter().enumerate().map(|(i, sub)| json!({ "index": i, "status": "enqueue", "subrequestId": &**sub })).collect()
    }

    /// Recipients (already normalised) that are in ONAY for the brand, recipientType and type.
    pub fn approved_among(&mut self, now_ms: i64, iys: u64, brand: u64, rt: RecipientType, ct: ConsentType, recipients: &[String]) -> Vec<String> {
        self.process_due(now_ms);
        recipients
            .iter()
            .filter(|r| {
                let key = ConsentKey { iys_code: iys, brand_code: brand, recipient: (*r).clone(), recipient_type: rt, consent_type: ct };
                self.consents.get(&key).is_some_and(|c| c.status == Status::Onay)
            })
            .cloned()
            .collect()
    }

    fn parse_cursor(&self, after: &str) -> Option<Cursor> {
        let (secs, tx) = after.split_once('_')?;
        let secs: i64 = secs.parse().ok()?;
        match self.by_transaction.get(tx) {
            // After every movement of that transactionId.
            Some(&first) => Some((self.history[first].creation_ms, first, usize::MAX)),
            // A transaction we do not know: continue after that whole second.
            None => Some((secs * 1000 + 999, usize::MAX, usize::MAX)),
        }
    }

    fn feed_position(&self, pos: usize) -> Cursor {
        let group = self.history[pos].group;
        (self.history[group].creation_ms, group, pos)
    }

    /// `/consents/changes`: movements of the brand of one origin class, created in
    /// [window_start, window_end], after the cursor, oldest first. Err(()) for a cursor that
    /// cannot be read. Movements sharing a transactionId are listed together: a page that would
    /// split them ends before them (or, if they start the page, takes them all, even past the
    /// limit), since the cursor (`<seconds>_<transactionId>`) cannot point between them.
    #[allow(clippy::too_many_arguments)]
    pub fn changes(&mut self, now_ms: i64, iys: u64, brand: u64, citizen: bool, after: Option<&str>, limit: usize, window_start_ms: i64, window_end_ms: i64) -> Result<(Vec<Value>, Option<String>), ()> {
        self.process_due(now_ms);
        let cursor = match after {
            Some(a) => Some(self.parse_cursor(a).ok_or(())?),
            None => None,
        };
        let mut picked: Vec<Cursor> = self
            .history
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.key.iys_code == iys
                    && m.key.brand_code == brand
                    && m.origin.by_citizen == citizen
                    && !m.origin.missed_by_pull
                    && m.creation_ms >= window_start_ms
                    && m.creation_ms <= window_end_ms
            })
            .map(|(pos, _)| self.feed_position(pos))
            .filter(|c| cursor.is_none_or(|cur| *c > cur))
            .collect();
        picked.sort_unstable();
        if picked.len() > limit {
            let same_group = |a: usize, b: usize| picked[a].1 == picked[b].1;
            let mut cut = limit;
            while cut > 0 && same_group(cut - 1, cut) {
                cut -= 1;
            }
            if cut == 0 {
                cut = limit;
                while cut < picked.len() && same_group(cut - 1, cut) {
                    cut += 1;
                }
            }
            picked.truncate(cut);
        }
        let next = picked.last().map(|&(_, _, pos)| {
            let m = &self.history[pos];
            format!("{}_{}", m.creation_ms.div_euclid(1000), m.transaction_id)
        });
        Ok((picked.iter().map(|&(_, _, pos)| self.history[pos].change_json()).collect(), next))
    }

    /// `/admin/consents`: the current consents, optionally narrowed.
    pub fn consents_json(&mut self, now_ms: i64, brand: Option<u64>, recipient: Option<&str>) -> Vec<Value> {
        self.process_due(now_ms);
        let mut rows: Vec<(&ConsentKey, &StoredConsent)> = self
            .consents
            .iter()
            .filter(|(k, _)| brand.is_none_or(|b| k.brand_code == b))
            .filter(|(k, _)| recipient.is_none_or(|r| k.recipient == r))
            .collect();
        rows.sort_by_key(|(_, c)| c.movement);
        rows.into_iter().map(|(k, c)| consent_json(k, c, true)).collect()
    }

    /// `/admin/history`: accepted movements in order, after `since_seq`, at most `limit`.
    pub fn history_json(&mut self, now_ms: i64, brand: Option<u64>, recipient: Option<&str>, since_seq: u64, limit: usize) -> Vec<Value> {
        self.process_due(now_ms);
        let start = (since_seq as usize).min(self.history.len()); // seq = position + 1
        self.history[start..]
            .iter()
            .filter(|m| brand.is_none_or(|b| m.key.brand_code == b))
            .filter(|m| recipient.is_none_or(|r| m.key.recipient == r))
            .take(limit)
            .map(Movement::admin_json)
            .collect()
    }

    pub fn counts(&self) -> Value {
        json!({
            "consents": self.consents.len(),
            "movements": self.history.len(),
            "batches": self.batches.len(),
            "pendingBatches": self.pending.len(),
        })
    }
}

/// The consent as `/consents/status` shows it; `/admin/consents` adds the brand (`with_brand`).
pub fn consent_json(k: &ConsentKey, c: &StoredConsent, with_brand: bool) -> Value {
    let mut m = Map::new();
    if let Some(d) = &c.consent_date {
        m.insert("consentDate".into(), Value::from(d.as_str()));
    }
    m.insert("creationDate".into(), Value::from(format_turkey_ms(c.creation_ms)));
    if let Some(s) = &c.source {
        m.insert("source".into(), Value::from(s.as_str()));
    }
    m.insert("recipient".into(), Value::from(k.recipient.as_str()));
    m.insert("recipientType".into(), Value::from(k.recipient_type.as_str()));
    m.insert("status".into(), Value::from(c.status.as_str()));
    m.insert("type".into(), Value::from(k.consent_type.as_str()));
    if let Some(r) = c.retailer_code {
        m.insert("retailerCode".into(), Value::from(r));
    }
    if c.retailer_access_count > 0 {
        m.insert("retailerAccessCount".into(), Value::from(c.retailer_access_count));
    }
    m.insert("transactionId".into(), Value::from(c.transaction_id.as_str()));
    if with_brand {
        m.insert("iysCode".into(), Value::from(k.iys_code));
        m.insert("brandCode".into(), Value::from(k.brand_code));
    }
    Value::Object(m)
}
