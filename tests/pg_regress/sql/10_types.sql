-- Consent enums, lenient text conversions, and the iys.phone / iys.email types.
SET search_path = public, iys;
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'ok';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$;

SELECT t::regtype AS type, string_agg(enumlabel::text, ', ' ORDER BY enumsortorder) AS labels
  FROM unnest('{iys.consent_type,iys.consent_status,iys.recipient_type,iys.consent_source}'::regtype[]) t
  JOIN pg_enum ON enumtypid = t GROUP BY t ORDER BY t::oid;

-- Tolerant of case, blanks and Turkish letters; the casts from text use the same rules.
SELECT iys.to_consent_type(' eposta ') AS type, iys.to_consent_status('Onay') AS status,
       iys.to_recipient_type('TACİR') AS recipient_type, iys.to_consent_source('hs çağrı merkezi') AS source,
       'bireysel'::text::iys.recipient_type AS cast;
SELECT iys.to_consent_type('SMS');
SELECT iys.to_consent_source('IYS_NEW');
SELECT pg_temp.sqlstate_of($$SELECT iys.to_consent_status('EVET')$$);

-- iys.phone stores E.164 whatever people type.
SELECT typed, typed::iys.phone AS phone
  FROM (VALUES ('0532 123 45 67'), ('5321234567'), ('905321234567'), ('+90 (532) 123-45-67'),
               ('0090532 123 45 67'), ('(0212) 123 45 67'), ('+49 151 1234 5678')) v(typed);
SELECT '+9005321234567'::iys.phone;
SELECT '0532 ABC 45 67'::iys.phone;
SELECT '0532 123 45 6'::iys.phone;
SELECT '+1234567890123456'::iys.phone;
SELECT pg_temp.sqlstate_of($$SELECT '05'::iys.phone$$);
-- MESAJ needs a Turkish mobile: the iys.mobile domain and iys.normalize_recipient say so.
SELECT '0532 123 45 67'::iys.mobile;
SELECT '0212 123 45 67'::iys.mobile;
SELECT iys.normalize_recipient('+49 151 1234 5678', 'MESAJ');
SELECT iys.normalize_recipient('0212 123 45 67', 'ARAMA') AS arama, iys.normalize_recipient(' Ali@Example.com', 'EPOSTA') AS eposta;

-- iys.email trims and lower-cases; Turkish letters, spaces and bad lengths are refused.
SELECT '  Ali.Veli@Example.COM '::iys.email;
SELECT 'şule@example.com'::iys.email;
SELECT 'ali veli@example.com'::iys.email;
SELECT 'a@b.c'::iys.email;

-- Plain functions for CHECK constraints on text columns.
SELECT iys.normalize_phone('0532 123 45 67'), iys.normalize_email('X@YZ.COM'),
       iys.is_valid_phone('0532'), iys.is_valid_email('x@yz.com'), iys.is_turkish_mobile('+902121234567');

-- Columns: unique/btree/hash indexes and = 'literal' work on the normalised value.
CREATE TABLE contact (
    id int PRIMARY KEY,
    gsm iys.phone UNIQUE,
    email iys.email,
    raw_phone text CHECK (iys.is_valid_phone(raw_phone))
);
CREATE INDEX contact_email_hash ON contact USING hash (email);
INSERT INTO contact VALUES (1, '0532 123 45 67', 'Ali@Example.com', '0532 123 45 67'),
                           (2, '+90 212 123 45 67', 'veli@example.com', NULL);
INSERT INTO contact VALUES (3, '05321234567', NULL, NULL);
INSERT INTO contact VALUES (4, NULL, NULL, '12');
SELECT id, gsm, email FROM contact WHERE gsm = '0532-123-45-67' OR email = 'VELI@example.com' ORDER BY gsm;
SELECT id, gsm::text LIKE '+90532%' AS mobile, length(gsm) FROM contact ORDER BY id;
-- Assignment casts normalise text on the way in.
INSERT INTO contact (id, gsm) SELECT 5, '0555 000 11 22'::text;
SELECT gsm FROM contact WHERE id = 5;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM contact WHERE gsm = '0532 123 45 67';
EXPLAIN (COSTS OFF) SELECT id FROM contact WHERE email = 'ALI@example.com';
RESET enable_seqscan;
DROP TABLE contact;
