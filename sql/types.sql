-- pg_iys types: lenient text → enum conversions, and the iys.phone / iys.email base types.
-- The four enums themselves (iys.consent_type, iys.consent_status, iys.recipient_type,
-- iys.consent_source) are created by pgrx from src/sql_api/types.rs.

-- text → enum, tolerant of case, surrounding blanks and Turkish letters ('bİreysel', 'hs çağrı
-- merkezi'); anything else is 22P02 listing the allowed values. PostgreSQL's own
-- 'x'::iys.consent_type stays strict (exact labels only).
-- C functions (src/sql_api/types.rs): a cast is then one call, not a SQL function per value.
CREATE FUNCTION iys.to_consent_type(value text) RETURNS iys.consent_type
    AS 'MODULE_PATHNAME', 'iys_to_consent_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys.to_consent_status(value text) RETURNS iys.consent_status
    AS 'MODULE_PATHNAME', 'iys_to_consent_status' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys.to_recipient_type(value text) RETURNS iys.recipient_type
    AS 'MODULE_PATHNAME', 'iys_to_recipient_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys.to_consent_source(value text) RETURNS iys.consent_source
    AS 'MODULE_PATHNAME', 'iys_to_consent_source' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- The generated enqueue statement's contact type: as the row check reads it, else the default.
CREATE FUNCTION iys_internal.recipient_type_or(value text, otherwise iys.recipient_type) RETURNS iys.recipient_type
    AS 'MODULE_PATHNAME', 'iys_recipient_type_or' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- text_col::iys.consent_type uses the lenient conversion too (explicit casts only).
CREATE CAST (text AS iys.consent_type) WITH FUNCTION iys.to_consent_type(text);
CREATE CAST (text AS iys.consent_status) WITH FUNCTION iys.to_consent_status(text);
CREATE CAST (text AS iys.recipient_type) WITH FUNCTION iys.to_recipient_type(text);
CREATE CAST (text AS iys.consent_source) WITH FUNCTION iys.to_consent_source(text);

-- iys.phone / iys.email: base types whose input function normalises, so a column of this type
-- only ever holds IYS's form ('0532 123 45 67'::iys.phone is '+905321234567'). They are stored
-- exactly like text (LIKE = text), output with textout, and compared byte-wise with the
-- collation-free bytea functions: the values are ASCII, so byte order is a stable order and
-- equality is exact. Like citext: implicit casts to text (every text function works on them),
-- assignment casts from text (INSERT … SELECT text_col normalises), and their own = < > operators
-- so that `col = 'whatever people type'` normalises the literal. Those operators live in schema
-- iys: with iys outside search_path, `col = 'literal'` falls back to text = text (no
-- normalisation of the literal, and the column's index is not used).

CREATE TYPE iys.phone;
CREATE FUNCTION iys_internal.phone_in(cstring) RETURNS iys.phone
    AS 'MODULE_PATHNAME', 'phone_in_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys_internal.phone_out(iys.phone) RETURNS cstring
    AS 'textout' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys_internal.phone_recv(internal) RETURNS iys.phone
    AS 'MODULE_PATHNAME', 'phone_recv_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys_internal.phone_send(iys.phone) RETURNS bytea
    AS 'textsend' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE iys.phone (
    INPUT = iys_internal.phone_in, OUTPUT = iys_internal.phone_out, RECEIVE = iys_internal.phone_recv, SEND = iys_internal.phone_send,
    LIKE = text, CATEGORY = 'S'
);
COMMENT ON TYPE iys.phone IS 'E.164 phone number (+905321234567), normalised on input';

CREATE TYPE iys.email;
CREATE FUNCTION iys_internal.email_in(cstring) RETURNS iys.email
    AS 'MODULE_PATHNAME', 'email_in_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys_internal.email_out(iys.email) RETURNS cstring
    AS 'textout' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys_internal.email_recv(internal) RETURNS iys.email
    AS 'MODULE_PATHNAME', 'email_recv_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys_internal.email_send(iys.email) RETURNS bytea
    AS 'textsend' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE iys.email (
    INPUT = iys_internal.email_in, OUTPUT = iys_internal.email_out, RECEIVE = iys_internal.email_recv, SEND = iys_internal.email_send,
    LIKE = text, CATEGORY = 'S'
);
COMMENT ON TYPE iys.email IS 'e-mail address as IYS accepts it (trimmed, lower-case ASCII), normalised on input';

CREATE FUNCTION iys.phone(text) RETURNS iys.phone
    AS 'MODULE_PATHNAME', 'phone_from_text_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iys.email(text) RETURNS iys.email
    AS 'MODULE_PATHNAME', 'email_from_text_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (text AS iys.phone) WITH FUNCTION iys.phone(text) AS ASSIGNMENT;
CREATE CAST (varchar AS iys.phone) WITH FUNCTION iys.phone(text) AS ASSIGNMENT;
CREATE CAST (iys.phone AS text) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (iys.phone AS varchar) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (text AS iys.email) WITH FUNCTION iys.email(text) AS ASSIGNMENT;
CREATE CAST (varchar AS iys.email) WITH FUNCTION iys.email(text) AS ASSIGNMENT;
CREATE CAST (iys.email AS text) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (iys.email AS varchar) WITHOUT FUNCTION AS IMPLICIT;

-- Comparison support, generated for both types.
DO $types$
DECLARE
    t text;
    op record;
BEGIN
    FOREACH t IN ARRAY ARRAY['phone', 'email'] LOOP
        FOR op IN SELECT * FROM (VALUES
            ('eq', 'byteaeq', '=', '=', '<>', 'eqsel', 'eqjoinsel', ', HASHES, MERGES'),
            ('ne', 'byteane', '<>', '<>', '=', 'neqsel', 'neqjoinsel', ''),
            ('lt', 'bytealt', '<', '>', '>=', 'scalarltsel', 'scalarltjoinsel', ''),
            ('le', 'byteale', '<=', '>=', '>', 'scalarlesel', 'scalarlejoinsel', ''),
            ('gt', 'byteagt', '>', '<', '<=', 'scalargtsel', 'scalargtjoinsel', ''),
            ('ge', 'byteage', '>=', '<=', '<', 'scalargesel', 'scalargejoinsel', ''))
            AS v(fname, internal, oper, commutator, negator, restr, joinsel, extra)
        LOOP
            EXECUTE format(
                'CREATE FUNCTION iys_internal.%1$s_%2$s(iys.%1$s, iys.%1$s) RETURNS boolean
                     AS %3$L LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE',
                t, op.fname, op.internal);
            EXECUTE format(
                'CREATE OPERATOR iys.%4$s (LEFTARG = iys.%1$s, RIGHTARG = iys.%1$s,
                     FUNCTION = iys_internal.%1$s_%2$s, COMMUTATOR = OPERATOR(iys.%5$s),
                     NEGATOR = OPERATOR(iys.%6$s), RESTRICT = %7$s, JOIN = %8$s %3$s)',
                t, op.fname, op.extra, op.oper, op.commutator, op.negator, op.restr, op.joinsel);
        END LOOP;
        EXECUTE format(
            'CREATE FUNCTION iys_internal.%1$s_cmp(iys.%1$s, iys.%1$s) RETURNS integer
                 AS ''byteacmp'' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
             CREATE FUNCTION iys_internal.%1$s_hash(iys.%1$s) RETURNS integer
                 AS ''hashvarlena'' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
             CREATE FUNCTION iys_internal.%1$s_hash_extended(iys.%1$s, bigint) RETURNS bigint
                 AS ''hashvarlenaextended'' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
             CREATE OPERATOR CLASS iys.%1$s_ops DEFAULT FOR TYPE iys.%1$s USING btree AS
                 OPERATOR 1 iys.<, OPERATOR 2 iys.<=, OPERATOR 3 iys.=, OPERATOR 4 iys.>=,
                 OPERATOR 5 iys.>, FUNCTION 1 iys_internal.%1$s_cmp(iys.%1$s, iys.%1$s);
             CREATE OPERATOR CLASS iys.%1$s_hash_ops DEFAULT FOR TYPE iys.%1$s USING hash AS
                 OPERATOR 1 iys.=, FUNCTION 1 iys_internal.%1$s_hash(iys.%1$s),
                 FUNCTION 2 iys_internal.%1$s_hash_extended(iys.%1$s, bigint)', t);
    END LOOP;
END
$types$;

-- MESAJ consents are registered for Turkish mobiles only (+905XXXXXXXXX): a domain for
-- columns that feed MESAJ.
CREATE DOMAIN iys.mobile AS iys.phone
    CONSTRAINT turkish_mobile CHECK (iys.is_turkish_mobile(VALUE));
COMMENT ON DOMAIN iys.mobile IS 'Turkish mobile number (+905XXXXXXXXX), the recipients MESAJ accepts';
