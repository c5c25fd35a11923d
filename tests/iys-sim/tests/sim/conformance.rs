//! Validates the simulator's real answers, success and error, against the response schemas of
//! IYS's OpenAPI document, loaded at run time.
//!
//! The document is kept in the crate, unmodified (`openapi/iys-openapi-3.2.0.json`), so the
//! repository stands alone; `IYS_OPENAPI` overrides the path (e.g. to try a newer document).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::*;
use crate::push::{connection, push_config, register, Auth, Receiver, PUSH_PASSWORD, PUSH_USER};
use iys_sim::Config;

fn document_path() -> PathBuf {
    match std::env::var_os("IYS_OPENAPI") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/iys-openapi-3.2.0.json")),
    }
}

fn load_document() -> Value {
    let path = document_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read the IYS OpenAPI document at {}: {e} (set IYS_OPENAPI)", path.display()));
    serde_json::from_str(&text).expect("the OpenAPI document is JSON")
}

// ---- a validator for the JSON-Schema subset the document uses ------------------------------

struct Validator<'a> {
    root: &'a Value,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    let actual = type_name(v);
    actual == t || (t == "number" && actual == "integer")
}

impl<'a> Validator<'a> {
    fn resolve(&self, reference: &str) -> &'a Value {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("only local $ref are used: {reference}"));
        self.root.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"))
    }

    fn is_valid(&self, schema: &Value, v: &Value) -> bool {
        let mut errs = Vec::new();
        self.validate(schema, v, "$", &mut errs);
        errs.is_empty()
    }

    /// Appends one message per violation. Keywords: $ref, type, enum, properties, required,
    /// additionalProperties, items, allOf, oneOf, anyOf, min/maxItems, min/maxLength,
    /// minimum/maximum. `format` is not checked: IYS's "date-time" is `YYYY-MM-DD HH:mm:ss`.
    fn validate(&self, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
        let Some(s) = schema.as_object() else { return };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            self.validate(self.resolve(r), v, at, errs);
            return;
        }
        match s.get("type") {
            Some(Value::String(t)) if !has_type(v, t) => {
                errs.push(format!("{at}: expected {t}, found {}", type_name(v)));
                return;
            }
            Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(|t| has_type(v, t)) => {
                errs.push(format!("{at}: expected one of {ts:?}, found {}", type_name(v)));
                return;
            }
            _ => {}
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
            if !allowed.contains(v) {
                errs.push(format!("{at}: {v} not in enum {allowed:?}"));
            }
        }
        if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
            for p in parts {
                self.validate(p, v, at, errs);
            }
        }
        if let Some(parts) = s.get("oneOf").and_then(Value::as_array) {
            let matching = parts.iter().filter(|p| self.is_valid(p, v)).count();
            if matching != 1 {
                errs.push(format!("{at}: matches {matching} of oneOf, wanted exactly 1"));
            }
        }
        if let Some(parts) = s.get("anyOf").and_then(Value::as_array) {
            if !parts.iter().any(|p| self.is_valid(p, v)) {
                errs.push(format!("{at}: matches none of anyOf"));
            }
        }
        if let Value::Object(obj) = v {
            let props = s.get("properties").and_then(Value::as_object);
            for name in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                if !obj.contains_key(name) {
                    errs.push(format!("{at}: missing required {name:?}"));
                }
            }
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => self.validate(ps, val, &format!("{at}.{k}"), errs),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => errs.push(format!("{at}: property {k:?} not allowed")),
                        Some(extra @ Value::Object(_)) => self.validate(extra, val, &format!("{at}.{k}"), errs),
                        _ => {}
                    },
                }
            }
        }
        if let Value::Array(items) = v {
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.validate(item_schema, item, &format!("{at}[{i}]"), errs);
                }
            }
            if s.get("maxItems").and_then(Value::as_u64).is_some_and(|m| items.len() as u64 > m) {
                errs.push(format!("{at}: more than maxItems"));
            }
            if s.get("minItems").and_then(Value::as_u64).is_some_and(|m| (items.len() as u64) < m) {
                errs.push(format!("{at}: fewer than minItems"));
            }
        }
        if let Value::String(text) = v {
            let n = text.chars().count() as u64;
            if s.get("maxLength").and_then(Value::as_u64).is_some_and(|m| n > m) {
                errs.push(format!("{at}: longer than maxLength"));
            }
            if s.get("minLength").and_then(Value::as_u64).is_some_and(|m| n < m) {
                errs.push(format!("{at}: shorter than minLength"));
            }
        }
        if let Some(x) = v.as_f64() {
            if s.get("maximum").and_then(Value::as_f64).is_some_and(|m| x > m) {
                errs.push(format!("{at}: {x} above maximum"));
            }
            if s.get("minimum").and_then(Value::as_f64).is_some_and(|m| x < m) {
                errs.push(format!("{at}: {x} below minimum"));
            }
        }
    }
}

#[test]
fn validator_can_fail() {
    let doc = json!({"components": {"schemas": {
        "E": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}, "n": {"type": "integer", "maximum": 3}}, "additionalProperties": false},
        "L": {"type": "array", "items": {"$ref": "#/components/schemas/E"}, "maxItems": 2},
        "O": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    }}});
    let v = Validator { root: &doc };
    let l = json!({"$ref": "#/components/schemas/L"});
    assert!(v.is_valid(&l, &json!([{"code": "H1"}, {"code": "H2", "n": 3}])));
    assert!(!v.is_valid(&l, &json!([{"code": 1}])));
    assert!(!v.is_valid(&l, &json!([{"n": 1}])));
    assert!(!v.is_valid(&l, &json!([{"code": "x", "n": 4}])));
    assert!(!v.is_valid(&l, &json!([{"code": "x", "other": 1}])));
    assert!(!v.is_valid(&l, &json!([{"code": "a"}, {"code": "b"}, {"code": "c"}])));
    assert!(!v.is_valid(&l, &json!({"code": "a"})));
    let o = json!({"$ref": "#/components/schemas/O"});
    assert!(v.is_valid(&o, &json!(1)) && v.is_valid(&o, &json!("a")) && !v.is_valid(&o, &json!(true)));
    assert!(!v.is_valid(&json!({"enum": ["ONAY", "RET"]}), &json!("BEKLIYOR")));
}

