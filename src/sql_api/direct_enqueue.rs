//! The enqueue trigger's path without a plan (issue #16): for a statement of at most
//! [`MAX_ROWS`] rows on a table whose mapping the reading below covers, the queue rows are read
//! from the transition tables here and written with `ExecSimpleRelationInsert`, the way
//! logical replication's apply writes rows, so no statement is started per application
//! statement (what a 1-row INSERT or UPDATE paid most for: BENCHMARKS.md, "0.10.0: the per-statement cost").
//!
//! The generated statement (`sql_api::attach`) stays the reference: every mapping and value this
//! reading does not cover (value maps, per-row brand or retailer columns, a composite key, a value
//! the statement would refuse or convert in another way) goes through it, decided before any row
//! is written, and a pg_test runs both over the same rows and compares the queues. The columns the
//! statement leaves out get the queue table's own defaults (its identity, `now()`,
//! `session_user`, …), evaluated from the table's definition as an INSERT would.

use super::consent_trigger::{Column, KeyColumn, RowLayout, Tuple};
use crate::core::mapping::Retailer;
use crate::core::{ConsentSource, ConsentStatus, ConsentType, RecipientType};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Larger statements go through the generated statement: its per-statement cost is spread over
/// the rows, and this path holds a statement's queue rows in memory before writing them.
pub const MAX_ROWS: u64 = 1000;

/// What the direct path did with a statement's rows.
pub enum Outcome {
    /// Queued this many rows (0: no channel moved).
    Queued(usize),
    /// Left to the generated statement; nothing was written.
    NotCovered,
}

/// The queue columns the enqueue writes (the generated statement's INSERT column list).
const WRITTEN: [&str; 11] = [
    "brand_code",
    "recipient",
    "recipient_type",
    "consent_type",
    "status",
    "source",
    "consent_date",
    "source_table",
    "source_key",
    "retailer_code",
    "retailer_access",
];

/// One queue row, as the generated statement would compute it, borrowing the statement's tuples.
struct QueueRow<'t> {
    recipient: Cow<'t, str>,
    recipient_type: RecipientType,
    consent_type: ConsentType,
    status: ConsentStatus,
    source: Option<ConsentSource>,
    consent_date: Option<pg_sys::Datum>,
    source_key: Rc<str>, // shared by the contact's channel rows
}

/// Queues the changes of the firing statement, or answers `NotCovered` having written nothing.
pub fn enqueue(data: &pg_sys::TriggerData, layout: &RowLayout, relid: pg_sys::Oid, update: bool) -> Result<Outcome, crate::core::Error> {
    if !crate::settings::DIRECT_ENQUEUE.get() || !covers(layout) {
        return Ok(Outcome::NotCovered);
    }
    let (new_rows, old_rows) = (data.tg_newtable, data.tg_oldtable);
    if new_rows.is_null() || (update && old_rows.is_null()) {
        return Ok(Outcome::NotCovered);
    }
    // SAFETY: the transition tables of the firing statement trigger, alive during the call.
    unsafe {
        let count = pg_sys::tuplestore_tuple_count(new_rows) as u64;
        if count > MAX_ROWS {
            return Ok(Outcome::NotCovered);
        }
        let tupdesc = (*data.tg_relation).rd_att;
        let new = read_all(new_rows, tupdesc);
        let old = if update { Some(read_all(old_rows, tupdesc)) } else { None };
        if old.as_ref().is_some_and(|o| o.len() != new.len()) {
            return Ok(Outcome::NotCovered);
        }
        let Some(rows) = queue_rows(layout, &new, old.as_deref()) else { return Ok(Outcome::NotCovered) };
        if rows.is_empty() {
            return Ok(Outcome::Queued(0));
        }
        if !write(layout, relid, &rows) {
            return Ok(Outcome::NotCovered);
        }
        #[cfg(any(test, feature = "pg_test"))]
        tests::WRITTEN_DIRECTLY.with(|n| n.set(n.get() + 1));
        Ok(Outcome::Queued(rows.len()))
    }
}

/// Whether the reading below covers the table's mapping as the generated statement reads it.
fn covers(layout: &RowLayout) -> bool {
    let mapping = &layout.reader.mapping;
    let plain_text = |c: &Column| c.attno == 0 || (c.type_oid != pg_sys::BPCHAROID && !is_date_type(c.type_oid));
    layout.brand.is_none()
        && layout.fixed_brand.is_some()
        && !matches!(mapping.retailer_code, Some(Retailer::Column(_)))
        && !matches!(mapping.retailer_access, Some(Retailer::Column(_)))
        && matches!(layout.key.as_slice(), [k] if key_text_is_output(k))
        && layout.local_only.as_ref().is_none_or(|c| c.type_oid == pg_sys::BOOLOID)
        && layout.contact_type.as_ref().is_none_or(plain_text)
        && layout.channels.iter().zip(&mapping.channels).all(|(c, m)| {
            let [address, permission, date, source] = &c.columns;
            m.permission_values.is_none()
                && m.source_values.is_none()
                && plain_text(address)
                && plain_text(permission)
                && plain_text(source)
                && is_date_type(date.type_oid)
        })
}

fn is_date_type(oid: pg_sys::Oid) -> bool {
    oid == pg_sys::TIMESTAMPOID || oid == pg_sys::TIMESTAMPTZOID || oid == pg_sys::DATEOID
}

/// Key types whose `::text` is their output function (not bpchar, which drops trailing blanks,
/// nor boolean, whose cast says `true`).
fn key_text_is_output(key: &KeyColumn) -> bool {
    [pg_sys::INT2OID, pg_sys::INT4OID, pg_sys::INT8OID, pg_sys::TEXTOID, pg_sys::VARCHAROID, pg_sys::UUIDOID, pg_sys::NUMERICOID].contains(&key.type_oid)
}

