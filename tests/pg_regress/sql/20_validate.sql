-- Validating one consent: every problem with IYS's code, field, value and messages.
SET search_path = public;
SET datestyle = ISO;
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'ok';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$;

-- A valid consent: no rows. (at = the instant "now" is taken as; dates are Turkey time.)
SELECT * FROM iys.validate_consent('0532 123 45 67', 'MESAJ', 'ONAY', 'HS_WEB', '2024-03-05 10:00',
                                   at => '2024-03-06 12:00+03');
-- Everything wrong at once.
SELECT code, field, value, message_en
  FROM iys.validate_consent('+9005321234567', 'MESAJ', 'RET', 'IYS_WEB', '2014-12-31 23:00',
                            at => '2024-03-06 12:00+03');
SELECT code, field, value, message_tr
  FROM iys.validate_consent('ali@example.com', 'MESAJ', 'ONAY', 'HS_2015', '2015-05-02 00:00',
                            at => '2024-03-06 12:00+03');
-- Future date, HS_KARAR with ONAY, too old (3 business days: Thu 29 Feb → Tue 5 Mar).
SELECT code, field, value, message_en FROM iys.validate_consent('0532 123 45 67', 'MESAJ', 'ONAY', 'HS_KARAR', '2024-03-07 10:00', at => '2024-03-06 12:00+03');
SELECT code, field, value, message_en FROM iys.validate_consent('ali@example.com', 'EPOSTA', 'ONAY', 'HS_WEB', '2024-02-29 10:00', at => '2024-03-06 12:00+03');
SELECT * FROM iys.validate_consent('ali@example.com', 'EPOSTA', 'ONAY', 'HS_WEB', '2024-02-29 10:00', at => '2024-03-05 10:00+03');
-- State rules against the stored consent.
SELECT code, field, value, message_en FROM iys.validate_consent('0532 123 45 67', 'MESAJ', 'RET', 'HS_WEB', '2024-03-05 10:00',
       previous_status => 'RET', previous_date => '2024-03-05 11:00', at => '2024-03-06 12:00+03');
-- NULLs are problems, not silence; TACIR may omit date and source on its first record only.
SELECT code, field, value, message_en FROM iys.validate_consent(NULL, NULL, NULL, NULL, NULL, at => '2024-03-06 12:00+03');
SELECT count(*) AS problems FROM iys.validate_consent('0532 123 45 67', 'MESAJ', 'ONAY', NULL, NULL, 'TACIR', at => '2024-03-06 12:00+03');
SELECT code, field, message_en FROM iys.validate_consent('0532 123 45 67', 'MESAJ', 'RET', NULL, NULL, 'TACIR', 'ONAY', at => '2024-03-06 12:00+03');
SELECT pg_temp.sqlstate_of($$SELECT * FROM iys.validate_consent('0532 123 45 67', 'MESAJ', 'RET', 'HS_WEB', '2024-03-05 10:00', previous_date => '2024-03-01', at => '2024-03-06 12:00+03')$$);

-- The IMMUTABLE variant takes the reference instant first and uses the built-in calendar.
SELECT proname, provolatile, proisstrict, proparallel FROM pg_proc
 WHERE oid IN ('iys.validate_consent_at'::regproc, 'iys.validate_consent'::regproc, 'iys.normalize_phone'::regproc, 'iys.reporting_deadline'::regproc)
 ORDER BY proname;
SELECT code FROM iys.validate_consent_at('2024-03-06 12:00+03', 'ali@example.com', 'EPOSTA', 'ONAY', 'HS_WEB', '2024-02-29 10:00');
SELECT iys.validate_consent_at(NULL, 'ali@example.com', 'EPOSTA', 'ONAY', 'HS_WEB', '2024-02-29 10:00');

-- The raising wrapper returns the normalised recipient, or fails with every problem (23514).
SELECT iys.check_consent(' Ali@Example.COM ', 'EPOSTA', 'ONAY', 'hs_web', '2024-03-05 10:00', at => '2024-03-06 12:00+03');
SELECT iys.check_consent('0532', 'MESAJ', 'ONAY', 'WEB', '2024-03-09 10:00', at => '2024-03-06 12:00+03');
SELECT pg_temp.sqlstate_of($$SELECT iys.check_consent('ali@', 'EPOSTA', 'ONAY', 'HS_WEB', '2024-03-05 10:00', at => '2024-03-06 12:00+03')$$);

-- The calendar: weekends, Turkish public holidays, DBA additions.
SELECT count(*) FILTER (WHERE NOT half_day) AS holidays, count(*) FILTER (WHERE half_day) AS half_days,
       min(day), max(day) FROM iys.holiday;
SELECT day, name, half_day FROM iys.holiday WHERE day BETWEEN '2025-06-01' AND '2025-06-30' ORDER BY day;
SELECT iys.reporting_deadline('2024-03-01 15:00') AS fri_to_wed,
       iys.reporting_deadline('2025-06-05 10:00') AS over_kurban_bayrami,
       iys.reporting_deadline('2024-03-04 10:00') AS mon_to_thu;
BEGIN;
INSERT INTO iys.holiday (day, name) VALUES ('2024-03-05', 'idari izin (example)');
SELECT iys.reporting_deadline('2024-03-04 10:00') AS mon_to_fri, iys.is_business_day('2024-03-05');
ROLLBACK;
-- What pg_dump keeps: the holidays a DBA added, and all of pg_iys's state.
SELECT u.config::regclass AS dumped, u.condition
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(config, condition)
 WHERE e.extname = 'pg_iys' ORDER BY u.config::regclass::text;