// ---- errata ----------------------------------------------------------------------------------

/// Where the document's schemas contradict its own examples; each is proven against those
/// examples (`errata_are_real`), so the test fails if a future document fixes the schema.
///
/// - `InvalidErrorFor422` declares `errors` as a single object, while every example the
///   document gives for it (and every other error body of IYS) is an array of such objects. The
///   simulator answers arrays; the test reads the schema as "array of InvalidError".
/// - `ConsentType` (the items of ViA's `consentTypes`) is declared an array of itself, while
///   its own example and every ViA request example list objects; read as "an object" (its
///   fields are described in prose only).
/// - startViaRequest's 200 is declared with the request's schema (`ConsentRequest`, which
///   requires `consentTypes`), while every 200 example is `{"message": {"requestId"}, "code"}`;
///   read as that.
fn apply_errata(doc: &mut Value) {
    let errors = doc.pointer_mut("/components/schemas/InvalidErrorFor422/properties/errors").expect("InvalidErrorFor422.errors exists");
    assert_eq!(errors, &json!({"$ref": "#/components/schemas/InvalidError"}), "erratum no longer applies; revisit apply_errata");
    *errors = json!({"type": "array", "items": {"$ref": "#/components/schemas/InvalidError"}});
    let consent_type = doc.pointer_mut("/components/schemas/ConsentType").expect("ConsentType exists");
    assert_eq!(consent_type["items"], json!({"$ref": "#/components/schemas/ConsentType"}), "erratum no longer applies; revisit apply_errata");
    *consent_type = json!({"type": "object"});
    let started = doc.pointer_mut(VIA_START_200).expect("startViaRequest documents a 200");
    assert_eq!(started, &json!({"$ref": "#/components/schemas/ConsentRequest"}), "erratum no longer applies; revisit apply_errata");
    *started = json!({
        "type": "object",
        "required": ["message", "code"],
        "properties": {"message": {"type": "object", "required": ["requestId"], "properties": {"requestId": {"type": "string"}}}, "code": {"type": "string"}}
    });
}

/// The schema of startViaRequest's 200 answer, as a JSON pointer.
const VIA_START_200: &str = "/paths/~1via~1sps~1{iysCode}~1consent/post/responses/200/content/application~1json/schema";

/// The `value`s of an operation's examples at `pointer` (request body or a response).
fn example_values(op: &Value, pointer: &str) -> Vec<Value> {
    op.pointer(&format!("{pointer}/content/application~1json/examples")).and_then(Value::as_object).into_iter().flatten().map(|(_, e)| e["value"].clone()).collect()
}

#[test]
fn the_document_is_read_from_inside_the_repository() {
    let default = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/iys-openapi-3.2.0.json"));
    let canonical = default.canonicalize().expect("the crate carries the OpenAPI document");
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).canonicalize().unwrap();
    assert!(canonical.starts_with(&repo), "{} is outside {}", canonical.display(), repo.display());
    if std::env::var_os("IYS_OPENAPI").is_none() {
        assert_eq!(document_path(), default);
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&default).unwrap()).unwrap();
    assert!(doc["info"]["version"].as_str().is_some_and(|v| v.starts_with("3.2.0")), "{}", doc["info"]["version"]);
    assert!(doc["paths"]["/v2/sps/{iysCode}/brands/{brandCode}/consents/request"]["post"]["operationId"] == "addBatchConsentV2");
}

#[test]
fn errata_are_real() {
    let original = load_document();
    let mut patched = original.clone();
    apply_errata(&mut patched);
    let schema = json!({"$ref": "#/components/schemas/InvalidErrorFor422"});
    let mut examples = Vec::new();
    // Only the operations the simulator serves: others' examples have unrelated slips.
    for (method, template) in [("get", RESULT), ("get", RESULT_V2), ("post", STATUS), ("get", CHANGES)] {
        let op = &original["paths"][template][method];
        let Some(r422) = op.pointer("/responses/422/content/application~1json") else { panic!("{template} documents no 422") };
        if r422["schema"] == schema {
            examples.extend(r422["examples"].as_object().into_iter().flatten().map(|(_, e)| e["value"].clone()));
        }
    }
    assert!(examples.len() >= 5, "found {} examples", examples.len());
    let (before, after) = (Validator { root: &original }, Validator { root: &patched });
    assert!(examples.iter().all(|e| !before.is_valid(&schema, e)), "the document's examples fail its own schema");
    assert!(examples.iter().all(|e| after.is_valid(&schema, e)), "and pass the corrected one");

    // ConsentType: its own example, and the confirmation's request examples (the start's send
    // formId as a string, which the schema types integer, so they prove nothing here).
    let items = json!({"type": "array", "items": {"$ref": "#/components/schemas/ConsentType"}});
    let own = &original["components"]["schemas"]["ConsentType"]["example"];
    assert!(!before.is_valid(&items, own) && after.is_valid(&items, own), "ConsentType's own example");
    let request = json!({"$ref": "#/components/schemas/ConsentRequest"});
    let confirmations = example_values(&original["paths"][VIA_CONFIRM]["post"], "/requestBody");
    assert!(confirmations.len() >= 6, "found {} examples", confirmations.len());
    assert!(confirmations.iter().all(|e| !before.is_valid(&request, e) && after.is_valid(&request, e)), "the confirmation's examples");

    // startViaRequest's 200.
    let started = example_values(&original["paths"][VIA_START]["post"], "/responses/200");
    assert!(started.len() >= 4, "found {} examples", started.len());
    let (schema_before, schema_after) = (original.pointer(VIA_START_200).unwrap(), patched.pointer(VIA_START_200).unwrap());
    assert!(started.iter().all(|e| !before.is_valid(schema_before, e) && after.is_valid(schema_after, e)), "startViaRequest's 200 examples");
}