/// Every tuple of a transition table, copied.
///
/// # Safety
/// `store` is a live transition table of relation descriptor `tupdesc`.
unsafe fn read_all(store: *mut pg_sys::Tuplestorestate, tupdesc: pg_sys::TupleDesc) -> Vec<Tuple> {
    // Its own read pointer: another trigger's scan of the same table keeps its position.
    let pointer = pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
    pg_sys::tuplestore_select_read_pointer(store, pointer);
    pg_sys::tuplestore_rescan(store);
    let slot = pg_sys::MakeSingleTupleTableSlot(tupdesc, &pg_sys::TTSOpsMinimalTuple);
    let mut tuples = Vec::new();
    while pg_sys::tuplestore_gettupleslot(store, true, false, slot) {
        let mut copied = false;
        let tuple = pg_sys::ExecFetchSlotHeapTuple(slot, false, &mut copied);
        let tuple = if copied { tuple } else { pg_sys::heap_copytuple(tuple) };
        tuples.push(Tuple::new(tuple, tupdesc));
    }
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    tuples
}

/// The statement's queue rows as the generated statement computes them, or None where this
/// reading might differ from it.
fn queue_rows<'t>(layout: &RowLayout, new: &'t [Tuple], old: Option<&'t [Tuple]>) -> Option<Vec<QueueRow<'t>>> {
    let mapping = &layout.reader.mapping;
    let key = &layout.key[0];
    // Per channel, then per row: the generated statement's order (a UNION ALL of one SELECT per
    // channel), so the queue holds the same ids in the same order whichever path wrote it.
    let mut pairs = Vec::with_capacity(new.len());
    for (i, n) in new.iter().enumerate() {
        let source_key = key_text(n, key)?;
        // The statement joins old and new rows on the key, which the row check keeps unchanged;
        // the transition tables hold them in the same order.
        let o = match old {
            Some(old) => {
                let o = old.get(i)?;
                if key_text(o, key)? != source_key {
                    return None;
                }
                Some(o)
            }
            None => None,
        };
        if !layout.local_only.as_ref().is_some_and(|c| n.datum(c).is_some_and(|d| d.value() != 0)) {
            pairs.push((n, o, source_key));
        }
    }
    let mut rows = Vec::with_capacity(pairs.len() * layout.channels.len());
    for (channel, columns) in layout.channels.iter().zip(&mapping.channels) {
        let [address, permission, date, source] = &channel.columns;
        for (n, o, source_key) in &pairs {
            let (Some(recipient), Some(permission_text)) = (n.text(address), n.text(permission)) else { continue };
            if let Some(o) = o {
                if o.text(address).as_deref() == Some(&*recipient) && o.text(permission).as_deref() == Some(&*permission_text) {
                    continue;
                }
            }
            let status = if permission.type_oid == pg_sys::BOOLOID {
                if n.datum(permission)?.value() != 0 { ConsentStatus::Onay } else { ConsentStatus::Ret }
            } else {
                ConsentStatus::parse(&permission_text).ok()?
            };
            let source = match columns.fixed_source() {
                Some(fixed) => Some(known_source(fixed)?),
                None => match n.text(source).as_deref().map(|s| s.trim_matches(' ')).filter(|s| !s.is_empty()) {
                    Some(text) => Some(known_source(text)?),
                    None => None,
                },
            };
            let recipient_type = match (&layout.contact_type, &mapping.contact_type_values) {
                (None, _) => mapping.recipient_type,
                (Some(c), Some(values)) => n.text(c).and_then(|v| values.type_of(&v)).unwrap_or(mapping.recipient_type),
                (Some(c), None) => n.text(c).and_then(|v| RecipientType::parse(&v).ok()).unwrap_or(mapping.recipient_type),
            };
            let consent_date = match n.datum(date) {
                Some(d) => Some(turkey_timestamp(d, date.type_oid)?),
                None => None,
            };
            rows.push(QueueRow { recipient, recipient_type, consent_type: channel.consent_type, status, source, consent_date, source_key: Rc::clone(source_key) });
        }
    }
    Some(rows)
}

/// As the `iys.consent_source` cast reads it: a label of the enum, or None (the cast refuses it).
fn known_source(text: &str) -> Option<ConsentSource> {
    match ConsentSource::parse(text) {
        Ok(ConsentSource::IysOther(_)) | Err(_) => None,
        Ok(source) => Some(source),
    }
}

/// `key::text` of a covered key type (its output function); None for NULL.
fn key_text(tuple: &Tuple, key: &KeyColumn) -> Option<Rc<str>> {
    let datum = tuple.attribute(key.attno)?;
    // SAFETY: the output function is the key column's type's.
    unsafe {
        let text = pg_sys::OidOutputFunctionCall(key.output_fn, datum);
        let owned = Rc::from(std::ffi::CStr::from_ptr(text).to_string_lossy());
        pg_sys::pfree(text.cast());
        Some(owned)
    }
}

/// PostgreSQL's timestamp microseconds of a day and of three hours.
const MICROS_PER_DAY: i64 = 86_400_000_000;
const TURKEY_OFFSET_MICROS: i64 = 3 * 3_600_000_000;

