-- pg_iys: a comment on every object a user meets, so that `\d+ iys.outbox`, `\dv+ iys.*`,
-- `\df+ iys.*` and `\dT+ iys.*` explain themselves. Runs after everything it comments (see its
-- extension_sql_file! in src/lib.rs). Functions a user or DBA should not call start with
-- "internal:". Times: `timestamp` columns and arguments are Turkey time (UTC+3), as IYS's
-- consentDate; `timestamptz` ones are instants.
-- Objects commented where they are created are not repeated here: schema iys; tables
-- iys.account, iys.brand, iys.token, iys.request_count, iys.attached_table, iys.outbox, iys.batch,
-- iys.consent_ledger, iys.holiday, iys.inbox, iys.status_check; types iys.phone, iys.email,
-- iys.mobile; functions iys.lift_token_halt, iys.resume, iys.can_send, iys.can_send_many,
-- iys.retry_quarantined, iys.recheck_known_keys, iys.resolve_drift, iys_internal.claim_batch,
-- iys.requeue_rejected, iys.grant_worker_rights. A new object gets its comment here, and in the
-- upgrade script that creates it (an upgrade must give the same comments as a fresh install).

-- Types (the four enums are created by pgrx from src/sql_api/types.rs).
COMMENT ON TYPE iys.consent_type IS 'channel of a consent, IYS''s type: MESAJ (SMS), ARAMA (call) or EPOSTA (e-mail)';
COMMENT ON TYPE iys.consent_status IS 'status of a consent, IYS''s status: ONAY (consent given) or RET (consent refused or withdrawn)';
COMMENT ON TYPE iys.recipient_type IS 'IYS''s recipientType: BIREYSEL (a private person, IYS''s default) or TACIR (a merchant)';
COMMENT ON TYPE iys.consent_source IS 'where a consent was collected, IYS''s source: the 13 HS_* values a company may send, then the IYS_* values only IYS sets';

-- Text to enum, leniently (sql/types.sql, src/sql_api/types.rs).
COMMENT ON FUNCTION iys.to_consent_type(text) IS 'converts text to iys.consent_type accepting any case, surrounding blanks and Turkish letters (also the text to iys.consent_type cast); 22P02 listing the allowed values otherwise';
COMMENT ON FUNCTION iys.to_consent_status(text) IS 'converts text to iys.consent_status accepting any case, surrounding blanks and Turkish letters (also the text to iys.consent_status cast); 22P02 listing the allowed values otherwise';
COMMENT ON FUNCTION iys.to_recipient_type(text) IS 'converts text to iys.recipient_type accepting any case, surrounding blanks and Turkish letters (also the text to iys.recipient_type cast); 22P02 listing the allowed values otherwise';
COMMENT ON FUNCTION iys.to_consent_source(text) IS 'converts text to iys.consent_source accepting any case, surrounding blanks and Turkish letters (also the text to iys.consent_source cast); 22P02 listing the allowed values otherwise';
COMMENT ON FUNCTION iys.canonical_consent_type(text) IS 'the iys.consent_type label IYS spells for a text (any case, blanks, Turkish letters), as text: what iys.to_consent_type() converts; 22P02 otherwise';
COMMENT ON FUNCTION iys.canonical_consent_status(text) IS 'the iys.consent_status label IYS spells for a text (any case, blanks, Turkish letters), as text: what iys.to_consent_status() converts; 22P02 otherwise';
COMMENT ON FUNCTION iys.canonical_recipient_type(text) IS 'the iys.recipient_type label IYS spells for a text (any case, blanks, Turkish letters), as text: what iys.to_recipient_type() converts; 22P02 otherwise';
COMMENT ON FUNCTION iys.canonical_consent_source(text) IS 'the iys.consent_source label IYS spells for a text (any case, blanks, Turkish letters), as text: what iys.to_consent_source() converts; 22P02 for anything else, an unknown IYS_* name included';

-- iys.phone and iys.email (sql/types.sql).
COMMENT ON FUNCTION iys.phone(text) IS 'converts text to iys.phone, a phone number in E.164 form (''0532 123 45 67'' gives +905321234567), also the text to iys.phone cast; 22P02 otherwise';
COMMENT ON FUNCTION iys.email(text) IS 'converts text to iys.email, an e-mail address trimmed and lower-cased, also the text to iys.email cast; 22P02 otherwise';
COMMENT ON FUNCTION iys_internal.phone_in(cstring) IS 'internal: input function of type iys.phone (normalises what is typed)';
COMMENT ON FUNCTION iys_internal.phone_out(iys.phone) IS 'internal: output function of type iys.phone';
COMMENT ON FUNCTION iys_internal.phone_recv(internal) IS 'internal: binary input function of type iys.phone (normalises what is received)';
COMMENT ON FUNCTION iys_internal.phone_send(iys.phone) IS 'internal: binary output function of type iys.phone';
COMMENT ON FUNCTION iys_internal.email_in(cstring) IS 'internal: input function of type iys.email (normalises what is typed)';
COMMENT ON FUNCTION iys_internal.email_out(iys.email) IS 'internal: output function of type iys.email';
COMMENT ON FUNCTION iys_internal.email_recv(internal) IS 'internal: binary input function of type iys.email (normalises what is received)';
COMMENT ON FUNCTION iys_internal.email_send(iys.email) IS 'internal: binary output function of type iys.email';
COMMENT ON FUNCTION iys_internal.phone_eq(iys.phone, iys.phone) IS 'internal: the = operator of iys.phone (byte-wise)';
COMMENT ON FUNCTION iys_internal.phone_ne(iys.phone, iys.phone) IS 'internal: the <> operator of iys.phone (byte-wise)';
COMMENT ON FUNCTION iys_internal.phone_lt(iys.phone, iys.phone) IS 'internal: the < operator of iys.phone (byte-wise)';
COMMENT ON FUNCTION iys_internal.phone_le(iys.phone, iys.phone) IS 'internal: the <= operator of iys.phone (byte-wise)';
COMMENT ON FUNCTION iys_internal.phone_gt(iys.phone, iys.phone) IS 'internal: the > operator of iys.phone (byte-wise)';
COMMENT ON FUNCTION iys_internal.phone_ge(iys.phone, iys.phone) IS 'internal: the >= operator of iys.phone (byte-wise)';
COMMENT ON FUNCTION iys_internal.phone_cmp(iys.phone, iys.phone) IS 'internal: btree comparison support of iys.phone (operator class iys.phone_ops)';
COMMENT ON FUNCTION iys_internal.phone_hash(iys.phone) IS 'internal: hash support of iys.phone (operator class iys.phone_hash_ops)';
COMMENT ON FUNCTION iys_internal.phone_hash_extended(iys.phone, bigint) IS 'internal: seeded hash support of iys.phone (operator class iys.phone_hash_ops)';
COMMENT ON FUNCTION iys_internal.email_eq(iys.email, iys.email) IS 'internal: the = operator of iys.email (byte-wise)';
COMMENT ON FUNCTION iys_internal.email_ne(iys.email, iys.email) IS 'internal: the <> operator of iys.email (byte-wise)';
COMMENT ON FUNCTION iys_internal.email_lt(iys.email, iys.email) IS 'internal: the < operator of iys.email (byte-wise)';
COMMENT ON FUNCTION iys_internal.email_le(iys.email, iys.email) IS 'internal: the <= operator of iys.email (byte-wise)';
COMMENT ON FUNCTION iys_internal.email_gt(iys.email, iys.email) IS 'internal: the > operator of iys.email (byte-wise)';
COMMENT ON FUNCTION iys_internal.email_ge(iys.email, iys.email) IS 'internal: the >= operator of iys.email (byte-wise)';
COMMENT ON FUNCTION iys_internal.email_cmp(iys.email, iys.email) IS 'internal: btree comparison support of iys.email (operator class iys.email_ops)';
COMMENT ON FUNCTION iys_internal.email_hash(iys.email) IS 'internal: hash support of iys.email (operator class iys.email_hash_ops)';
COMMENT ON FUNCTION iys_internal.email_hash_extended(iys.email, bigint) IS 'internal: seeded hash support of iys.email (operator class iys.email_hash_ops)';