// ---- the check itself --------------------------------------------------------------------------

/// Statuses the simulator answers that the document does not list for that operation; they are
/// checked against the document's generic `ErrorsArrayCode` instead.
/// - 429 H084 of the token endpoint: described in the text ("KİMLİK DOĞRULAMA"), not listed.
/// - 503 H192: in the error-code table ("İstek zaman aşımına uğradı"), on no operation.
/// - 404 of an account-level refusal (`account_refusal` fault): IYS's 404 answers for a missing
///   integrator or right (H129, H268, H355) are in the table, on no consent operation.
/// - 429 H124 of the push operations: the table's per-second limit holds for every call, but
///   these three operations do not list it.
/// - 400 H014 of the push unregistration: a body that is not JSON (400 in the table, and the
///   registration's own 400 example); the unregistration lists no 400.
/// - 429 H124 of the three `/via/sps/{iysCode}` operations, which list no 429 either. Their
///   404 (getViaRequest's H1112, 404 in the table, on no operation) falls under the `*` above.
const UNDOCUMENTED: [(&str, u16); 10] = [
    ("POST /oauth2/token", 429),
    ("*", 503),
    ("*", 404),
    ("POST /sps/{iysCode}/brands/{brandCode}/push/registration", 429),
    ("GET /sps/{iysCode}/brands/{brandCode}/push/registration", 429),
    ("POST /sps/{iysCode}/brands/{brandCode}/push/unregistration", 429),
    ("POST /sps/{iysCode}/brands/{brandCode}/push/unregistration", 400),
    ("POST /via/sps/{iysCode}/consent", 429),
    ("GET /via/sps/{iysCode}/consent/request/{requestId}", 429),
    ("POST /via/sps/{iysCode}/confirmation", 429),
];

struct Checker {
    doc: Value,
    failures: Vec<String>,
    covered: BTreeSet<(String, u16)>,
    undocumented: BTreeSet<(String, u16)>,
}

impl Checker {
    fn new() -> Checker {
        let mut doc = load_document();
        apply_errata(&mut doc);
        Checker { doc, failures: Vec::new(), covered: BTreeSet::new(), undocumented: BTreeSet::new() }
    }

    fn operation(&self, method: &str, template: &str) -> &Value {
        let op = &self.doc["paths"][template][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        op
    }

    /// Validates a request body we send against the operation's requestBody schema, so the
    /// test itself speaks the documented language.
    fn request(&mut self, method: &str, template: &str, body: &Value) {
        let schema = self.operation(method, template)["requestBody"]["content"]["application/json"]["schema"].clone();
        let mut errs = Vec::new();
        Validator { root: &self.doc }.validate(&schema, body, "$", &mut errs);
        for e in errs {
            self.failures.push(format!("request {method} {template}: {e}"));
        }
    }

    fn response(&mut self, method: &str, template: &str, r: &Resp) {
        let name = format!("{method} {template}");
        let op = self.operation(method, template).clone();
        self.covered.insert((name.clone(), r.status));
        let documented = &op["responses"][r.status.to_string()];
        if documented["content"]["text/csv"].is_object() {
            self.csv_response(&name, &op, r);
            return;
        }
        if r.status == 204 {
            if !r.text.is_empty() {
                self.failures.push(format!("{name} 204 has a body: {}", r.text));
            }
            if !documented.is_object() {
                self.failures.push(format!("{name}: 204 not documented"));
            }
            return;
        }
        let schema = if documented.is_object() {
            documented["content"]["application/json"]["schema"].clone()
        } else {
            let allowed = UNDOCUMENTED.iter().any(|(n, s)| (*n == name || *n == "*") && *s == r.status);
            if !allowed {
                self.failures.push(format!("{name}: status {} is not documented ({})", r.status, r.text));
                return;
            }
            self.undocumented.insert((name.clone(), r.status));
            json!({"$ref": "#/components/schemas/ErrorsArrayCode"})
        };
        if r.body.is_null() {
            self.failures.push(format!("{name} {}: body is not JSON: {:?}", r.status, r.text));
            return;
        }
        let mut errs = Vec::new();
        Validator { root: &self.doc }.validate(&schema, &r.body, "$", &mut errs);
        for e in errs {
            self.failures.push(format!("{name} {}: {e} in {}", r.status, r.text));
        }
    }
}

impl Checker {
    /// Validates each item of the answer's `field` list against the operation's documented
    /// schema for its status: the confirmation documents one item of its `message` list as
    /// its whole 200 answer (its examples wrap the items in `{"message": [...], "code"}`).
    fn items(&mut self, method: &str, template: &str, r: &Resp, field: &str) {
        let schema = self.operation(method, template)["responses"][r.status.to_string()]["content"]["application/json"]["schema"].clone();
        let Some(items) = r.body[field].as_array().filter(|a| !a.is_empty()) else {
            self.failures.push(format!("{method} {template} {}: no {field} items in {}", r.status, r.text));
            return;
        };
        let mut errs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            Validator { root: &self.doc }.validate(&schema, item, &format!("$.{field}[{i}]"), &mut errs);
        }
        for e in errs {
            self.failures.push(format!("{method} {template} {}: {e} in {}", r.status, r.text));
        }
    }
}

/// The columns of a CSV answer as the operation's description shows them: the header row of
/// its example table (`|creationDate |transactionId |...|`).
fn documented_csv_columns(op: &Value) -> Vec<String> {
    let description = op["description"].as_str().unwrap_or("");
    let header = description.lines().find(|l| l.trim_start().starts_with("|creationDate")).expect("the description shows an example CSV table");
    header.split('|').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect()
}

