-- iys.validate_table: rows of a master_contact-shaped table that IYS would reject.
SET search_path = public;
SET datestyle = ISO;
CREATE TABLE master_contact (
    contact_key text PRIMARY KEY,
    contact_type text,
    email text, email_permission text, email_consent_date timestamp, email_source text,
    gsm text, gsm_permission text, gsm_consent_date text, gsm_source text
);
INSERT INTO master_contact VALUES
  ('c1', 'BIREYSEL', 'ali@example.com', 'ONAY', '2024-03-05 10:00', 'HS_WEB', '0532 123 45 67', 'ONAY', '2024-03-05 10:00:00', 'HS_MESAJ'),
  ('c2', 'bireysel', 'şule@örnek.com', 'ONAY', '2024-03-05 10:00', 'HS_WEB', '+9005321234567', 'RET', '2024-03-05 10:00:00', 'HS_KARAR'),
  ('c3', 'TACIR', NULL, NULL, NULL, NULL, '0212 123 45 67', 'Y', NULL, NULL),
  ('c4', 'KURUMSAL', 'a@b.co', 'MAYBE', '2099-01-01', 'IYS_WEB', '0555 111 22 33', 'true', '05.03.2024 10:00', 'HS_WEB'),
  ('c5', NULL, NULL, 'RET', '2024-03-01 09:00', 'HS_WEB', '5551112233', 'ONAY', '2024-02-30 10:00:00', NULL);
SELECT * FROM iys.validate_table('master_contact', at => '2024-03-06 12:00+03') ORDER BY row_id, channel, code;
-- With the reporting window, another reference time and only the gsm channel.
SELECT row_id, channel, code, field, value FROM iys.validate_table('master_contact', '{"email_permission": null}',
       at => '2024-03-11 12:00+03', check_window => true) ORDER BY row_id, channel, code;
-- Other column names, and an ARAMA (call) channel that reads the gsm number.
CREATE TABLE crm_people (person_id int, kind text, mobile text, sms_ok boolean, sms_at timestamptz, sms_src text);
INSERT INTO crm_people VALUES (1, 'BIREYSEL', '0532 123 45 67', true, '2024-03-05 07:00+00', 'HS_WEB'),
                              (2, 'BIREYSEL', '0212 123 45 67', false, '2024-03-05 07:00+00', 'HS_WEB');
SELECT row_id, channel, code, field, value FROM iys.validate_table('crm_people',
       '{"row_id": "person_id", "contact_type": "kind", "email_permission": null, "gsm": "mobile",
         "gsm_permission": "sms_ok", "gsm_consent_date": "sms_at", "gsm_source": "sms_src",
         "call": "mobile", "call_permission": "sms_ok", "call_consent_date": "sms_at", "call_source": "sms_src"}',
       at => '2024-03-06 12:00+03') ORDER BY 1, 2, 3;
-- Long scans report progress as NOTICEs every progress_rows rows (default 100000; 0 = off).
SELECT count(*) FROM iys.validate_table('master_contact', at => '2024-03-06 12:00+03', progress_rows => 0);
-- Clear errors for wrong mappings.
SELECT * FROM iys.validate_table('crm_people');
SELECT * FROM iys.validate_table('master_contact', '{"gsm": "phone"}');
SELECT * FROM iys.validate_table('master_contact', '{"mail": "email"}');
SELECT * FROM iys.validate_table('master_contact', '{"gsm": 5}');
SELECT * FROM iys.validate_table('master_contact', '{"email_permission": null, "gsm_permission": null}');
SELECT * FROM iys.validate_table('no_such_table');
DROP TABLE master_contact, crm_people;