-- Normalisation (src/sql_api/normalize.rs).
COMMENT ON FUNCTION iys.normalize_phone(text) IS 'a phone number as people type it (0532 123 45 67, 0090 532 ..., +90 (532) 123-45-67) in E.164 form (+905321234567), other countries'' numbers given with + or 00; 22P02 otherwise';
COMMENT ON FUNCTION iys.normalize_email(text) IS 'an e-mail address trimmed and lower-cased as IYS accepts it; 22P02 otherwise';
COMMENT ON FUNCTION iys.normalize_recipient(text, iys.consent_type) IS 'the recipient in IYS''s form for a channel, by IYS''s rules and numbering plan (MESAJ: a Turkish mobile; ARAMA: a Turkish mobile, landline or 850 number; EPOSTA: an e-mail address); 22P02 otherwise';
COMMENT ON FUNCTION iys.try_normalize_recipient(text, iys.consent_type) IS 'iys.normalize_recipient() answering NULL instead of an error, for looking up what people type';
COMMENT ON FUNCTION iys.is_valid_phone(text) IS 'true when iys.normalize_phone() accepts the text, for CHECK constraints on text columns';
COMMENT ON FUNCTION iys.is_valid_email(text) IS 'true when iys.normalize_email() accepts the text, for CHECK constraints on text columns';
COMMENT ON FUNCTION iys.is_turkish_mobile(text) IS 'true for a number of a Turkish mobile''s form (+905XXXXXXXXX once normalised), the check of domain iys.mobile; whether IYS takes it for MESAJ is iys.try_normalize_recipient(x, ''MESAJ'')';
COMMENT ON FUNCTION iys.fold_value(text) IS 'internal: a stored value trimmed and Unicode lower-cased as the value maps of iys.attach compare it, for the generated enqueue statement';

-- Business-day calendar (src/sql_api/calendar.rs).
COMMENT ON FUNCTION iys.builtin_holidays() IS 'Turkey''s public holidays and half days 2024-2036 compiled into pg_iys (day, name, half_day): the rows CREATE EXTENSION seeds iys.holiday with';
COMMENT ON FUNCTION iys.reporting_deadline(timestamp) IS 'the last moment, Turkey time (UTC+3), a consent collected at the given Turkey time can still be reported to IYS: the same clock time on the third business day after (H467), by iys.holiday';
COMMENT ON FUNCTION iys.is_business_day(date) IS 'true for Monday to Friday unless iys.holiday has the day as a full-day holiday (half days are business days)';

-- Validation (src/sql_api/validate.rs, src/sql_api/validate_table.rs).
COMMENT ON FUNCTION iys.validate_consent(text, iys.consent_type, iys.consent_status, text, timestamp, iys.recipient_type, iys.consent_status, timestamp, timestamptz) IS 'every problem IYS would refuse one consent for, one row each with IYS''s code and Turkish text (no rows: IYS accepts it); dates in Turkey time (UTC+3), at defaults to now(), calendar iys.holiday';
COMMENT ON FUNCTION iys.validate_consent_at(timestamptz, text, iys.consent_type, iys.consent_status, text, timestamp, iys.recipient_type, iys.consent_status, timestamp) IS 'iys.validate_consent() at a given instant with the built-in 2024-2036 calendar, so IMMUTABLE; dates in Turkey time (UTC+3)';
COMMENT ON FUNCTION iys.check_consent(text, iys.consent_type, iys.consent_status, text, timestamp, iys.recipient_type, iys.consent_status, timestamp, timestamptz) IS 'the recipient in IYS''s form when IYS would accept the consent, else 23514 naming every problem''s IYS code, field and value; arguments as iys.validate_consent()';
COMMENT ON FUNCTION iys.validate_table(regclass, jsonb, timestamptz, boolean, bigint) IS 'every problem IYS would refuse the rows of a master_contact-shaped table for, one row per problem naming the table''s column, decided exactly as the row trigger of iys.attach decides';

-- Attaching tables (src/sql_api/attach.rs, adopt.rs, consent_trigger.rs).
COMMENT ON FUNCTION iys.attach(regclass, text, jsonb, text) IS 'puts pg_iys''s triggers on a master_contact-shaped table: each INSERT/UPDATE is checked by IYS''s rules and its consent changes are queued for IYS in the same transaction';
COMMENT ON FUNCTION iys.detach(regclass) IS 'removes pg_iys''s triggers and attachment from a table; changes already queued stay in iys.outbox';
COMMENT ON FUNCTION iys.adopt(regclass, boolean, boolean) IS 'takes an attached table''s existing rows in without sending them: rewrites their addresses in IYS''s form and queues every key for IYS''s status queries (differences appear in iys.drift)';
COMMENT ON FUNCTION iys.consent_row_check() IS 'internal: function of the row trigger zz_iys_consent_check that iys.attach creates: checks and normalises each row by IYS''s rules';
COMMENT ON FUNCTION iys.enqueue_changes() IS 'internal: function of the statement triggers zz_iys_enqueue_insert and zz_iys_enqueue_update that iys.attach creates: queues the consent changes in iys.outbox and iys.consent_ledger';
COMMENT ON FUNCTION iys_internal.refresh_attachment_oids() IS 'internal: run by the worker and the triggers to find attachments again by table name after a restore gave the tables new OIDs';