impl Checker {
    /// A `text/csv` answer: that content type, the documented columns as header line (comma
    /// separated), as many values on every line, and the final `\n` the document promises.
    fn csv_response(&mut self, name: &str, op: &Value, r: &Resp) {
        if !r.content_type.starts_with("text/csv") {
            self.failures.push(format!("{name} {}: content type {:?}, documented text/csv", r.status, r.content_type));
        }
        let columns = documented_csv_columns(op);
        let mut lines = r.text.lines();
        if lines.next() != Some(columns.join(",").as_str()) {
            self.failures.push(format!("{name} {}: header is not {columns:?}: {:?}", r.status, r.text));
        }
        for line in lines {
            if line.split(',').count() != columns.len() {
                self.failures.push(format!("{name} {}: line {line:?} has not {} values", r.status, columns.len()));
            }
        }
        if !r.text.ends_with('\n') {
            self.failures.push(format!("{name} {}: the file does not end with \\n", r.status));
        }
    }
}

const TOKEN: &str = "/oauth2/token";
const ADD: &str = "/sps/{iysCode}/brands/{brandCode}/consents";
const ADD_V2: &str = "/v2/sps/{iysCode}/brands/{brandCode}/consents";
const BATCH: &str = "/sps/{iysCode}/brands/{brandCode}/consents/request";
const BATCH_V2: &str = "/v2/sps/{iysCode}/brands/{brandCode}/consents/request";
const RESULT: &str = "/sps/{iysCode}/brands/{brandCode}/consents/request/{requestId}";
const RESULT_V2: &str = "/v2/sps/{iysCode}/brands/{brandCode}/consents/request/{requestId}";
const STATUS: &str = "/sps/{iysCode}/brands/{brandCode}/consents/status";
const MULTI: &str = "/sps/{iysCode}/brands/{brandCode}/consents/{recipientType}/status/{type}";
const CHANGES: &str = "/sps/{iysCode}/brands/{brandCode}/consents/changes";
const FILE: &str = "/sps/{iysCode}/brands/{brandCode}/changes/{reportDate}/file";
const PUSH_REG: &str = "/sps/{iysCode}/brands/{brandCode}/push/registration";
const PUSH_UNREG: &str = "/sps/{iysCode}/brands/{brandCode}/push/unregistration";
const VIA_START: &str = "/via/sps/{iysCode}/consent";
const VIA_STATUS: &str = "/via/sps/{iysCode}/consent/request/{requestId}";
const VIA_CONFIRM: &str = "/via/sps/{iysCode}/confirmation";
const VIA_LINKS: &str = "/sps/{iysCode}/brands/{brandCode}/via-hash-links";

/// Calls `f` with faults `faults` switched on, collecting answers until each wanted status has
/// been seen (error_rate picks 500 or 503 at random).
fn under_fault(c: &Client, faults: Value, wanted: &[u16], mut f: impl FnMut() -> Resp) -> Vec<Resp> {
    c.post("/admin/faults", &faults);
    let mut out: Vec<Resp> = Vec::new();
    for _ in 0..200 {
        let r = f();
        if !out.iter().any(|o| o.status == r.status) {
            out.push(r);
        }
        if wanted.iter().all(|w| out.iter().any(|o| o.status == *w)) {
            break;
        }
    }
    c.delete("/admin/faults");
    out
}

