-- pg_iys 0.9.0 -> 0.10.0: a cheaper write path (issue #16).
--   * The text -> enum conversions behind the text::iys.<enum> casts (iys.to_consent_type,
--     iys.to_consent_status, iys.to_recipient_type, iys.to_consent_source) are C functions
--     instead of SQL functions; the generated enqueue statement converts with them (one call a
--     value instead of a CASE over every label) and reads the contact type with
--     iys_internal.recipient_type_or. Same results, same errors.
--   * iys.outbox.state loses its CHECK constraint: only pg_iys's own statements write it, and
--     PostgreSQL re-planned the CHECK for every application statement on an attached table.
-- Attached tables need nothing: their enqueue statement is generated again in every session.

CREATE OR REPLACE FUNCTION iys.to_consent_type(value text) RETURNS iys.consent_type
    AS 'MODULE_PATHNAME', 'iys_to_consent_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION iys.to_consent_status(value text) RETURNS iys.consent_status
    AS 'MODULE_PATHNAME', 'iys_to_consent_status' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION iys.to_recipient_type(value text) RETURNS iys.recipient_type
    AS 'MODULE_PATHNAME', 'iys_to_recipient_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION iys.to_consent_source(value text) RETURNS iys.consent_source
    AS 'MODULE_PATHNAME', 'iys_to_consent_source' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION iys_internal.recipient_type_or(value text, otherwise iys.recipient_type) RETURNS iys.recipient_type
    AS 'MODULE_PATHNAME', 'iys_recipient_type_or' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION iys_internal.recipient_type_or(text, iys.recipient_type) IS
    'internal: a contact type as the row check reads it (any case, blanks, Turkish letters), otherwise the given default, for the generated enqueue statement';

ALTER TABLE iys.outbox DROP CONSTRAINT outbox_state_check;