-- The worker (src/sql_api/worker_status.rs, sql/*.sql).
COMMENT ON FUNCTION iys.worker_status() IS 'the pg_iys background worker''s process as pg_stat_activity sees it; an error when pg_iys is not in shared_preload_libraries';
COMMENT ON FUNCTION iys_internal.confirm_local(bigint[]) IS 'internal: called by the worker when IYS accepts changes, to record them as IYS''s known state and pass them to other attached rows holding the same address';
COMMENT ON FUNCTION iys_internal.record_pulled(text, text, text, jsonb) IS 'internal: called by the worker to record one page of pulled changes and move the pull cursor in one transaction';
COMMENT ON FUNCTION iys_internal.record_iys_changes(text, text, jsonb) IS 'internal: records IYS''s movements (a pull page or a daily file) in the ledger, the known state and the inbox, skipping those already known';
COMMENT ON FUNCTION iys_internal.pull_failed(text, text, text) IS 'internal: called by the worker to note a failed pull attempt (the cursor stays)';
COMMENT ON FUNCTION iys_internal.invalidate_calendar() IS 'internal: tells every backend to read iys.holiday again once this transaction commits (called by the trigger holiday_changed)';
COMMENT ON FUNCTION iys_internal.holiday_changed() IS 'internal: statement trigger on iys.holiday; backends keep the calendar until a change to it commits';
COMMENT ON FUNCTION iys_internal.restart_pull(text, text, text) IS 'internal: called by the worker when IYS refuses the pull cursor, to pull again from the oldest change IYS serves';
COMMENT ON FUNCTION iys_internal.reportable_source(text) IS 'internal: the source an opt-out pg_iys reports on a row''s behalf is sent with (the row''s own HS_* source when IYS takes it, else HS_WEB)';
COMMENT ON FUNCTION iys_internal.queue_missing_opt_outs(text, iys.consent_type, iys.recipient_type, text[]) IS 'internal: queues, dated now, the opt-outs (RET) IYS does not have, for keys IYS holds as ONAY';
COMMENT ON FUNCTION iys_internal.record_status_answers(text, iys.consent_type, iys.recipient_type, text[], text[]) IS 'internal: called by the worker to record IYS''s answer to one multi-status query';
COMMENT ON FUNCTION iys_internal.record_status_detail(text, iys.consent_type, iys.recipient_type, text, jsonb) IS 'internal: called by the worker to record IYS''s answer to one single status query';
COMMENT ON FUNCTION iys_internal.record_movement_file(text, date, jsonb) IS 'internal: called by the worker to compare one Turkey day''s movement file of a brand with what pg_iys sent and pulled';
COMMENT ON FUNCTION iys_internal.recover_pull_gap(text) IS 'internal: called by the worker before a pull to queue every known key of a brand for status queries after a pull outage longer than IYS''s 7-day window';
COMMENT ON FUNCTION iys_internal.ledger_guard() IS 'internal: trigger keeping iys.consent_ledger append-only (rows leave only through iys.prune_ledger)';

-- Operators' functions.
COMMENT ON FUNCTION iys.prune_ledger(interval, boolean) IS 'removes ledger rows recorded more than older_than ago whose change is settled, refusing under three years (the legal proof of consent) unless force; returns how many';
COMMENT ON PROCEDURE iys.follow_status_checks(text, interval) IS 'for psql: a NOTICE on the status queries'' progress every 5 seconds until every key is answered or max_wait (default 1 hour) passes';

-- Tables not commented where they are created.
COMMENT ON TABLE iys.worker_state IS 'what the pg_iys background worker is doing: one row, written by the worker';
COMMENT ON TABLE iys.pull_cursor IS 'where the pull of consent changes from IYS stands, per brand and source (IYS or HS)';
COMMENT ON TABLE iys.current_consent IS 'the consent IYS holds per key (brand, recipient, channel, recipient type), as far as pg_iys knows: what iys.can_send reads';
COMMENT ON TABLE iys.conflict IS 'pulled changes that tie with a local consent (same consent date, other status): nothing was overwritten, an operator decides';
COMMENT ON TABLE iys.reconcile_day IS 'each day''s IYS movement file of a brand that was reconciled, with the counts of what it showed';
COMMENT ON TABLE iys.reconcile_finding IS 'what a daily movement file showed that pg_iys did not know, or did not show that pg_iys thought IYS had';

-- Columns: iys.holiday.
COMMENT ON COLUMN iys.holiday.day IS 'the day off (a date of Turkey''s calendar)';
COMMENT ON COLUMN iys.holiday.name IS 'name of the holiday';
COMMENT ON COLUMN iys.holiday.half_day IS 'true for a half day (afternoon off), which still counts as a business day';
COMMENT ON COLUMN iys.holiday.builtin IS 'true for rows CREATE EXTENSION seeds (pg_dump does not keep them), false for the DBA''s own rows (kept)';

-- Columns: iys.attached_table.
COMMENT ON COLUMN iys.attached_table.relid IS 'OID of the attached table';
COMMENT ON COLUMN iys.attached_table.table_name IS 'the table''s name as attached, for messages after a rename and to find the table again after a restore';
COMMENT ON COLUMN iys.attached_table.brand_code IS 'IYS brandCode of every row, unless brand_column gives one (then it fills rows where that is blank)';
COMMENT ON COLUMN iys.attached_table.mapping IS 'the mapping as given to iys.attach';
COMMENT ON COLUMN iys.attached_table.channels IS 'the channels resolved from the mapping: consent type and the address, permission, consent date and source columns of each';
COMMENT ON COLUMN iys.attached_table.brand_column IS 'column holding a per-row IYS brandCode, if any';
COMMENT ON COLUMN iys.attached_table.key_columns IS 'columns identifying a row (the mapping''s row_id, default the primary key); their value is iys.outbox.source_key';
COMMENT ON COLUMN iys.attached_table.on_invalid IS 'a change IYS would refuse: reject (the statement fails) or keep (the row is stored, the old consent kept, with a WARNING)';
COMMENT ON COLUMN iys.attached_table.attached_at IS 'when iys.attach ran';
COMMENT ON COLUMN iys.attached_table.attached_by IS 'role that ran iys.attach';

-- Columns: iys.outbox.
COMMENT ON COLUMN iys.outbox.id IS 'queue order: the worker claims each brand''s oldest pending changes first';
COMMENT ON COLUMN iys.outbox.brand_code IS 'IYS brandCode the change is sent for';
COMMENT ON COLUMN iys.outbox.recipient IS 'IYS''s recipient, normalised: an E.164 phone number or a lower-case e-mail address';
COMMENT ON COLUMN iys.outbox.recipient_type IS 'IYS''s recipientType: BIREYSEL or TACIR';
COMMENT ON COLUMN iys.outbox.consent_type IS 'IYS''s type, the channel: MESAJ, ARAMA or EPOSTA';
COMMENT ON COLUMN iys.outbox.status IS 'IYS''s status: ONAY or RET';
COMMENT ON COLUMN iys.outbox.source IS 'IYS''s source (HS_*); NULL only for a TACIR first record';
COMMENT ON COLUMN iys.outbox.consent_date IS 'IYS''s consentDate: when the consent was given or withdrawn, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.outbox.retailer_code IS 'IYS''s retailerCode: the 8-digit retailer (bayi) code sent with the consent, if any';
COMMENT ON COLUMN iys.outbox.retailer_access IS 'IYS''s retailerAccess: the retailer codes given access to the consent, if any';
COMMENT ON COLUMN iys.outbox.source_table IS 'OID of the attached table the change came from (source_table::regclass names it)';
COMMENT ON COLUMN iys.outbox.source_key IS 'key of the row the change came from (the mapping''s row_id), as text';
COMMENT ON COLUMN iys.outbox.state IS 'pending, in_flight (claimed for a batch), accepted, rejected, superseded (a newer change of the key went instead) or not_in_iys (a RET IYS never had, H175)';
COMMENT ON COLUMN iys.outbox.attempts IS 'how many times the change was claimed for a batch since it was queued or requeued';
COMMENT ON COLUMN iys.outbox.next_attempt_at IS 'the change is not claimed before this time (backoff after a failure)';
COMMENT ON COLUMN iys.outbox.transaction_id IS 'IYS''s transactionId, once IYS accepted the change';
COMMENT ON COLUMN iys.outbox.error_code IS 'IYS''s code (e.g. H467), or pg_iys''s PGIYS_* code, of a rejection or the last failure';
COMMENT ON COLUMN iys.outbox.error_message IS 'IYS''s message of a rejection, or what happened to the change last';
COMMENT ON COLUMN iys.outbox.enqueued_at IS 'when the change was queued';
COMMENT ON COLUMN iys.outbox.enqueued_by IS 'session user whose statement queued the change';
COMMENT ON COLUMN iys.outbox.settled_at IS 'when the change reached its final state';
COMMENT ON COLUMN iys.outbox.batch_id IS 'the iys.batch that carried the change last';

-- Columns: iys.batch.
COMMENT ON COLUMN iys.batch.id IS 'number of the batch';
COMMENT ON COLUMN iys.batch.brand_code IS 'IYS brandCode the batch is sent for';
COMMENT ON COLUMN iys.batch.outbox_ids IS 'iys.outbox ids in request order: element i + 1 is the record at index i of IYS''s request';
COMMENT ON COLUMN iys.batch.state IS 'claimed (rows taken), sent (IYS took the request) or done (every row answered or put back to pending)';
COMMENT ON COLUMN iys.batch.request_id IS 'IYS''s requestId, known once the batch is sent';
COMMENT ON COLUMN iys.batch.claimed_at IS 'when the worker claimed the rows';
COMMENT ON COLUMN iys.batch.sent_at IS 'when IYS took the request (its result is fetched iys.result_delay later)';
COMMENT ON COLUMN iys.batch.done_at IS 'when every row was answered or put back to pending';
COMMENT ON COLUMN iys.batch.note IS 'why the batch ended without IYS''s answer, if it did';

-- Columns: iys.consent_ledger.
COMMENT ON COLUMN iys.consent_ledger.id IS 'order of recording';
COMMENT ON COLUMN iys.consent_ledger.recorded_at IS 'when the movement was recorded';
COMMENT ON COLUMN iys.consent_ledger.origin IS 'local (queued from an attached table) or iys (pulled from IYS)';
COMMENT ON COLUMN iys.consent_ledger.brand_code IS 'IYS brandCode of the movement';
COMMENT ON COLUMN iys.consent_ledger.recipient IS 'IYS''s recipient, normalised: an E.164 phone number or a lower-case e-mail address';
COMMENT ON COLUMN iys.consent_ledger.recipient_type IS 'IYS''s recipientType: BIREYSEL or TACIR';
COMMENT ON COLUMN iys.consent_ledger.consent_type IS 'IYS''s type, the channel: MESAJ, ARAMA or EPOSTA';
COMMENT ON COLUMN iys.consent_ledger.status IS 'IYS''s status: ONAY or RET';
COMMENT ON COLUMN iys.consent_ledger.source IS 'IYS''s source (HS_* or IYS_*)';
COMMENT ON COLUMN iys.consent_ledger.consent_date IS 'IYS''s consentDate, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.consent_ledger.source_table IS 'OID of the attached table a local movement came from, as recorded (not rewritten after a restore)';
COMMENT ON COLUMN iys.consent_ledger.source_key IS 'key of the row a local movement came from, as text';
COMMENT ON COLUMN iys.consent_ledger.outbox_id IS 'the iys.outbox row of a local movement, which holds its outcome and IYS''s transactionId';
COMMENT ON COLUMN iys.consent_ledger.recorded_by IS 'session user who recorded the movement';
COMMENT ON COLUMN iys.consent_ledger.transaction_id IS 'IYS''s transactionId of a pulled movement (a local one''s is on its outbox row)';
COMMENT ON COLUMN iys.consent_ledger.iys_source IS 'a movement from IYS: its source as IYS spelled it, also one newer than iys.consent_source (source is NULL then)';
COMMENT ON COLUMN iys.consent_ledger.creation_date IS 'a movement from IYS: when IYS recorded it (its creationDate, Turkey time); with the transactionId it tells one movement from another';

-- Columns: iys.account.
COMMENT ON COLUMN iys.account.iys_code IS 'IYS''s iysCode: the company''s IYS number (digits)';
COMMENT ON COLUMN iys.account.api_base_url IS 'base URL of IYS''s API: https, or plain http to this machine only unless allow_insecure_http';
COMMENT ON COLUMN iys.account.username IS 'user name of the IYS API account';
COMMENT ON COLUMN iys.account.password IS 'password of the IYS API account (readable by the extension owner only); NULL: the account''s line in the file iys.password_file names';
COMMENT ON COLUMN iys.account.created_at IS 'when the account was added';
COMMENT ON COLUMN iys.account.allow_insecure_http IS 'true lets api_base_url be plain http to another host, although the password travels in every token request';
COMMENT ON COLUMN iys.account.paused_code IS 'IYS''s code of the refusal that paused the account (H520, H521, H524, H586, H525, or pg_iys''s PGIYS_CREDENTIALS, PGIYS_QUALITY); NULL: not paused';
COMMENT ON COLUMN iys.account.paused_reason IS 'IYS''s text of that refusal and what to do';
COMMENT ON COLUMN iys.account.paused_at IS 'when the pause began';
COMMENT ON COLUMN iys.account.probe_at IS 'when the worker next tries the paused account; the pause ends when that works (iys.resume() ends it now)';
COMMENT ON COLUMN iys.account.probes IS 'refusals in a row: the wait before the next probe doubles with each, from a minute up to an hour';

-- Columns: iys.brand.
COMMENT ON COLUMN iys.brand.brand_code IS 'IYS''s brandCode (digits)';
COMMENT ON COLUMN iys.brand.iys_code IS 'the account (iysCode) that sends for the brand';
COMMENT ON COLUMN iys.brand.mode IS 'integrator (pg_iys is master: creates and updates consents in IYS) or sync (IYS is master: only consents IYS holds get an ONAY from here)';
COMMENT ON COLUMN iys.brand.tie_policy IS 'a pulled change with the same consent date as ours but another status: conflict (ours kept, listed in iys.conflicts) or ret_wins (a RET wins)';
COMMENT ON COLUMN iys.brand.pull IS 'whether consent changes are pulled from IYS for the brand';
COMMENT ON COLUMN iys.brand.enabled IS 'false: nothing is sent, pulled or queried for the brand (changes keep queueing)';
COMMENT ON COLUMN iys.brand.paused_code IS 'IYS''s code of the refusal that paused the brand (H353, or HTTP404 for a bare 404); NULL: not paused';
COMMENT ON COLUMN iys.brand.paused_reason IS 'IYS''s text of that refusal and what to do';
COMMENT ON COLUMN iys.brand.paused_at IS 'when the pause began';
COMMENT ON COLUMN iys.brand.probe_at IS 'when the worker next tries the paused brand; the pause ends when that works (iys.resume() ends it now)';
COMMENT ON COLUMN iys.brand.probes IS 'refusals in a row: the wait before the next probe doubles with each, from a minute up to an hour';

-- Columns: iys.token.
COMMENT ON COLUMN iys.token.iys_code IS 'the account (iysCode) the token belongs to';
COMMENT ON COLUMN iys.token.access_token IS 'cached access token (secret)';
COMMENT ON COLUMN iys.token.access_expires_at IS 'when the access token expires (it is refreshed 60 s before)';
COMMENT ON COLUMN iys.token.refresh_token IS 'cached refresh token (secret)';
COMMENT ON COLUMN iys.token.refresh_expires_at IS 'when the refresh token expires';
COMMENT ON COLUMN iys.token.halted_until IS 'no token call before this time, after a 429 of IYS''s token endpoint (H084); iys.lift_token_halt() ends it early';
COMMENT ON COLUMN iys.token.halt_reason IS 'why token calls are halted';
COMMENT ON COLUMN iys.token.token_calls IS 'how many tokens the account obtained from IYS''s token endpoint';
COMMENT ON COLUMN iys.token.updated_at IS 'when the row last changed';

-- Columns: iys.worker_state.
COMMENT ON COLUMN iys.worker_state.singleton IS 'always true: the table has one row';
COMMENT ON COLUMN iys.worker_state.pid IS 'process id of the worker';
COMMENT ON COLUMN iys.worker_state.started_at IS 'when the worker last started';
COMMENT ON COLUMN iys.worker_state.heartbeat_at IS 'when the worker last wrote this row (about every 10 s while it runs)';
COMMENT ON COLUMN iys.worker_state.last_flush_at IS 'when the worker last finished a round that did work (sent, settled, pulled, applied or asked IYS)';
COMMENT ON COLUMN iys.worker_state.last_error_at IS 'when last_error happened';
COMMENT ON COLUMN iys.worker_state.last_error IS 'the last round''s error, cleared by the next round that does work without one';
COMMENT ON COLUMN iys.worker_state.recovered_rows IS 'changes put back to pending, in all, because their batch was claimed but never recorded as sent';

-- Columns: iys.request_count.
COMMENT ON COLUMN iys.request_count.iys_code IS 'the account (iysCode) whose requests are counted';
COMMENT ON COLUMN iys.request_count.day IS 'the Turkey day (UTC+3) counted';
COMMENT ON COLUMN iys.request_count.requests IS 'requests the worker made to IYS that day';
COMMENT ON COLUMN iys.request_count.successes IS 'requests IYS answered with success (400, 401, 403, 404 and 422 count as failures)';

-- Columns: iys.pull_cursor.
COMMENT ON COLUMN iys.pull_cursor.brand_code IS 'IYS brandCode pulled';
COMMENT ON COLUMN iys.pull_cursor.source IS 'IYS''s change list: IYS (citizens'' own changes) or HS (service providers'' changes)';
COMMENT ON COLUMN iys.pull_cursor.after IS 'IYS''s opaque cursor (after) of the next page; it moves in the transaction that records the page';
COMMENT ON COLUMN iys.pull_cursor.last_attempt_at IS 'when the pull was last attempted';
COMMENT ON COLUMN iys.pull_cursor.last_success_at IS 'when a page was last recorded';
COMMENT ON COLUMN iys.pull_cursor.last_error IS 'error of the last attempt, cleared by a success';
COMMENT ON COLUMN iys.pull_cursor.applied_changes IS 'new changes recorded by the pulls, in all';
COMMENT ON COLUMN iys.pull_cursor.gap_rechecked_at IS 'when a pull gap over IYS''s 7-day window was bridged by status queries';
COMMENT ON COLUMN iys.pull_cursor.gap_keys IS 'how many keys that recheck queued';

-- Columns: iys.current_consent.
COMMENT ON COLUMN iys.current_consent.brand_code IS 'IYS brandCode of the consent';
COMMENT ON COLUMN iys.current_consent.recipient IS 'IYS''s recipient, normalised: an E.164 phone number or a lower-case e-mail address';
COMMENT ON COLUMN iys.current_consent.consent_type IS 'IYS''s type, the channel: MESAJ, ARAMA or EPOSTA';
COMMENT ON COLUMN iys.current_consent.recipient_type IS 'IYS''s recipientType: BIREYSEL or TACIR';
COMMENT ON COLUMN iys.current_consent.status IS 'the status IYS holds: ONAY or RET';
COMMENT ON COLUMN iys.current_consent.source IS 'IYS''s source of that consent, when known';
COMMENT ON COLUMN iys.current_consent.consent_date IS 'IYS''s consentDate of that consent, Turkey time (UTC+3), when known';
COMMENT ON COLUMN iys.current_consent.transaction_id IS 'IYS''s transactionId of that movement, when known';
COMMENT ON COLUMN iys.current_consent.origin IS 'how pg_iys learnt it: local (IYS accepted our change), iys (a pull or a daily file) or import (a status query)';
COMMENT ON COLUMN iys.current_consent.confirmed_at IS 'when pg_iys last learnt it';

-- Columns: iys.conflict.
COMMENT ON COLUMN iys.conflict.id IS 'number of the conflict';
COMMENT ON COLUMN iys.conflict.detected_at IS 'when the pulled change met the local consent';
COMMENT ON COLUMN iys.conflict.brand_code IS 'IYS brandCode of the consent';
COMMENT ON COLUMN iys.conflict.recipient IS 'IYS''s recipient, normalised';
COMMENT ON COLUMN iys.conflict.consent_type IS 'IYS''s type, the channel: MESAJ, ARAMA or EPOSTA';
COMMENT ON COLUMN iys.conflict.recipient_type IS 'IYS''s recipientType: BIREYSEL or TACIR';
COMMENT ON COLUMN iys.conflict.local_status IS 'the permission the attached row holds, as read from it (kept)';
COMMENT ON COLUMN iys.conflict.iys_status IS 'the status of the pulled change (not applied)';
COMMENT ON COLUMN iys.conflict.consent_date IS 'the consentDate both share, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.conflict.iys_source IS 'IYS''s source of the pulled change';
COMMENT ON COLUMN iys.conflict.transaction_id IS 'IYS''s transactionId of the pulled change';
COMMENT ON COLUMN iys.conflict.source_table IS 'OID of the attached table whose row holds the local consent';
COMMENT ON COLUMN iys.conflict.source_key IS 'key of that row, as text';
COMMENT ON COLUMN iys.conflict.resolved_at IS 'when an operator marked the conflict resolved; until then it shows in iys.conflicts';

-- Columns: iys.inbox.
COMMENT ON COLUMN iys.inbox.id IS 'order in which changes are applied';
COMMENT ON COLUMN iys.inbox.received_at IS 'when the change was recorded here';
COMMENT ON COLUMN iys.inbox.origin IS 'iys (a change IYS reported: pulled, from a daily file or taken in iys.resolve_drift) or local (our change IYS accepted, passed to other rows holding the address)';
COMMENT ON COLUMN iys.inbox.brand_code IS 'IYS brandCode of the change';
COMMENT ON COLUMN iys.inbox.recipient IS 'IYS''s recipient, normalised';
COMMENT ON COLUMN iys.inbox.recipient_type IS 'IYS''s recipientType: BIREYSEL or TACIR';
COMMENT ON COLUMN iys.inbox.consent_type IS 'IYS''s type, the channel: MESAJ, ARAMA or EPOSTA';
COMMENT ON COLUMN iys.inbox.status IS 'IYS''s status: ONAY or RET';
COMMENT ON COLUMN iys.inbox.source IS 'IYS''s source as IYS spelled it (it may be newer than iys.consent_source)';
COMMENT ON COLUMN iys.inbox.consent_date IS 'IYS''s consentDate, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.inbox.transaction_id IS 'IYS''s transactionId of the change';
COMMENT ON COLUMN iys.inbox.payload IS 'IYS''s item as received, when it could not be read';
COMMENT ON COLUMN iys.inbox.state IS 'pending, applied, or quarantined (a table could not take it: see iys.pull_quarantine)';
COMMENT ON COLUMN iys.inbox.error IS 'why the change was quarantined';
COMMENT ON COLUMN iys.inbox.settled_at IS 'when the change was applied or quarantined';

-- Columns: iys.status_check.
COMMENT ON COLUMN iys.status_check.brand_code IS 'IYS brandCode asked about';
COMMENT ON COLUMN iys.status_check.recipient IS 'IYS''s recipient, normalised';
COMMENT ON COLUMN iys.status_check.consent_type IS 'IYS''s type, the channel: MESAJ, ARAMA or EPOSTA';
COMMENT ON COLUMN iys.status_check.recipient_type IS 'IYS''s recipientType: BIREYSEL or TACIR';
COMMENT ON COLUMN iys.status_check.reason IS 'why the key is asked: adopt (iys.adopt), pull_gap (a pull outage over IYS''s 7 days) or manual (iys.recheck_known_keys)';
COMMENT ON COLUMN iys.status_check.local_status IS 'what the row (or pg_iys''s known state) said; NULL: no permission';
COMMENT ON COLUMN iys.status_check.local_consent_date IS 'the row''s consent date, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.status_check.local_source IS 'the row''s source, as written in it';
COMMENT ON COLUMN iys.status_check.source_table IS 'OID of the attached table the key came from, if any';
COMMENT ON COLUMN iys.status_check.source_key IS 'key of that row, as text';
COMMENT ON COLUMN iys.status_check.queued_at IS 'when the key was queued (again)';
COMMENT ON COLUMN iys.status_check.state IS 'pending (multi-status query to do), detail (single status query to do, for IYS''s record) or done';
COMMENT ON COLUMN iys.status_check.iys_onay IS 'the multi-status answer: true when IYS lists the key as ONAY';
COMMENT ON COLUMN iys.status_check.iys_known IS 'the single status answer: whether IYS has a record at all';
COMMENT ON COLUMN iys.status_check.iys_status IS 'the status IYS holds';
COMMENT ON COLUMN iys.status_check.iys_consent_date IS 'IYS''s consentDate of its record, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.status_check.iys_source IS 'IYS''s source of its record';
COMMENT ON COLUMN iys.status_check.checked_at IS 'when IYS last answered for the key';
COMMENT ON COLUMN iys.status_check.outbox_id IS 'the iys.outbox change queued for the key, e.g. the opt-out IYS did not have';
COMMENT ON COLUMN iys.status_check.resolution IS 'how iys.resolve_drift settled the difference';
COMMENT ON COLUMN iys.status_check.resolved_at IS 'when the difference was settled; until then it shows in iys.drift';

-- Columns: iys.reconcile_day.
COMMENT ON COLUMN iys.reconcile_day.brand_code IS 'IYS brandCode of the file';
COMMENT ON COLUMN iys.reconcile_day.report_date IS 'the Turkey day (UTC+3) of the movement file';
COMMENT ON COLUMN iys.reconcile_day.fetched_at IS 'when the file was fetched and compared';
COMMENT ON COLUMN iys.reconcile_day.movements IS 'movements in the file';
COMMENT ON COLUMN iys.reconcile_day.missing_here IS 'movements pg_iys never saw, recorded from the file';
COMMENT ON COLUMN iys.reconcile_day.missing_at_iys IS 'our accepted movements sent that day (before 23:50 Turkey time) that the file does not have';
COMMENT ON COLUMN iys.reconcile_day.status_differs IS 'movements pg_iys knows under the same transactionId with another status';

-- Columns: iys.reconcile_finding.
COMMENT ON COLUMN iys.reconcile_finding.id IS 'number of the finding';
COMMENT ON COLUMN iys.reconcile_finding.brand_code IS 'IYS brandCode of the file';
COMMENT ON COLUMN iys.reconcile_finding.report_date IS 'the Turkey day (UTC+3) of the movement file';
COMMENT ON COLUMN iys.reconcile_finding.kind IS 'missing_here (in IYS''s file, never pulled), missing_at_iys (accepted by IYS, not in its file) or status_differs (same transactionId, another status)';
COMMENT ON COLUMN iys.reconcile_finding.recipient IS 'IYS''s recipient, normalised';
COMMENT ON COLUMN iys.reconcile_finding.consent_type IS 'IYS''s type, the channel: MESAJ, ARAMA or EPOSTA';
COMMENT ON COLUMN iys.reconcile_finding.recipient_type IS 'IYS''s recipientType: BIREYSEL or TACIR';
COMMENT ON COLUMN iys.reconcile_finding.iys_status IS 'the status in IYS''s file';
COMMENT ON COLUMN iys.reconcile_finding.local_status IS 'the status pg_iys sent, if any';
COMMENT ON COLUMN iys.reconcile_finding.consent_date IS 'IYS''s consentDate of the movement, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.reconcile_finding.source IS 'IYS''s source of the movement';
COMMENT ON COLUMN iys.reconcile_finding.transaction_id IS 'IYS''s transactionId of the movement';
COMMENT ON COLUMN iys.reconcile_finding.outbox_id IS 'our iys.outbox row of the movement, if it is ours';
COMMENT ON COLUMN iys.reconcile_finding.found_at IS 'when the file was compared';
COMMENT ON COLUMN iys.reconcile_finding.resolution IS 'how the finding was settled (recorded from the daily file, acknowledged)';
COMMENT ON COLUMN iys.reconcile_finding.resolved_at IS 'when the finding was settled; until then it shows in iys.drift';

-- Views.
COMMENT ON VIEW iys.sendable IS 'recipients a campaign may reach: brand, recipient in IYS''s form and channel of every ONAY IYS holds with no RET waiting (lists people: not readable by PUBLIC)';
COMMENT ON VIEW iys.request_quality IS 'requests to IYS and successful answers per account and Turkey day, against IYS''s quality rule (20,000 requests a day under 70 % success: the IP leaves IYS''s whitelist)';
COMMENT ON VIEW iys.rejections IS 'rejected changes with IYS''s code and message and the table and row they came from';
COMMENT ON VIEW iys.rejections_by_code IS 'rejected changes counted per brand and IYS code';
COMMENT ON VIEW iys.conflicts IS 'unresolved ties between a pulled change and a local consent (same consent date, other status)';
COMMENT ON VIEW iys.deadline_alerts IS 'changes not yet accepted whose 3-business-day reporting window (H467) ends within a day or has ended';
COMMENT ON VIEW iys.consent_history IS 'every consent movement, local (its outbox row) or from IYS (its ledger row), with IYS''s transactionId and what became of it';
COMMENT ON COLUMN iys.consent_history.id IS 'the ledger row; NULL for a local movement recorded as its outbox row only (since 0.8.0: see outbox_id)';
COMMENT ON VIEW iys.pull_quarantine IS 'pulled (or propagated) changes an attached table could not take, with the reason; iys.retry_quarantined() applies them again';
COMMENT ON VIEW iys.drift IS 'differences between the rows and IYS''s record (status queries) and between IYS''s daily files and pg_iys, until iys.resolve_drift settles them';
COMMENT ON VIEW iys.status_check_progress IS 'how far IYS''s status queries are, per brand and reason (adopt, pull_gap, manual)';
COMMENT ON VIEW iys.sync_status IS 'operators'' overview, one row per brand: state and pause, queue by state, worker, token halt, requests today, pulls, status queries, drift and reconciliation';

-- View columns that need a word.
COMMENT ON COLUMN iys.sendable.recipient IS 'recipient in IYS''s form (E.164 phone number or lower-case e-mail address): join with normalised addresses';
COMMENT ON COLUMN iys.request_quality.day IS 'the Turkey day (UTC+3) counted';
COMMENT ON COLUMN iys.request_quality.failures IS 'requests not answered with success';
COMMENT ON COLUMN iys.request_quality.success_ratio IS 'successes / requests, 0 to 1';
COMMENT ON COLUMN iys.request_quality.verdict IS 'ok; near IYS''s line: sending paused (10,000 requests under 75 % success); or over IYS''s line';
COMMENT ON COLUMN iys.rejections.source_table IS 'attached table the change came from';
COMMENT ON COLUMN iys.rejections.consent_date IS 'IYS''s consentDate, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.rejections_by_code.rows IS 'how many changes were rejected with this code';
COMMENT ON COLUMN iys.rejections_by_code.example_message IS 'one of their messages';
COMMENT ON COLUMN iys.rejections_by_code.last_at IS 'when the latest of them was rejected';
COMMENT ON COLUMN iys.conflicts.local_status IS 'the permission the attached row holds, as read from it (kept)';
COMMENT ON COLUMN iys.conflicts.iys_status IS 'the status of the pulled change (not applied)';
COMMENT ON COLUMN iys.conflicts.consent_date IS 'the consentDate both share, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.deadline_alerts.consent_date IS 'IYS''s consentDate, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.deadline_alerts.report_by IS 'the last moment IYS accepts the change, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.deadline_alerts.time_left IS 'time until report_by; negative once it has passed';
COMMENT ON COLUMN iys.consent_history.consent_date IS 'IYS''s consentDate, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.consent_history.transaction_id IS 'IYS''s transactionId of the movement';
COMMENT ON COLUMN iys.consent_history.iys_source IS 'a movement from IYS: its source as IYS spelled it';
COMMENT ON COLUMN iys.consent_history.creation_date IS 'a movement from IYS: when IYS recorded it (Turkey time)';
COMMENT ON COLUMN iys.consent_history.outcome IS 'accepted for a pulled movement; for a local one the state of its outbox row (pending, in_flight, accepted, rejected, superseded, not_in_iys)';
COMMENT ON COLUMN iys.pull_quarantine.error IS 'why the change could not be applied, per failing table';
COMMENT ON COLUMN iys.pull_quarantine.quarantined_at IS 'when the change was quarantined';
COMMENT ON COLUMN iys.pull_quarantine.payload IS 'IYS''s item as received, when it could not be read (such an item is not retried)';
COMMENT ON COLUMN iys.drift.found_by IS 'status query or daily file';
COMMENT ON COLUMN iys.drift.local_status IS 'what the row (status query) or pg_iys (daily file) says';
COMMENT ON COLUMN iys.drift.iys_status IS 'what IYS says: ONAY, RET, none (no record) or not ONAY';
COMMENT ON COLUMN iys.drift.iys_consent_date IS 'IYS''s consentDate, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.drift.difference IS 'the difference in words, and what pg_iys did about it';
COMMENT ON COLUMN iys.drift.found_at IS 'when the difference was found';
COMMENT ON COLUMN iys.drift.report_date IS 'the Turkey day of the daily file; NULL for a status query';
COMMENT ON COLUMN iys.status_check_progress.keys IS 'keys queued for status queries';
COMMENT ON COLUMN iys.status_check_progress.to_query IS 'keys waiting for the multi-status query';
COMMENT ON COLUMN iys.status_check_progress.to_detail IS 'keys waiting for the single status query (IYS''s record; at most iys.status_queries_per_hour an hour)';
COMMENT ON COLUMN iys.status_check_progress.done IS 'keys answered';
COMMENT ON COLUMN iys.status_check_progress.iys_onay IS 'keys IYS holds as ONAY';
COMMENT ON COLUMN iys.status_check_progress.opt_outs_queued IS 'local opt-outs IYS did not have, queued for IYS';
COMMENT ON COLUMN iys.status_check_progress.percent_done IS 'keys answered, in percent';
COMMENT ON COLUMN iys.status_check_progress.queued_since IS 'when the oldest key was queued';
COMMENT ON COLUMN iys.status_check_progress.last_answer_at IS 'when IYS last answered';
COMMENT ON COLUMN iys.sync_status.state IS 'active, paused (the account or the brand: see paused_code) or disabled (iys.brand.enabled is false)';
COMMENT ON COLUMN iys.sync_status.paused_code IS 'IYS''s code (or PGIYS_*) of the refusal that paused the account or brand';
COMMENT ON COLUMN iys.sync_status.paused_reason IS 'whether the account or the brand is paused, IYS''s text and what to do';
COMMENT ON COLUMN iys.sync_status.paused_since IS 'when the pause began';
COMMENT ON COLUMN iys.sync_status.next_probe_at IS 'when the worker next tries the paused account or brand (iys.resume() tries now)';
COMMENT ON COLUMN iys.sync_status.pending IS 'changes of the brand waiting to be sent';
COMMENT ON COLUMN iys.sync_status.in_flight IS 'changes of the brand in a batch IYS has not answered yet';
COMMENT ON COLUMN iys.sync_status.accepted IS 'changes of the brand IYS accepted';
COMMENT ON COLUMN iys.sync_status.rejected IS 'changes of the brand rejected (see iys.rejections)';
COMMENT ON COLUMN iys.sync_status.superseded IS 'changes of the brand never sent because a newer change of their key went instead';
COMMENT ON COLUMN iys.sync_status.oldest_pending_age IS 'how long the oldest pending change has waited';
COMMENT ON COLUMN iys.sync_status.last_send_error IS 'the latest error of a pending or in-flight change of the brand';
COMMENT ON COLUMN iys.sync_status.last_flush_at IS 'when the worker last finished a round that did work';
COMMENT ON COLUMN iys.sync_status.worker_heartbeat_at IS 'when the worker last wrote its status (about every 10 s while it runs)';
COMMENT ON COLUMN iys.sync_status.worker_pid IS 'process id of the worker';
COMMENT ON COLUMN iys.sync_status.worker_last_error IS 'the worker''s last error (iys.worker_state.last_error)';
COMMENT ON COLUMN iys.sync_status.token_halted_until IS 'no token call before this time, after IYS''s H084 (iys.lift_token_halt() ends it)';
COMMENT ON COLUMN iys.sync_status.token_halt_reason IS 'why token calls are halted';
COMMENT ON COLUMN iys.sync_status.requests_today IS 'requests the account made to IYS this Turkey day (UTC+3)';
COMMENT ON COLUMN iys.sync_status.success_ratio_today IS 'share of those answered with success, 0 to 1 (IYS''s line: 0.7 from 20,000 requests)';
COMMENT ON COLUMN iys.sync_status.last_pull_at IS 'last successful pull of citizens'' changes (source IYS)';
COMMENT ON COLUMN iys.sync_status.last_pull_error IS 'error of the last pull attempt (source IYS)';
COMMENT ON COLUMN iys.sync_status.warning IS 'set when no pull succeeded for 6 days (IYS keeps changes 7 days) or a gap over 7 days needs the known keys rechecked';
COMMENT ON COLUMN iys.sync_status.not_in_iys IS 'RETs IYS never had the consent for (H175): nothing to withdraw, not rejections';
COMMENT ON COLUMN iys.sync_status.status_checks_left IS 'keys still waiting for IYS''s status queries';
COMMENT ON COLUMN iys.sync_status.drift IS 'rows of iys.drift for the brand';
COMMENT ON COLUMN iys.sync_status.reconciled_through IS 'latest Turkey day whose movement file was reconciled';
COMMENT ON COLUMN iys.sync_status.pull_gap IS 'when a pull gap over IYS''s 7-day window was bridged, and how many keys were rechecked';

-- Push (sql/push.sql).
COMMENT ON TABLE iys.push_connection IS 'the push connections pg_iys asked IYS for (iys.push_register / iys.push_unregister), with the credentials IYS calls them with; owner only';
COMMENT ON COLUMN iys.push_connection.brand_code IS 'the brand whose IYS_* movements are pushed';
COMMENT ON COLUMN iys.push_connection.consent_type IS 'the consent type pushed to this address (IYS registers one per type)';
COMMENT ON COLUMN iys.push_connection.url IS 'the https address IYS pushes to (iys-push-receiver)';
COMMENT ON COLUMN iys.push_connection.username IS 'basic-authentication user IYS calls the address with';
COMMENT ON COLUMN iys.push_connection.password IS 'basic-authentication password IYS calls the address with (also needed to unregister)';
COMMENT ON COLUMN iys.push_connection.wanted IS 'true: register the connection; false: unregister it';
COMMENT ON COLUMN iys.push_connection.state IS 'pending (the worker has yet to ask IYS), registered, refused (IYS said no: last_error) or removed';
COMMENT ON COLUMN iys.push_connection.iys_status IS 'the connection''s status in IYS''s own words, from its list';
COMMENT ON COLUMN iys.push_connection.iys_time IS 'when the connection got that status, as IYS lists it (Turkey time)';
COMMENT ON COLUMN iys.push_connection.last_error IS 'why IYS refused the request, or why it could not be asked yet';
COMMENT ON COLUMN iys.push_connection.requested_at IS 'when the registration or unregistration was asked for';
COMMENT ON COLUMN iys.push_connection.done_at IS 'when IYS answered it';
COMMENT ON TABLE iys.push_seen IS 'when IYS last pushed movements of a brand, and how many it pushed';
COMMENT ON COLUMN iys.push_seen.brand_code IS 'brand code';
COMMENT ON COLUMN iys.push_seen.last_push_at IS 'when the receiver last handed over a push for the brand';
COMMENT ON COLUMN iys.push_seen.movements IS 'movements pushed for the brand so far (seen again ones included)';
COMMENT ON FUNCTION iys.push_register(text, iys.consent_type, text, text, text) IS 'asks IYS (through the worker) to push a brand''s IYS_* movements of one consent type to an https address with these basic-authentication credentials';
COMMENT ON FUNCTION iys.push_unregister(text, iys.consent_type, text) IS 'asks IYS (through the worker) to stop pushing to an address; false when no such connection was asked for';
COMMENT ON FUNCTION iys.receive_push(jsonb) IS 'records a request IYS pushed ({"list": [...]}) like a pulled page and wakes the worker at commit; called by iys-push-receiver as a role given iys.grant_push_receiver_rights';
COMMENT ON FUNCTION iys.grant_push_receiver_rights(regrole) IS 'grants a role what iys-push-receiver needs: EXECUTE on iys.receive_push, nothing else';
COMMENT ON FUNCTION iys_internal.record_pushed(jsonb) IS 'internal: records a pushed request''s movements of configured brands in the ledger, the known state and the inbox (called by iys.receive_push)';
COMMENT ON VIEW iys.push_connections IS 'the push connections and how far registering them got, with the last push per brand (no password)';
COMMENT ON COLUMN iys.push_connections.brand_code IS 'the brand whose IYS_* movements are pushed';
COMMENT ON COLUMN iys.push_connections.consent_type IS 'the consent type pushed to this address';
COMMENT ON COLUMN iys.push_connections.url IS 'the https address IYS pushes to';
COMMENT ON COLUMN iys.push_connections.username IS 'basic-authentication user IYS calls the address with';
COMMENT ON COLUMN iys.push_connections.wanted IS 'register or unregister';
COMMENT ON COLUMN iys.push_connections.state IS 'pending, registered, refused or removed';
COMMENT ON COLUMN iys.push_connections.iys_status IS 'the connection''s status in IYS''s own words';
COMMENT ON COLUMN iys.push_connections.iys_time IS 'when the connection got that status (Turkey time)';
COMMENT ON COLUMN iys.push_connections.last_error IS 'why IYS refused the request, or why it could not be asked yet';
COMMENT ON COLUMN iys.push_connections.requested_at IS 'when the registration or unregistration was asked for';
COMMENT ON COLUMN iys.push_connections.done_at IS 'when IYS answered it';
COMMENT ON COLUMN iys.push_connections.last_push_at IS 'when IYS last pushed movements of the brand';
COMMENT ON COLUMN iys.push_connections.pushed_movements IS 'movements IYS pushed for the brand so far';
COMMENT ON FUNCTION iys_internal.recipient_type_or(text, iys.recipient_type) IS
    'internal: a contact type as the row check reads it (any case, blanks, Turkish letters), otherwise the given default, for the generated enqueue statement';
