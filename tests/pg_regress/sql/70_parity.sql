-- Validation parity with IYS: what IYS's document refuses is refused here, with IYS's code.
SET search_path = public;
SET datestyle = ISO;
-- E-mail rules 1–7 (TANIMLAR → E-posta → Şartlar): special characters, the x@xx.xx minimum,
-- '+' only before the '@', Turkish letters, white space, 6–265 characters.
SELECT a AS address, v.code, v.message_en
  FROM unnest(ARRAY['a!b@example.com', 'o''brien@example.com', 'ali%x@example.com', 'ali@x.co', 'ali@ex+tra.com',
                    'ali+kampanya@example.com', 'ali@şirket.com', 'ali veli@example.com', 'a@b.c', 'ali@example.c0m',
                    'ali_veli-x@my-domain.com.tr']) AS a
  LEFT JOIN LATERAL iys.validate_consent(a, 'EPOSTA', 'ONAY', 'HS_WEB', '2024-03-05 10:00', at => '2024-03-06 12:00+03') v ON true
 ORDER BY 1, 2;
-- The iys.email type keeps its shape rules (a dump of an earlier release restores); an EPOSTA
-- consent is held to IYS's.
SELECT 'o''brien@example.com'::iys.email AS stored, iys.try_normalize_recipient('o''brien@example.com', 'EPOSTA') AS for_eposta;
SELECT iys.normalize_recipient('o''brien@example.com', 'EPOSTA');
-- Phones: in use by IYS's numbering plan (libphonenumber 8.12.47). MESAJ takes mobiles, ARAMA
-- mobiles, landlines and 850 numbers; ranges not allocated in 8.12.47 are refused, also those a
-- newer libphonenumber knows (IYS has not updated).
SELECT n AS number, t AS type, iys.try_normalize_recipient(n, t::iys.consent_type) AS accepted, v.message_en
  FROM (VALUES ('+905321234567', 'MESAJ'), ('+905901234567', 'MESAJ'), ('+905991234567', 'MESAJ'), ('+905001234567', 'MESAJ'),
               ('+902121234567', 'MESAJ'), ('+902121234567', 'ARAMA'), ('+908501234567', 'ARAMA'), ('+908001234567', 'ARAMA'),
               ('+904441234567', 'ARAMA'), ('+902381234567', 'ARAMA'), ('+4915112345678', 'MESAJ')) AS x(n, t)
  LEFT JOIN LATERAL iys.validate_consent(n, t::iys.consent_type, 'ONAY', 'HS_WEB', '2024-03-05 10:00', at => '2024-03-06 12:00+03') v ON true
 ORDER BY t, n;
SELECT iys.is_turkish_mobile('+905991234567') AS mobile_form, '+905991234567'::iys.mobile AS stored;
-- Codes as IYS answers them on add: the wrong kind of address is H121 (phone expected) or H120
-- (e-mail expected), not the status query's H464; a phone over 15 characters is H160 and H121;
-- a missing type or status is H111/H110.
SELECT code, field, value FROM iys.validate_consent('ali@example.com', 'MESAJ', 'ONAY', 'HS_WEB', '2024-03-05 10:00', at => '2024-03-06 12:00+03');
SELECT code, field, value FROM iys.validate_consent('+905321234567', 'EPOSTA', 'ONAY', 'HS_WEB', '2024-03-05 10:00', at => '2024-03-06 12:00+03');
SELECT code, field, value, message_tr FROM iys.validate_consent('9055436100000000', 'MESAJ', 'ONAY', 'HS_WEB', '2024-03-05 10:00', at => '2024-03-06 12:00+03');
SELECT code, field, message_tr FROM iys.validate_consent('+905321234567', NULL, NULL, 'HS_WEB', '2024-03-05 10:00', at => '2024-03-06 12:00+03');
-- State rules against what IYS is known to hold, whatever table a change comes from: the worker's
-- claim rejects, without sending, a change IYS is sure to refuse (H178: not later than the
-- date IYS holds; H462/H463: a TACIR update without a date or a source). An opt-out over a
-- known RET still goes (the citizen may have consented again in IYS since).
INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700007', 'http://127.0.0.1:9', 'u', 'p');
INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600007', '700007');
INSERT INTO iys.current_consent (brand_code, recipient, consent_type, recipient_type, status, source, consent_date, origin) VALUES
  ('600007', '+905320000001', 'MESAJ', 'BIREYSEL', 'ONAY', 'HS_WEB', (now() AT TIME ZONE INTERVAL '+03:00')::date - 1, 'iys'),
  ('600007', '+905320000002', 'MESAJ', 'BIREYSEL', 'RET', 'HS_WEB', (now() AT TIME ZONE INTERVAL '+03:00')::date - 1, 'import'),
  ('600007', '+905320000003', 'MESAJ', 'TACIR', 'ONAY', NULL, NULL, 'iys');
INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date) VALUES
  ('600007', '+905320000001', 'BIREYSEL', 'MESAJ', 'RET', 'HS_WEB', (now() AT TIME ZONE INTERVAL '+03:00')::date - 2),
  ('600007', '+905320000002', 'BIREYSEL', 'MESAJ', 'RET', 'HS_WEB', (now() AT TIME ZONE INTERVAL '+03:00')::date - 1 + interval '1 hour'),
  ('600007', '+905320000003', 'TACIR', 'MESAJ', 'RET', NULL, NULL),
  ('600007', '+905320000004', 'BIREYSEL', 'MESAJ', 'ONAY', 'HS_WEB', (now() AT TIME ZONE INTERVAL '+03:00')::date - 1 + interval '1 hour');
SELECT recipient, status FROM iys_internal.claim_batch('600007', 10) ORDER BY id;
SELECT recipient, state, error_code, regexp_replace(error_message, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d', 'YYYY-MM-DD hh:mm:ss') AS error_message
  FROM iys.outbox WHERE brand_code = '600007' ORDER BY id;