#[test]
fn responses_match_the_openapi_document() {
    let sim = start(Config { batch_delay_ms: 0, ..test_config() });
    let mut ck = Checker::new();
    let anon = Client::new(&sim);
    let mut bad_token = Client::new(&sim);
    bad_token.token = Some("expired".into());

    // Token endpoint.
    let login = json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"});
    ck.request("POST", TOKEN, &login);
    let ok = anon.post(TOKEN, &login);
    ck.response("POST", TOKEN, &ok);
    let refresh = json!({"grant_type": "refresh_token", "refresh_token": ok.body["refresh_token"]});
    ck.request("POST", TOKEN, &refresh);
    ck.response("POST", TOKEN, &anon.post(TOKEN, &refresh));
    ck.response("POST", TOKEN, &anon.post_raw(TOKEN, "application/x-www-form-urlencoded", "grant_type=password&username=iys-demo&password=demo-password"));
    ck.response("POST", TOKEN, &anon.post(TOKEN, &json!({"grant_type": "password", "username": "iys-demo", "password": "x"})));
    ck.response("POST", TOKEN, &anon.post(TOKEN, &json!({"username": "iys-demo"})));
    anon.post("/admin/faults", &json!({"token_limit_hit": true}));
    ck.response("POST", TOKEN, &anon.post(TOKEN, &login));
    anon.delete("/admin/faults");

    let c = Client::logged_in(&sim);
    let p = |t: &str| t.replace("{iysCode}", &IYS.to_string()).replace("{brandCode}", &BRAND.to_string());

    // Single add, V1 and V2.
    for (tpl, n) in [(ADD, 1), (ADD_V2, 2)] {
        let good = consent(&phone(n), "MESAJ", "ONAY");
        ck.request("POST", tpl, &good);
        ck.response("POST", tpl, &c.post(&p(tpl), &good));
        ck.response("POST", tpl, &c.post(&p(tpl), &consent(&phone(n + 10), "MESAJ", "RET"))); // 400 H175
        ck.response("POST", tpl, &c.post(&p(tpl), &consent("bad", "EPOSTAA", "ONAYY"))); // 422
        ck.response("POST", tpl, &bad_token.post(&p(tpl), &good)); // 401
        for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&p(tpl), &good)) {
            ck.response("POST", tpl, &r);
        }
        for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&p(tpl), &good)) {
            ck.response("POST", tpl, &r);
        }
    }

    // Batch add and its results, V1 and V2.
    for (tpl, result_tpl, n) in [(BATCH, RESULT, 100), (BATCH_V2, RESULT_V2, 200)] {
        let items = json!([consent(&phone(n), "MESAJ", "ONAY"), consent(&phone(n + 1), "MESAJ", "RET"), consent("Batch@Example.com", "EPOSTA", "ONAY")]);
        ck.request("POST", tpl, &items);
        let accepted = c.post(&p(tpl), &items);
        ck.response("POST", tpl, &accepted);
        ck.response("POST", tpl, &c.post(&p(tpl), &json!({"not": "a list"}))); // 400 H092
        ck.response("POST", tpl, &c.post(&p(tpl), &json!([consent(&phone(n), "MESAJ", "RETT")]))); // 422
        ck.response("POST", tpl, &bad_token.post(&p(tpl), &items));
        for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&p(tpl), &items)) {
            ck.response("POST", tpl, &r);
        }
        for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&p(tpl), &items)) {
            ck.response("POST", tpl, &r);
        }
        let id = accepted.body["requestId"].as_str().unwrap().to_string();
        let results_path = p(result_tpl).replace("{requestId}", &id);
        let processed = c.get(&results_path);
        assert!(processed.body.as_array().is_some_and(|a| a.iter().any(|i| i["status"] == "failure")), "{}", processed.text);
        ck.response("GET", result_tpl, &processed);
        // A V2 resend: success items that point at the original request.
        let resent = c.post(&p(tpl), &items);
        ck.response("GET", result_tpl, &c.get(&p(result_tpl).replace("{requestId}", resent.body["requestId"].as_str().unwrap())));
        ck.response("GET", result_tpl, &c.get(&p(result_tpl).replace("{requestId}", "abcdef"))); // 422 H199
        ck.response("GET", result_tpl, &bad_token.get(&results_path));
        for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.get(&results_path)) {
            ck.response("GET", result_tpl, &r);
        }
        for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.get(&results_path)) {
            ck.response("GET", result_tpl, &r);
        }
    }
    // Queued items (`enqueue`) have their own shape.
    c.post("/admin/config", &json!({"batch_delay_ms": 10_000, "batch_enqueue_ms": 60_000}));
    let queued = c.post(&p(BATCH), &json!([consent(&phone(300), "MESAJ", "ONAY")]));
    sim.advance_clock(40);
    let q = c.get(&p(RESULT).replace("{requestId}", queued.body["requestId"].as_str().unwrap()));
    assert_eq!(q.body[0]["status"], "enqueue", "{}", q.text);
    ck.response("GET", RESULT, &q);
    c.post("/admin/config", &json!({"batch_delay_ms": 0, "batch_enqueue_ms": 0}));

    // Single status.
    let query = json!({"recipient": phone(1), "recipientType": "BIREYSEL", "type": "MESAJ"});
    ck.request("POST", STATUS, &query);
    ck.response("POST", STATUS, &c.post(&p(STATUS), &query));
    let mut tacir_query = query.clone();
    tacir_query["recipientType"] = json!("TACIR");
    ck.response("POST", STATUS, &c.post(&p(STATUS), &tacir_query)); // 200 {}
    ck.response("POST", STATUS, &c.post(&p(STATUS), &json!([]))); // 400 H097
    ck.response("POST", STATUS, &c.post(&p(STATUS), &json!({"recipient": phone(1), "recipientType": "BIREYSEL", "type": "SMS"}))); // 422
    ck.response("POST", STATUS, &bad_token.post(&p(STATUS), &query));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&p(STATUS), &query)) {
        ck.response("POST", STATUS, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&p(STATUS), &query)) {
        ck.response("POST", STATUS, &r);
    }

    // Multi status.
    let multi_path = p(MULTI).replace("{recipientType}", "BIREYSEL").replace("{type}", "MESAJ");
    let multi = json!({"recipients": [phone(1), phone(2), phone(999)]});
    ck.request("POST", MULTI, &multi);
    let listed = c.post(&multi_path, &multi);
    assert_eq!(listed.body["list"].as_array().map(Vec::len), Some(2), "{}", listed.text);
    ck.response("POST", MULTI, &listed);
    ck.response("POST", MULTI, &c.post_raw(&multi_path, "application/json", "{broken")); // 400 H014
    ck.response("POST", MULTI, &c.post(&multi_path, &json!({"recipients": [phone(1), phone(1)]}))); // 422 H193
    ck.response("POST", MULTI, &c.post(&multi_path, &json!({}))); // 422 H168
    ck.response("POST", MULTI, &bad_token.post(&multi_path, &multi));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&multi_path, &multi)) {
        ck.response("POST", MULTI, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&multi_path, &multi)) {
        ck.response("POST", MULTI, &r);
    }

    // Changes.
    c.post("/admin/citizen-change", &json!({"iysCode": IYS, "brandCode": BRAND, "recipient": phone(1), "type": "MESAJ", "status": "RET", "source": "IYS_MOBIL"}));
    let changes_path = p(CHANGES);
    let hs = c.get(&format!("{changes_path}?source=HS&limit=2"));
    assert_eq!(hs.status, 200);
    ck.response("GET", CHANGES, &hs);
    let iys = c.get(&format!("{changes_path}?source=IYS"));
    ck.response("GET", CHANGES, &iys);
    ck.response("GET", CHANGES, &c.get(&format!("{changes_path}?source=IYS&after={}", iys.body["after"].as_str().unwrap()))); // 204
    ck.response("GET", CHANGES, &c.get(&format!("{changes_path}?source=XX"))); // 422
    ck.response("GET", CHANGES, &bad_token.get(&changes_path));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.get(&changes_path)) {
        ck.response("GET", CHANGES, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.get(&changes_path)) {
        ck.response("GET", CHANGES, &r);
    }

    // Daily movement file: yesterday's holds the movements above (all created today) only if
    // they are back-dated, so one is seeded there.
    let yesterday = tr_ago(86_400)[..10].to_string();
    let day = |date: &str| p(FILE).replace("{reportDate}", date);
    c.post("/admin/seed", &json!([{"iysCode": IYS, "brandCode": BRAND, "recipient": phone(500), "type": "MESAJ", "status": "ONAY",
                                    "source": "HS_WEB", "creationDate": format!("{yesterday} 12:00:00")}]));
    let file = c.get(&day(&yesterday));
    assert_eq!(file.text.lines().count(), 2, "{}", file.text);
    ck.response("GET", FILE, &file);
    ck.response("GET", FILE, &c.get(&day(&tr_ago(0)[..10]))); // 204: made at the end of the day
    ck.response("GET", FILE, &c.get(&day("06.07.2020"))); // 422 H501
    ck.response("GET", FILE, &c.get(&day(&tr_ago(8 * 86_400)[..10]))); // 422 H502
    ck.response("GET", FILE, &bad_token.get(&day(&yesterday)));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.get(&day(&yesterday))) {
        ck.response("GET", FILE, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.get(&day(&yesterday))) {
        ck.response("GET", FILE, &r);
    }

    // Account-level refusals on every consent operation: 403 (documented on each), 422 H525, 404.
    let batch_items = json!([consent(&phone(400), "MESAJ", "ONAY")]);
    let result_any = |tpl: &str| p(tpl).replace("{requestId}", "5a2edd8e-dd6e-4293-b09b-6180b2c5d021");
    for refusal in [json!({"status": 403, "code": "H520"}), json!({"status": 422, "code": "H525"}), json!({"status": 404})] {
        c.post("/admin/faults", &json!({ "account_refusal": refusal }));
        ck.response("POST", ADD, &c.post(&p(ADD), &consent(&phone(400), "MESAJ", "ONAY")));
        ck.response("POST", ADD_V2, &c.post(&p(ADD_V2), &consent(&phone(400), "MESAJ", "ONAY")));
        ck.response("POST", BATCH, &c.post(&p(BATCH), &batch_items));
        ck.response("POST", BATCH_V2, &c.post(&p(BATCH_V2), &batch_items));
        ck.response("GET", RESULT, &c.get(&result_any(RESULT)));
        ck.response("GET", RESULT_V2, &c.get(&result_any(RESULT_V2)));
        ck.response("POST", STATUS, &c.post(&p(STATUS), &query));
        ck.response("POST", MULTI, &c.post(&multi_path, &multi));
        ck.response("GET", CHANGES, &c.get(&changes_path));
        ck.response("GET", FILE, &c.get(&day(&yesterday)));
        c.delete("/admin/faults");
    }

    assert!(ck.failures.is_empty(), "{} schema violations:\n{}", ck.failures.len(), ck.failures.join("\n"));

    // Every operation was seen answering success and its documented error statuses.
    let must_cover: &[(&str, &str, &[u16])] = &[
        ("POST", TOKEN, &[200, 400, 429]),
        ("POST", ADD, &[200, 400, 401, 403, 404, 422, 429, 500, 503]),
        ("POST", ADD_V2, &[200, 400, 401, 403, 404, 422, 429, 500, 503]),
        ("POST", BATCH, &[202, 400, 401, 403, 404, 422, 429, 500, 503]),
        ("POST", BATCH_V2, &[202, 400, 401, 403, 404, 422, 429, 500, 503]),
        ("GET", RESULT, &[200, 401, 403, 404, 422, 429, 500, 503]),
        ("GET", RESULT_V2, &[200, 401, 403, 404, 422, 429, 500, 503]),
        ("POST", STATUS, &[200, 400, 401, 403, 404, 422, 429, 500, 503]),
        ("POST", MULTI, &[200, 400, 401, 403, 404, 422, 429, 500, 503]),
        ("GET", CHANGES, &[200, 204, 401, 403, 404, 422, 429, 500, 503]),
        ("GET", FILE, &[200, 204, 401, 403, 404, 422, 429, 500, 503]),
    ];
    let missing = not_covered(&ck, must_cover);
    assert!(missing.is_empty(), "not exercised: {missing:?}");
    assert!(ck.undocumented.contains(&("POST /oauth2/token".to_string(), 429)));
}