/// The consent date as the statement converts it to Turkey time: a timestamp as it is, a
/// timestamptz `AT TIME ZONE INTERVAL '+03:00'`, a date at midnight. None where the statement
/// might differ (a date beyond the timestamp range, which it refuses).
fn turkey_timestamp(datum: pg_sys::Datum, type_oid: pg_sys::Oid) -> Option<pg_sys::Datum> {
    let micros = datum.value() as i64;
    let finite = micros != i64::MIN && micros != i64::MAX;
    match type_oid {
        pg_sys::TIMESTAMPOID => Some(datum),
        pg_sys::TIMESTAMPTZOID if !finite => Some(datum),
        pg_sys::TIMESTAMPTZOID => micros.checked_add(TURKEY_OFFSET_MICROS).map(pg_sys::Datum::from),
        pg_sys::DATEOID => {
            let days = datum.value() as i32;
            // Years 84 to 10213: a consent date; anything else goes through the statement.
            (-700_000..=3_000_000).contains(&days).then(|| pg_sys::Datum::from(i64::from(days) * MICROS_PER_DAY))
        }
        _ => None,
    }
}

/// The queue table as the direct path writes it, rebuilt after any change to it.
struct Target {
    outbox: pg_sys::Oid,
    natts: usize,
    /// Attribute index of each of [`WRITTEN`].
    written: [usize; WRITTEN.len()],
    /// Enum type of recipient_type, consent_type, status, source.
    enum_types: [pg_sys::Oid; 4],
    /// The other columns' default expressions, planned and initialised once, in `context`.
    defaults: Vec<(usize, *mut pg_sys::ExprState)>,
    /// Each index's `IndexInfo` with its predicate's state, in `context`, by index oid: built
    /// once rather than per statement (what `ExecOpenIndices` and the first insert of each
    /// statement would redo). An index's definition never changes under its oid, and a new or
    /// dropped index invalidates the table, which empties this cache.
    indexes: Vec<(pg_sys::Oid, *mut pg_sys::IndexInfo)>,
    /// The table's row type without reference counting, in `context`: the slots made on it
    /// for a statement's rows do not each pin the relcache's descriptor in the resource owner
    /// (whose release of 2000 pins searched its list for each).
    row_type: pg_sys::TupleDesc,
    context: pg_sys::MemoryContext,
    /// Enum label OIDs read so far: (enum index, label, OID). A few dozen at most, searched
    /// four times a row.
    labels: Vec<(usize, &'static str, pg_sys::Oid)>,
}

thread_local! {
    static TARGET: RefCell<Option<Target>> = const { RefCell::new(None) };
    /// Set by the relcache callback when the queue table changed (or every relation did).
    static STALE: Cell<bool> = const { Cell::new(true) };
    static TARGET_OID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

#[pg_guard]
unsafe extern "C-unwind" fn queue_table_changed(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    if relid == pg_sys::InvalidOid || relid == TARGET_OID.with(Cell::get) {
        STALE.with(|s| s.set(true));
    }
}

/// The queue table's oid (`iys.outbox`), looked up in the catalog caches.
fn queue_table_oid() -> Option<pg_sys::Oid> {
    // SAFETY: catalog cache lookups by name.
    unsafe {
        let schema = pg_sys::get_namespace_oid(c"iys".as_ptr(), true);
        if schema == pg_sys::InvalidOid {
            return None;
        }
        let oid = pg_sys::get_relname_relid(c"outbox".as_ptr(), schema);
        (oid != pg_sys::InvalidOid).then_some(oid)
    }
}

/// Writes `rows`; false (nothing written) when the queue table is not as this path expects.
///
/// # Safety
/// Called from the enqueue trigger, in the application's transaction.
unsafe fn write(layout: &RowLayout, relid: pg_sys::Oid, rows: &[QueueRow]) -> bool {
    if !CALLBACK_REGISTERED.with(Cell::get) {
        pg_sys::CacheRegisterRelcacheCallback(Some(queue_table_changed), pg_sys::Datum::from(0));
        CALLBACK_REGISTERED.with(|c| c.set(true));
    }
    let Some(outbox) = queue_table_oid() else { return false };
    // Opening takes the lock and reads pending invalidations: the cache is checked after it.
    let rel = pg_sys::table_open(outbox, pg_sys::RowExclusiveLock as i32);
    let usable = writable(rel);
    if usable && (STALE.with(Cell::get) || TARGET_OID.with(Cell::get) != outbox) {
        let target = build_target(rel);
        TARGET.with(|t| {
            if let Some(old) = t.borrow_mut().take() {
                pg_sys::MemoryContextDelete(old.context);
            }
            *t.borrow_mut() = target;
        });
        TARGET_OID.with(|o| o.set(outbox));
        STALE.with(|s| s.set(false));
    }
    let done = usable && TARGET.with(|t| match t.borrow_mut().as_mut() {
        Some(target) => {
            insert(target, rel, layout, relid, rows);
            true
        }
        None => false,
    });
    pg_sys::table_close(rel, pg_sys::NoLock as i32);
    done
}

/// A plain table without insert triggers or row security: what `ExecSimpleRelationInsert`
/// writes as an INSERT statement would.
unsafe fn writable(rel: pg_sys::Relation) -> bool {
    let class = (*rel).rd_rel;
    let trigdesc = (*rel).trigdesc;
    (*class).relkind as u8 == pg_sys::RELKIND_RELATION
        && !(*class).relrowsecurity
        && (trigdesc.is_null()
            || !((*trigdesc).trig_insert_before_row
                || (*trigdesc).trig_insert_after_row
                || (*trigdesc).trig_insert_instead_row
                || (*trigdesc).trig_insert_before_statement
                || (*trigdesc).trig_insert_after_statement
                || (*trigdesc).trig_insert_new_table))
}

/// Reads the queue table's layout and defaults; None if a written column is missing or of
/// another type than this library writes.
unsafe fn build_target(rel: pg_sys::Relation) -> Option<Target> {
    let tupdesc = pgrx::PgTupleDesc::from_pg_unchecked((*rel).rd_att);
    let natts = tupdesc.len();
    let find = |name: &str| tupdesc.iter().position(|a| !a.is_dropped() && a.name() == name);
    let mut written = [0usize; WRITTEN.len()];
    for (slot, name) in written.iter_mut().zip(WRITTEN) {
        *slot = find(name)?;
    }
    let type_of = |i: usize| tupdesc.get(i).expect("found above").type_oid().value();
    let expected = [pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::InvalidOid, pg_sys::InvalidOid, pg_sys::InvalidOid, pg_sys::InvalidOid, pg_sys::TIMESTAMPOID, pg_sys::OIDOID, pg_sys::TEXTOID, pg_sys::INT8OID, pg_sys::INT8ARRAYOID];
    for (i, want) in expected.iter().enumerate() {
        let have = type_of(written[i]);
        let ok = if *want == pg_sys::InvalidOid { pg_sys::type_is_enum(have) } else { have == *want };
        if !ok {
            return None;
        }
    }
    let enum_types = [type_of(written[2]), type_of(written[3]), type_of(written[4]), type_of(written[5])];
    let context = pg_sys::AllocSetContextCreateInternal(
        pg_sys::CacheMemoryContext,
        c"pg_iys queue defaults".as_ptr(),
        pg_sys::ALLOCSET_SMALL_MINSIZE as usize,
        pg_sys::ALLOCSET_SMALL_INITSIZE as usize,
        pg_sys::ALLOCSET_SMALL_MAXSIZE as usize,
    );
    let previous = pg_sys::MemoryContextSwitchTo(context);
    let mut defaults = Vec::new();
    for (i, att) in tupdesc.iter().enumerate() {
        if att.is_dropped() || written.contains(&i) {
            continue;
        }
        // As an INSERT that leaves the column out: its default, its identity's nextval, or NULL.
        let expr = pg_sys::build_column_default(rel, (i + 1) as i32);
        if !expr.is_null() {
            // No parent plan: the state is evaluated in each statement's own expression context.
            defaults.push((i, pg_sys::ExecInitExpr(pg_sys::expression_planner(expr.cast()), std::ptr::null_mut())));
        }
    }
    let row_type = pg_sys::CreateTupleDescCopy((*rel).rd_att);
    pg_sys::MemoryContextSwitchTo(previous);
    Some(Target { outbox: (*rel).rd_id, natts, written, enum_types, defaults, indexes: Vec::new(), row_type, context, labels: Vec::new() })
}

impl Target {
    /// Opens the queue table's indexes into `result` as `ExecOpenIndices` does (same order,
    /// same lock), with the cached `IndexInfo`s; `ExecCloseIndices` closes them.
    unsafe fn open_indexes(&mut self, rel: pg_sys::Relation, result: *mut pg_sys::ResultRelInfo) {
        let list = pg_sys::RelationGetIndexList(rel);
        let count = if list.is_null() { 0 } else { (*list).length as usize };
        if count == 0 {
            return;
        }
        let descs = pg_sys::palloc(count * std::mem::size_of::<pg_sys::Relation>()).cast::<pg_sys::Relation>();
        let infos = pg_sys::palloc(count * std::mem::size_of::<*mut pg_sys::IndexInfo>()).cast::<*mut pg_sys::IndexInfo>();
        for i in 0..count {
            let oid = (*(*list).elements.add(i)).oid_value;
            let index = pg_sys::index_open(oid, pg_sys::RowExclusiveLock as i32);
            let info = match self.indexes.iter().find(|(o, _)| *o == oid) {
                Some((_, info)) => *info,
                None if !keeps_nothing_per_statement(index) => {
                    // An index a DBA added whose insertion keeps state of its own (expressions, an
                    // access method's cache that points at the open index): built for this
                    // statement only, as ExecOpenIndices builds it.
                    pg_sys::BuildIndexInfo(index)
                }
                None => {
                    let previous = pg_sys::MemoryContextSwitchTo(self.context);
                    let info = pg_sys::BuildIndexInfo(index);
                    if !(*info).ii_Predicate.is_null() {
                        // As ExecPrepareQual, once.
                        let qual = pg_sys::expression_planner((*info).ii_Predicate.cast());
                        (*info).ii_PredicateState = pg_sys::ExecInitQual(qual.cast(), std::ptr::null_mut());
                    }
                    pg_sys::MemoryContextSwitchTo(previous);
                    self.indexes.push((oid, info));
                    info
                }
            };
            *descs.add(i) = index;
            *infos.add(i) = info;
        }
        pg_sys::list_free(list);
        (*result).ri_NumIndices = count as i32;
        (*result).ri_IndexRelationDescs = descs;
        (*result).ri_IndexRelationInfo = infos;
    }

    /// Stores `row` in `slot` with the other columns' defaults, as an INSERT would form it.
    unsafe fn fill(&mut self, slot: *mut pg_sys::TupleTableSlot, econtext: *mut pg_sys::ExprContext, fixed: &Fixed, row: &QueueRow) {
        pg_sys::ExecClearTuple(slot);
        let values = std::slice::from_raw_parts_mut((*slot).tts_values, self.natts);
        let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, self.natts);
        nulls.fill(true);
        for (i, state) in &self.defaults {
            values[*i] = pg_sys::ExecEvalExprSwitchContext(*state, econtext, &mut nulls[*i]);
        }
        let w = self.written;
        let mut set = |i: usize, value: Option<pg_sys::Datum>| {
            nulls[i] = value.is_none();
            values[i] = value.unwrap_or(pg_sys::Datum::from(0));
        };
        set(w[0], fixed.brand.into_datum());
        set(w[1], (&*row.recipient).into_datum());
        set(w[2], Some(self.label(0, row.recipient_type.as_str())));
        set(w[3], Some(self.label(1, row.consent_type.as_str())));
        set(w[4], Some(self.label(2, row.status.as_str())));
        // A known source is one of the enum's labels (known_source).
        let source = row.source.as_ref().and_then(|s| ConsentSource::ALL.iter().copied().find(|l| *l == s.as_str()));
        set(w[5], source.map(|label| self.label(3, label)));
        set(w[6], row.consent_date);
        set(w[7], Some(pg_sys::Datum::from(fixed.relid)));
        set(w[8], (&*row.source_key).into_datum());
        set(w[9], fixed.retailer_code.into_datum());
        set(w[10], fixed.retailer_access.clone().into_datum());
        pg_sys::ExecStoreVirtualTuple(slot);
    }

    /// The `pg_enum` OID of `label` of enum `index` (of [`Target::enum_types`]).
    unsafe fn label(&mut self, index: usize, label: &'static str) -> pg_sys::Datum {
        if let Some((_, _, oid)) = self.labels.iter().find(|(i, l, _)| *i == index && *l == label) {
            return pg_sys::Datum::from(*oid);
        }
        let text = std::ffi::CString::new(label).expect("no NUL in an enum label");
        let oid = pgrx::direct_function_call::<pg_sys::Oid>(pg_sys::enum_in, &[Some(pg_sys::Datum::from(text.as_ptr())), self.enum_types[index].into_datum()])
            .expect("enum_in returns a label's OID");
        self.labels.push((index, label, oid));
        pg_sys::Datum::from(oid)
    }
}

/// Whether an index's `IndexInfo` may serve statement after statement: a B-tree or hash index
/// on plain columns (pg_iys's own), whose insertion reads the `IndexInfo` and writes nothing into
/// it but the predicate state this path builds once. Expression states and an access method's
/// cache (BRIN's points at the index opened for the statement) would outlive what they point at.
///
/// # Safety
/// `index` is an open index relation.
unsafe fn keeps_nothing_per_statement(index: pg_sys::Relation) -> bool {
    let am = (*(*index).rd_rel).relam;
    let form = (*index).rd_index;
    // An expression column has attribute number 0.
    let on_columns = (0..(*form).indnatts as usize).all(|i| *(*form).indkey.values.as_ptr().add(i) != 0);
    (am == pg_sys::BTREE_AM_OID || am == pg_sys::HASH_AM_OID) && on_columns
}

/// The values a statement's queue rows share.
struct Fixed<'a> {
    brand: &'a str,
    relid: pg_sys::Oid,
    retailer_code: Option<i64>,
    retailer_access: Option<Vec<i64>>,
}