/// Which (operation, status) pairs a checker has not seen.
fn not_covered(ck: &Checker, must_cover: &[(&str, &str, &[u16])]) -> Vec<String> {
    let mut missing = Vec::new();
    for (m, t, statuses) in must_cover {
        for s in *statuses {
            if !ck.covered.contains(&(format!("{m} {t}"), *s)) {
                missing.push(format!("{m} {t} {s}"));
            }
        }
    }
    missing
}

/// The push operations (registration, connection list, unregistration) against a loopback
/// HTTPS receiver: success, every documented error status, and the generic ones.
#[test]
fn push_responses_match_the_openapi_document() {
    let sim = start(push_config());
    let mut ck = Checker::new();
    let c = Client::logged_in(&sim);
    let mut bad_token = Client::new(&sim);
    bad_token.token = Some("expired".into());
    let rx = Receiver::start(Auth::Enforced);
    let open = Receiver::start(Auth::Open);
    let p = |t: &str| t.replace("{iysCode}", &IYS.to_string()).replace("{brandCode}", &BRAND.to_string());
    let (reg, unreg) = (p(PUSH_REG), p(PUSH_UNREG));

    // Registration.
    let good = json!({"connection": [connection(&rx.url("/a"), "EPOSTA")]});
    ck.request("POST", PUSH_REG, &good);
    let created = c.post(&reg, &good);
    assert_eq!(created.status, 200, "{}", created.text);
    ck.response("POST", PUSH_REG, &created);
    ck.response("POST", PUSH_REG, &c.post_raw(&reg, "application/json", "{broken")); // 400 H014
    ck.response("POST", PUSH_REG, &bad_token.post(&reg, &good)); // 401
    let refused = [
        register(&c, &rx.url("/a").replace("https", "http"), "EPOSTA"), // H531
        c.post(&reg, &json!({"connection": [{}]})),                     // H531, H111, H093 x2
        register(&c, &rx.url("/a"), "EPOSTAa"),                         // H117
        register(&c, &open.url("/open"), "MESAJ"),                      // H530: no basic auth
    ];
    for r in &refused {
        assert_eq!(r.status, 422, "{}", r.text);
        ck.response("POST", PUSH_REG, r);
    }
    assert_eq!(register(&c, &rx.url("/b"), "EPOSTA").status, 200);
    let over = register(&c, &rx.url("/c"), "EPOSTA"); // H530: two per type
    assert_eq!(over.status, 422, "{}", over.text);
    ck.response("POST", PUSH_REG, &over);
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&reg, &good)) {
        ck.response("POST", PUSH_REG, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&reg, &good)) {
        ck.response("POST", PUSH_REG, &r);
    }

    // The connection list: connected and failed addresses.
    let listed = c.get(&reg);
    assert_eq!(listed.body.as_array().map(Vec::len), Some(3), "{}", listed.text);
    ck.response("GET", PUSH_REG, &listed);
    ck.response("GET", PUSH_REG, &bad_token.get(&reg));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.get(&reg)) {
        ck.response("GET", PUSH_REG, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.get(&reg)) {
        ck.response("GET", PUSH_REG, &r);
    }

    // Unregistration.
    let one = connection(&rx.url("/b"), "EPOSTA");
    ck.request("POST", PUSH_UNREG, &one);
    let not_found = json!({"url": rx.url("/nothing"), "type": "EPOSTA", "username": PUSH_USER, "password": PUSH_PASSWORD});
    ck.request("POST", PUSH_UNREG, &not_found);
    for r in [c.post(&unreg, &not_found), c.post(&unreg, &json!({})), c.post(&unreg, &json!({"url": "http://x", "type": "SMS", "username": PUSH_USER, "password": PUSH_PASSWORD}))] {
        assert_eq!(r.status, 422, "{}", r.text);
        ck.response("POST", PUSH_UNREG, &r);
    }
    ck.response("POST", PUSH_UNREG, &c.post_raw(&unreg, "application/json", "{broken")); // 400 H014
    ck.response("POST", PUSH_UNREG, &bad_token.post(&unreg, &one));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&unreg, &one)) {
        ck.response("POST", PUSH_UNREG, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&unreg, &one)) {
        ck.response("POST", PUSH_UNREG, &r);
    }
    let removed = c.post(&unreg, &one);
    assert_eq!(removed.status, 200, "{}", removed.text);
    ck.response("POST", PUSH_UNREG, &removed);

    // Account-level refusals: 403 (documented on each) and 404.
    for refusal in [json!({"status": 403, "code": "H353"}), json!({"status": 403, "code": "H586"}), json!({"status": 404})] {
        c.post("/admin/faults", &json!({ "account_refusal": refusal }));
        ck.response("POST", PUSH_REG, &c.post(&reg, &good));
        ck.response("GET", PUSH_REG, &c.get(&reg));
        ck.response("POST", PUSH_UNREG, &c.post(&unreg, &one));
        c.delete("/admin/faults");
    }

    assert!(ck.failures.is_empty(), "{} schema violations:\n{}", ck.failures.len(), ck.failures.join("\n"));
    let missing = not_covered(
        &ck,
        &[
            ("POST", PUSH_REG, &[200, 400, 401, 403, 404, 422, 429, 500, 503]),
            ("GET", PUSH_REG, &[200, 401, 403, 404, 429, 500, 503]),
            ("POST", PUSH_UNREG, &[200, 400, 401, 403, 404, 422, 429, 500, 503]),
        ],
    );
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

/// The ViA operations: start, status, OTP confirmation and the opt-out links, success and every
/// error status they can answer. Their error schemas are loose (`ErrorTypes` is any object), so
/// what is checked there is the status and that the body is a JSON object; the success answers
/// and the links' 422 are checked field by field.
#[test]
fn via_responses_match_the_openapi_document() {
    let sim = start(test_config());
    let mut ck = Checker::new();
    let c = Client::logged_in(&sim);
    let mut bad_token = Client::new(&sim);
    bad_token.token = Some("expired".into());
    let p = |t: &str| t.replace("{iysCode}", &IYS.to_string()).replace("{brandCode}", &BRAND.to_string());
    let status_path = |id: &str| p(VIA_STATUS).replace("{requestId}", id);
    let kvk = json!({"title": "KVK", "types": ["AYDINLATMA_METNI"], "personData": {"name": "Aslı Can", "recipientIdNumber": "11111111111"}});

    // Start (formId a number, as the schema types it).
    let short = json!({"formId": 1, "recipient": phone(1), "verificationType": "SMS_SHORTURL",
                       "consentTypes": [{"title": "ETK", "brandCodes": [BRAND], "types": ["MESAJ", "ARAMA"], "recipientType": "BIREYSEL"}, kvk]});
    let otp = json!({"formId": 1, "recipient": "abc@abc.com", "verificationType": "EPOSTA_OTP",
                     "consentTypes": [{"title": "ETK", "brandCodes": [BRAND], "types": ["EPOSTA"], "recipientType": "BIREYSEL"}, kvk]});
    ck.request("POST", VIA_START, &short);
    ck.request("POST", VIA_START, &otp);
    let started = c.post(&p(VIA_START), &short);
    assert_eq!(started.status, 200, "{}", started.text);
    ck.response("POST", VIA_START, &started);
    let short_id = started.body["message"]["requestId"].as_str().unwrap().to_string();
    let otp_id = c.post(&p(VIA_START), &otp).body["message"]["requestId"].as_str().unwrap().to_string();
    let mut fax = short.clone();
    fax["consentTypes"][0]["types"] = json!(["FAX"]);
    let mut nameless = short.clone();
    nameless["consentTypes"][1]["personData"] = json!({});
    for bad in [json!([]), json!({"recipient": phone(1)}), fax, nameless] {
        let r = c.post(&p(VIA_START), &bad);
        assert_eq!(r.status, 400, "{}", r.text);
        ck.response("POST", VIA_START, &r);
    }
    ck.response("POST", VIA_START, &bad_token.post(&p(VIA_START), &short)); // 401 H1045
    ck.response("POST", VIA_START, &c.post("/via/sps/abc/consent", &short)); // 403 H1040
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&p(VIA_START), &short)) {
        ck.response("POST", VIA_START, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&p(VIA_START), &short)) {
        ck.response("POST", VIA_START, &r);
    }

    // Status: waiting, completed, unknown.
    ck.response("GET", VIA_STATUS, &c.get(&status_path(&short_id)));
    assert_eq!(c.post(&format!("/admin/via/{short_id}/approve"), &json!({"types": ["MESAJ"]})).status, 200);
    let done = c.get(&status_path(&short_id));
    assert_eq!(done.body["message"]["lastStatus"]["status"], "SUCCESS", "{}", done.text);
    ck.response("GET", VIA_STATUS, &done);
    ck.response("GET", VIA_STATUS, &c.get(&status_path("5b423dd7-bb23-4546-b733-d8273468d972"))); // 404 H1112
    ck.response("GET", VIA_STATUS, &bad_token.get(&status_path(&short_id)));
    ck.response("GET", VIA_STATUS, &c.get(&format!("/via/sps/abc/consent/request/{short_id}")));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.get(&status_path(&short_id))) {
        ck.response("GET", VIA_STATUS, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.get(&status_path(&short_id))) {
        ck.response("GET", VIA_STATUS, &r);
    }

    // Confirmation.
    let codes = c.get(&format!("/admin/via/{otp_id}")).body["otpCodes"].clone();
    let confirmation = |etk: &Value| json!({"requestId": otp_id, "verificationType": "EPOSTA_OTP", "consentTypes": [{"title": "ETK", "otpCode": etk}, {"title": "KVK", "otpCode": codes["KVK"]}]});
    let right = confirmation(&codes["ETK"]);
    let wrong = confirmation(&json!(if codes["ETK"] == "000000" { "000001" } else { "000000" }));
    ck.request("POST", VIA_CONFIRM, &right);
    for bad in [wrong, json!({"requestId": "5b423dd7-bb23-4546-b733-d8273468d972", "verificationType": "EPOSTA_OTP", "consentTypes": [{"title": "ETK", "otpCode": "1"}]}),
                json!({"requestId": otp_id, "verificationType": "SMS_OTP", "consentTypes": [{"title": "ETK", "otpCode": "1"}]})] {
        let r = c.post(&p(VIA_CONFIRM), &bad); // H1052, H1030, H1064
        assert_eq!(r.status, 400, "{}", r.text);
        ck.response("POST", VIA_CONFIRM, &r);
    }
    ck.response("POST", VIA_CONFIRM, &bad_token.post(&p(VIA_CONFIRM), &right));
    ck.response("POST", VIA_CONFIRM, &c.post("/via/sps/abc/confirmation", &right));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&p(VIA_CONFIRM), &right)) {
        ck.response("POST", VIA_CONFIRM, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&p(VIA_CONFIRM), &right)) {
        ck.response("POST", VIA_CONFIRM, &r);
    }
    let confirmed = c.post(&p(VIA_CONFIRM), &right);
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    ck.response("POST", VIA_CONFIRM, &confirmed);
    ck.items("POST", VIA_CONFIRM, &confirmed, "message");
    ck.response("POST", VIA_CONFIRM, &c.post(&p(VIA_CONFIRM), &right)); // 400 H1032
    ck.response("GET", VIA_STATUS, &c.get(&status_path(&otp_id)));

    // Opt-out links: abc@abc.com is in ONAY now (the confirmation), the others are not.
    let links = json!({"recipients": [{"recipient": "abc@abc.com", "recipientType": "BIREYSEL"}, {"recipient": "nobody@abc.com", "recipientType": "BIREYSEL"}]});
    ck.request("POST", VIA_LINKS, &links);
    let issued = c.post(&p(VIA_LINKS), &links);
    assert!(issued.body[0]["url"].is_string() && issued.body[1]["code"] == "H568", "{}", issued.text);
    ck.response("POST", VIA_LINKS, &issued);
    let many: Vec<Value> = (0..101).map(|i| json!({"recipient": format!("a{i}@abc.com"), "recipientType": "BIREYSEL"})).collect();
    for bad in [json!({}), json!({ "recipients": many }), json!({"recipients": [{"recipientType": "BIREYSEL"}, {"recipient": "abc@abc.com", "recipientType": "asd"}]})] {
        let r = c.post(&p(VIA_LINKS), &bad); // H168, H127, H114 + H116
        assert_eq!(r.status, 422, "{}", r.text);
        ck.response("POST", VIA_LINKS, &r);
    }
    ck.response("POST", VIA_LINKS, &c.post(&p(VIA_LINKS), &json!([]))); // 400 H097
    ck.response("POST", VIA_LINKS, &bad_token.post(&p(VIA_LINKS), &links));
    for r in under_fault(&c, json!({"burst_429": 1}), &[429], || c.post(&p(VIA_LINKS), &links)) {
        ck.response("POST", VIA_LINKS, &r);
    }
    for r in under_fault(&c, json!({"error_rate": 1.0}), &[500, 503], || c.post(&p(VIA_LINKS), &links)) {
        ck.response("POST", VIA_LINKS, &r);
    }

    // Account-level refusals: 403, the consent quota (400 H1031 where ViA adds consents), 404.
    let waiting = c.post(&p(VIA_START), &otp).body["message"]["requestId"].as_str().unwrap().to_string();
    for refusal in [json!({"status": 403, "code": "H353"}), json!({"status": 422, "code": "H525"}), json!({"status": 404})] {
        c.post("/admin/faults", &json!({ "account_refusal": refusal }));
        ck.response("POST", VIA_START, &c.post(&p(VIA_START), &short));
        ck.response("GET", VIA_STATUS, &c.get(&status_path(&waiting)));
        ck.response("POST", VIA_CONFIRM, &c.post(&p(VIA_CONFIRM), &right));
        ck.response("POST", VIA_LINKS, &c.post(&p(VIA_LINKS), &links));
        c.delete("/admin/faults");
    }

    assert!(ck.failures.is_empty(), "{} schema violations:\n{}", ck.failures.len(), ck.failures.join("\n"));
    let missing = not_covered(
        &ck,
        &[
            ("POST", VIA_START, &[200, 400, 401, 403, 404, 429, 500, 503]),
            ("GET", VIA_STATUS, &[200, 401, 403, 404, 429, 500, 503]),
            ("POST", VIA_CONFIRM, &[200, 400, 401, 403, 404, 429, 500, 503]),
            ("POST", VIA_LINKS, &[200, 400, 401, 403, 404, 422, 429, 500, 503]),
        ],
    );
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}