/// Queue rows written by one multi-insert call at most (COPY's buffer holds as many).
const MULTI_INSERT_ROWS: usize = 1000;

/// Whether a statement's rows may be written together with `heap_multi_insert`, which does what
/// `ExecSimpleRelationInsert` does for the queue table as [`writable`] admits it (no triggers)
/// when the table is a heap, not a partition, and has no stored generated column.
///
/// # Safety
/// `rel` is an open relation.
unsafe fn multi_insert_serves(rel: pg_sys::Relation) -> bool {
    let constr = (*(*rel).rd_att).constr;
    (*(*rel).rd_rel).relam == pg_sys::HEAP_TABLE_AM_OID && !(*(*rel).rd_rel).relispartition && (constr.is_null() || !(*constr).has_generated_stored)
}

/// Inserts the rows into the open queue table, index entries and defaults as an INSERT would.
unsafe fn insert(target: &mut Target, rel: pg_sys::Relation, layout: &RowLayout, relid: pg_sys::Oid, rows: &[QueueRow]) {
    let mapping = &layout.reader.mapping;
    let brand = layout.fixed_brand.as_deref().expect("covered: a fixed brand");
    let retailer_code = match &mapping.retailer_code {
        Some(Retailer::Fixed(code)) => Some(*code),
        _ => None,
    };
    let retailer_access = match &mapping.retailer_access {
        Some(Retailer::Fixed(codes)) => Some(codes.clone()),
        _ => None,
    };
    let estate = pg_sys::CreateExecutorState();
    let rte = pg_sys::palloc0(std::mem::size_of::<pg_sys::RangeTblEntry>()).cast::<pg_sys::RangeTblEntry>();
    (*rte).type_ = pg_sys::NodeTag::T_RangeTblEntry;
    (*rte).rtekind = pg_sys::RTEKind::RTE_RELATION;
    (*rte).relid = target.outbox;
    (*rte).relkind = pg_sys::RELKIND_RELATION as std::ffi::c_char;
    (*rte).rellockmode = pg_sys::RowExclusiveLock as i32;
    pg_sys::ExecInitRangeTable(estate, pg_sys::lappend(std::ptr::null_mut(), rte.cast()));
    let result = pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>()).cast::<pg_sys::ResultRelInfo>();
    (*result).type_ = pg_sys::NodeTag::T_ResultRelInfo;
    pg_sys::InitResultRelInfo(result, rel, 1, std::ptr::null_mut(), 0);
    (*estate).es_output_cid = pg_sys::GetCurrentCommandId(true);
    target.open_indexes(rel, result);
    let econtext = pg_sys::MakePerTupleExprContext(estate);
    let fixed = Fixed { brand, relid, retailer_code, retailer_access };
    let batch = if multi_insert_serves(rel) { rows.len().min(MULTI_INSERT_ROWS) } else { 1 };
    let slots: Vec<*mut pg_sys::TupleTableSlot> = (0..batch).map(|_| pg_sys::ExecInitExtraTupleSlot(estate, target.row_type, &pg_sys::TTSOpsVirtual)).collect();
    let checked = !(*(*rel).rd_att).constr.is_null();
    for chunk in rows.chunks(batch) {
        for (row, &slot) in chunk.iter().zip(&slots) {
            target.fill(slot, econtext, &fixed, row);
            if batch == 1 {
                pg_sys::ExecSimpleRelationInsert(result, estate, slot);
            } else if checked {
                // What ExecSimpleRelationInsert checks before writing (NOT NULL, a DBA's CHECK).
                pg_sys::ExecConstraints(result, slot, estate);
            }
        }
        if batch > 1 {
            // The chunk's heap tuples in one call (one WAL record and one page lock per page, as
            // COPY writes), then each tuple's index entries as ExecSimpleRelationInsert makes them.
            pg_sys::heap_multi_insert(rel, slots.as_ptr().cast_mut(), chunk.len() as i32, (*estate).es_output_cid, 0, std::ptr::null_mut());
            if (*result).ri_NumIndices > 0 {
                for &slot in &slots[..chunk.len()] {
                    let recheck = pg_sys::ExecInsertIndexTuples(result, slot, estate, false, false, std::ptr::null_mut(), std::ptr::null_mut());
                    pg_sys::list_free(recheck);
                }
            }
        }
    }
    pg_sys::ExecCloseIndices(result);
    pg_sys::ExecResetTupleTable((*estate).es_tupleTable, false);
    pg_sys::FreeExecutorState(estate);
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;
    use std::cell::Cell;

    thread_local! {
        /// Statements whose rows the direct path wrote.
        pub static WRITTEN_DIRECTLY: Cell<u64> = const { Cell::new(0) };
    }

    /// Every queue row of `table` with every column but its id and table, in order.
    fn queue_of(table: &str) -> String {
        Spi::get_one::<String>(&format!(
            "SELECT string_agg((brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_key,
                                retailer_code, retailer_access, state, attempts, next_attempt_at, transaction_id, error_code,
                                error_message, enqueued_at, enqueued_by, settled_at, batch_id)::text, E'\\n' ORDER BY id)
               FROM iys.outbox WHERE source_table = '{table}'::regclass"
        ))
        .unwrap()
        .unwrap_or_default()
    }

    /// Runs `statements` (`$T` the table) on two tables attached alike, one with the direct path
    /// and one through the generated statement, and compares their queues; answers how many
    /// statements the direct path wrote.
    fn both_paths(columns: &str, mapping: &str, statements: &[&str]) -> u64 {
        for table in ["by_plan", "direct"] {
            Spi::run(&format!("CREATE TABLE {table} ({columns})")).unwrap();
            Spi::run(&format!("SELECT iys.attach('{table}', brand_code => '600001', mapping => '{mapping}')")).unwrap();
        }
        Spi::run("SET iys.direct_enqueue = off").unwrap();
        for s in statements {
            Spi::run(&s.replace("$T", "by_plan")).unwrap();
        }
        Spi::run("SET iys.direct_enqueue = on").unwrap();
        let before = WRITTEN_DIRECTLY.with(Cell::get);
        for s in statements {
            Spi::run(&s.replace("$T", "direct")).unwrap();
        }
        let (by_plan, direct) = (queue_of("by_plan"), queue_of("direct"));
        assert!(by_plan.lines().count() >= statements.len(), "the statements queue rows:\n{by_plan}");
        assert_eq!(direct, by_plan);
        WRITTEN_DIRECTLY.with(Cell::get) - before
    }

    #[pg_test]
    fn direct_path_queues_what_the_statement_queues() {
        let t = "(now() AT TIME ZONE 'Europe/Istanbul')";
        let statements = [
            format!("INSERT INTO $T (contact_id, contact_type, email, email_permission, email_consent_date, email_source, gsm, gsm_permission, gsm_consent_date, gsm_source)
                     VALUES (1, 'BIREYSEL', ' User1@Example.com ', 'onay', {t} - interval '2 hours', 'hs_web', '05321112233', 'ONAY', {t} - interval '2 hours', ' HS_MESAJ '),
                            (2, 'tacır', NULL, NULL, NULL, NULL, '+90 532 111 22 44', 'RET', {t} - interval '2 hours', 'HS_FIZIKSEL_ORTAM'),
                            (3, NULL, 'three@example.com', 'RET', {t} - interval '2 hours', 'HS_WEB', NULL, NULL, NULL, NULL)"),
            format!("INSERT INTO $T (contact_id, email, email_permission, email_consent_date, email_source) VALUES (4, 'four@example.com', 'ONAY', {t} - interval '2 hours', 'HS_EPOSTA')"),
            format!("UPDATE $T SET gsm_permission = 'RET', gsm_consent_date = {t} - interval '1 hour' WHERE contact_id = 1"),
            format!("UPDATE $T SET email_permission = 'RET', email_consent_date = {t} - interval '1 hour', email_source = 'HS_WEB' WHERE email IS NOT NULL"),
            "UPDATE $T SET contact_type = 'TACIR' WHERE contact_id = 2".to_owned(),
            format!("INSERT INTO $T (contact_id, gsm, gsm_permission, gsm_consent_date, gsm_source) VALUES (2, '05321112244', 'ONAY', {t} - interval '30 minutes', 'HS_WEB'), (5, '05321112255', 'ONAY', {t} - interval '30 minutes', 'HS_WEB')
                     ON CONFLICT (contact_id) DO UPDATE SET gsm_permission = EXCLUDED.gsm_permission, gsm_consent_date = EXCLUDED.gsm_consent_date, gsm_source = EXCLUDED.gsm_source"),
        ];
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        let columns = "contact_id int PRIMARY KEY, contact_type text, email text, email_permission text, email_consent_date timestamp, email_source text,
                       gsm varchar(40), gsm_permission text, gsm_consent_date timestamp, gsm_source text";
        // Every statement but the one that moves no consent (its UPDATE of the contact type).
        assert_eq!(both_paths(columns, "{}", &statements), 6);
    }

    #[pg_test]
    fn direct_path_reads_booleans_dates_types_and_retailers_as_the_statement() {
        let t = "(now() AT TIME ZONE 'Europe/Istanbul')";
        let statements = [
            format!("INSERT INTO $T (id, kind, email, email_ok, email_at, email_source, gsm, gsm_ok, gsm_at, gsm_source, call_ok, call_at, abroad)
                     VALUES (10, 'Firma', 'a@example.com', true, now() - interval '2 hours', 'HS_WEB', '05321110010', true, {t} - interval '2 hours', 'HS_MESAJ', 'ONAY', current_date, false),
                            (11, NULL, NULL, NULL, NULL, NULL, '05321110011', false, {t} - interval '2 hours', 'HS_MESAJ', 'RET', current_date, NULL),
                            (12, 'B', 'c@example.com', true, now() - interval '2 hours', 'HS_WEB', NULL, NULL, NULL, NULL, NULL, NULL, true)"),
            format!("UPDATE $T SET gsm_ok = NOT gsm_ok, gsm_at = {t} - interval '1 hour', gsm_source = 'HS_WEB' WHERE gsm IS NOT NULL AND NOT abroad"),
            "UPDATE $T SET email_ok = false, email_at = now() - interval '1 hour' WHERE email IS NOT NULL".to_owned(),
        ];
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        let columns = "id bigint PRIMARY KEY, kind text, email text, email_ok boolean, email_at timestamptz, email_source text,
                       gsm text, gsm_ok boolean, gsm_at timestamp, gsm_source text, call_ok text, call_at date, abroad boolean";
        let mapping = r#"{"contact_type": "kind", "contact_type_values": {"BIREYSEL": ["B"], "TACIR": ["T", "Firma"]}, "local_only": "abroad",
                          "retailer_code": 12345678, "retailer_access": [12345678, 23456789],
                          "email_permission": "email_ok", "email_consent_date": "email_at",
                          "gsm_permission": "gsm_ok", "gsm_consent_date": "gsm_at",
                          "call_permission": "call_ok", "call_consent_date": "call_at", "call_source": "gsm_source"}"#;
        assert_eq!(both_paths(columns, mapping, &statements), 3);
    }

    /// Indexes a DBA adds to the queue (an expression, BRIN, one created between two statements)
    /// are written like the queue's own, statement after statement; the kept index descriptions
    /// of the queue's own indexes serve on.
    #[pg_test]
    fn direct_path_writes_indexes_added_to_the_queue() {
        let t = "(now() AT TIME ZONE 'Europe/Istanbul')";
        Spi::run("CREATE TABLE contacts (id int PRIMARY KEY, gsm text, gsm_permission text, gsm_consent_date timestamp, gsm_source text)").unwrap();
        Spi::run(r#"SELECT iys.attach('contacts', brand_code => '600001', mapping => '{"contact_type": null, "email": null}')"#).unwrap();
        Spi::run("CREATE INDEX outbox_recipient_tail ON iys.outbox (right(recipient, 4))").unwrap();
        Spi::run("CREATE INDEX outbox_enqueued_brin ON iys.outbox USING brin (enqueued_at)").unwrap();
        let before = WRITTEN_DIRECTLY.with(Cell::get);
        for i in 0..4 {
            if i == 2 {
                Spi::run("CREATE INDEX outbox_source_key ON iys.outbox (source_key) WHERE status = 'ONAY'").unwrap();
            }
            Spi::run(&format!(
                "INSERT INTO contacts VALUES ({i}, '0532111000{i}', 'ONAY', {t} - interval '1 hour', 'HS_WEB')"
            ))
            .unwrap();
        }
        assert_eq!(WRITTEN_DIRECTLY.with(Cell::get) - before, 4);
        Spi::run("SET LOCAL enable_seqscan = off").unwrap();
        Spi::run("SET LOCAL enable_bitmapscan = off").unwrap();
        let through = |predicate: &str| Spi::get_one::<i64>(&format!("SELECT count(*) FROM iys.outbox WHERE {predicate}")).unwrap();
        assert_eq!(through("right(recipient, 4) = '0003'"), Some(1));
        assert_eq!(through("source_key IN ('2', '3') AND status = 'ONAY'"), Some(2));
        assert_eq!(through("brand_code = '600001' AND state = 'pending' AND id = (SELECT max(id) FROM iys.outbox)"), Some(1));
        Spi::run("SET LOCAL enable_indexscan = off").unwrap();
        Spi::run("SET LOCAL enable_bitmapscan = on").unwrap();
        assert_eq!(through("enqueued_at >= now() - interval '1 minute'"), Some(4));
    }

    /// A table `contacts` of an id, `extra` columns and D-engage's e-mail and SMS channels,
    /// attached with brand 600001.
    fn attach_contacts(extra: &str) {
        Spi::run(&format!(
            "CREATE TABLE contacts (id int PRIMARY KEY, {extra} email text, email_permission text, email_consent_date timestamp,
             email_source text, gsm text, gsm_permission text, gsm_consent_date timestamp, gsm_source text)"
        ))
        .unwrap();
        Spi::run(r#"SELECT iys.attach('contacts', brand_code => '600001', mapping => '{"contact_type": null}')"#).unwrap();
    }

    /// A statement's queue rows written together (`heap_multi_insert`: two channels of a contact,
    /// two contacts in one statement) get every index entry, a DBA's indexes too.
    #[pg_test]
    fn direct_path_writes_a_statements_rows_together_into_every_index() {
        let t = "(now() AT TIME ZONE 'Europe/Istanbul')";
        attach_contacts("");
        Spi::run("CREATE INDEX outbox_recipient_tail ON iys.outbox (right(recipient, 4))").unwrap();
        Spi::run("CREATE INDEX outbox_enqueued_brin ON iys.outbox USING brin (enqueued_at)").unwrap();
        let before = WRITTEN_DIRECTLY.with(Cell::get);
        Spi::run(&format!(
            "INSERT INTO contacts VALUES
               (1, 'a@example.com', 'ONAY', {t} - interval '1 hour', 'HS_WEB', '05321110001', 'ONAY', {t} - interval '1 hour', 'HS_WEB'),
               (2, 'b@example.com', 'RET', {t} - interval '1 hour', 'HS_WEB', '05321110002', 'ONAY', {t} - interval '1 hour', 'HS_WEB')"
        ))
        .unwrap();
        assert_eq!(WRITTEN_DIRECTLY.with(Cell::get) - before, 1, "one statement, written by the direct path");
        Spi::run("SET LOCAL enable_seqscan = off").unwrap();
        Spi::run("SET LOCAL enable_bitmapscan = off").unwrap();
        let through = |predicate: &str| Spi::get_one::<i64>(&format!("SELECT count(*) FROM iys.outbox WHERE {predicate}")).unwrap();
        assert_eq!(through("right(recipient, 4) IN ('0001', '0002')"), Some(2));
        // The key index holds an opt-out from the start (a fresh ONAY only once a batch claims it).
        assert_eq!(through("recipient = 'b@example.com' AND state IN ('pending', 'in_flight') AND status = 'RET'"), Some(1));
        assert_eq!(through("brand_code = '600001' AND state = 'pending'"), Some(4));
        assert_eq!(through("id > 0"), Some(4));
        Spi::run("SET LOCAL enable_indexscan = off").unwrap();
        Spi::run("SET LOCAL enable_bitmapscan = on").unwrap();
        assert_eq!(through("enqueued_at >= now() - interval '1 minute'"), Some(4));
    }

    /// A CHECK constraint a DBA puts on the queue holds for rows written together as for one.
    #[pg_test(error = "new row for relation \"outbox\" violates check constraint \"no_test_domain\"")]
    fn direct_path_checks_a_dbas_constraint_on_rows_written_together() {
        let t = "(now() AT TIME ZONE 'Europe/Istanbul')";
        attach_contacts("");
        Spi::run("ALTER TABLE iys.outbox ADD CONSTRAINT no_test_domain CHECK (recipient NOT LIKE '%@test.example')").unwrap();
        Spi::run(&format!(
            "INSERT INTO contacts VALUES
               (1, 'a@test.example', 'ONAY', {t} - interval '1 hour', 'HS_WEB', '05321110001', 'ONAY', {t} - interval '1 hour', 'HS_WEB')"
        ))
        .unwrap();
    }

    /// A text column stored compressed is read as its text by the row check and the enqueue
    /// (which otherwise borrow a column's bytes where they lie in the tuple): a row whose long
    /// e-mail address PostgreSQL compressed on disk withdraws its e-mail consent, and the opt-out
    /// goes to that address.
    #[pg_test]
    fn a_compressed_address_is_read_as_its_text() {
        let t = "(now() AT TIME ZONE 'Europe/Istanbul')";
        attach_contacts("notes text,");
        // The wide, incompressible notes stay in the row (MAIN), so the toaster compresses the address.
        Spi::run("ALTER TABLE contacts ALTER COLUMN notes SET STORAGE MAIN").unwrap();
        let address = format!("user@{0}.{0}.{0}.com", "a".repeat(60));
        Spi::run(&format!(
            "INSERT INTO contacts VALUES (1, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 100) i),
               '{address}', 'ONAY', {t} - interval '2 hours', 'HS_WEB', '05321110001', 'ONAY', {t} - interval '2 hours', 'HS_WEB')"
        ))
        .unwrap();
        let compression = Spi::get_one::<String>("SELECT pg_column_compression(email)::text FROM contacts WHERE id = 1").unwrap();
        assert_eq!(compression.as_deref(), Some("pglz"), "the test needs the address stored compressed");
        let before = WRITTEN_DIRECTLY.with(Cell::get);
        Spi::run(&format!("UPDATE contacts SET email_permission = 'RET', email_consent_date = {t} - interval '1 hour' WHERE id = 1")).unwrap();
        assert_eq!(WRITTEN_DIRECTLY.with(Cell::get) - before, 1, "the UPDATE written by the direct path");
        let queue = Spi::get_one::<String>(
            "SELECT string_agg(consent_type || ' ' || status || ' ' || recipient, ', ' ORDER BY id) FROM iys.outbox WHERE source_table = 'contacts'::regclass",
        )
        .unwrap();
        assert_eq!(queue.as_deref(), Some(format!("EPOSTA ONAY {address}, MESAJ ONAY +905321110001, EPOSTA RET {address}").as_str()));
        let stored = Spi::get_one::<String>("SELECT email FROM contacts WHERE id = 1").unwrap();
        assert_eq!(stored.as_deref(), Some(address.as_str()));
    }

    #[pg_test]
    fn mappings_it_does_not_cover_go_through_the_statement() {
        let t = "(now() AT TIME ZONE 'Europe/Istanbul')";
        let insert = format!("INSERT INTO $T (id, marka, gsm, gsm_permission, gsm_consent_date, gsm_source) VALUES (1, '600001', '05321110020', 'E', {t} - interval '1 hour', 'web')");
        let mapping = r#"{"brand_column": "marka", "contact_type": null, "email": null, "gsm_permission_values": {"ONAY": "E", "RET": "H"}, "gsm_source_values": {"web": "HS_WEB"}}"#;
        let columns = "id int PRIMARY KEY, marka text, gsm text, gsm_permission text, gsm_consent_date timestamp, gsm_source text";
        assert_eq!(both_paths(columns, mapping, &[&insert]), 0);
    }
}
