-- Attaching a table in its own vocabulary: a boolean e-mail consent, an E/H SMS consent in
-- char(1), a date-only SMS date, one free-text source column for both channels.
SET search_path = public;
SET datestyle = ISO;
INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700002', 'http://127.0.0.1:9', 'u', 'p');
INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600002', '700002');
CREATE TABLE customers (id int PRIMARY KEY, e_posta varchar(320), eposta_izin boolean, eposta_izin_tarihi timestamp,
                        cep_tel varchar(20), sms_izin char(1), sms_izin_tarihi date, kaynak text, yabanci boolean);
-- char(1) cannot hold ONAY/RET: attach asks for a map; a map on a boolean is refused too.
SELECT iys.attach('customers', '600002', '{"contact_type": null, "email": "e_posta", "email_permission": "eposta_izin",
  "email_consent_date": "eposta_izin_tarihi", "email_source": "kaynak", "gsm": "cep_tel", "gsm_permission": "sms_izin",
  "gsm_consent_date": "sms_izin_tarihi", "gsm_source": "kaynak"}');
SELECT iys.attach('customers', '600002', '{"contact_type": null, "email": "e_posta", "email_permission": "eposta_izin",
  "email_consent_date": "eposta_izin_tarihi", "email_source": "kaynak", "gsm": "cep_tel", "gsm_permission": "sms_izin",
  "gsm_consent_date": "sms_izin_tarihi", "gsm_source": "kaynak", "email_permission_values": {"ONAY": "E", "RET": "H"}}');
SELECT iys.attach('customers', '600002', '{"contact_type": null, "email": "e_posta", "email_permission": "eposta_izin",
  "email_consent_date": "eposta_izin_tarihi", "email_source": "kaynak", "gsm": "cep_tel", "gsm_permission": "sms_izin",
  "gsm_consent_date": "sms_izin_tarihi", "gsm_source": "kaynak", "local_only": "yabanci",
  "gsm_permission_values": {"ONAY": ["E", "Evet"], "RET": ["H", "Hayır"]},
  "gsm_source_values": {"web sitesi": "HS_WEB", "mağaza": "HS_FIZIKSEL_ORTAM", "*": "HS_ETKINLIK"},
  "email_source_values": {"web sitesi": "HS_WEB", "mağaza": "HS_FIZIKSEL_ORTAM", "*": "HS_ETKINLIK"}}');
INSERT INTO customers VALUES
  (1, 'Ayse@Example.com', true, now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', '0532 111 22 33', 'e', current_date, ' MAĞAZA ', false),
  (2, NULL, NULL, NULL, '0212 555 44 33', NULL, NULL, 'web sitesi', NULL),
  (3, 'zeynep@example.com', false, now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', NULL, NULL, NULL, 'fuar', NULL),
  (4, NULL, NULL, NULL, '+44 20 7946 0958', 'E', current_date, 'web sitesi', true);
SELECT id, e_posta, eposta_izin, cep_tel, sms_izin, kaynak FROM customers ORDER BY id;
SELECT recipient, consent_type, status, source, source_key FROM iys.outbox WHERE brand_code = '600002' ORDER BY id;
-- A value outside the map names the map.
INSERT INTO customers (id, cep_tel, sms_izin, sms_izin_tarihi, kaynak) VALUES (5, '05321112234', 'Y', current_date, 'web sitesi');
-- validate_table reads the table as the triggers do, with the same mapping.
UPDATE customers SET yabanci = true WHERE id = 3;
SELECT row_id, channel, code, field, value FROM iys.validate_table('customers', '{"contact_type": null, "email": "e_posta",
  "email_permission": "eposta_izin", "email_consent_date": "eposta_izin_tarihi", "email_source": "kaynak", "gsm": "cep_tel",
  "gsm_permission": "sms_izin", "gsm_consent_date": "sms_izin_tarihi", "gsm_source": "kaynak", "local_only": "yabanci",
  "gsm_permission_values": {"ONAY": ["E", "Evet"], "RET": ["H", "Hayır"]},
  "gsm_source_values": {"web sitesi": "HS_WEB", "mağaza": "HS_FIZIKSEL_ORTAM", "*": "HS_ETKINLIK"},
  "email_source_values": {"web sitesi": "HS_WEB", "mağaza": "HS_FIZIKSEL_ORTAM", "*": "HS_ETKINLIK"}}') ORDER BY 1, 2, 3;
-- Without the maps, the same table fails where the triggers would.
SELECT row_id, channel, code, field, value FROM iys.validate_table('customers', '{"contact_type": null, "email": "e_posta",
  "email_permission": "eposta_izin", "email_consent_date": "eposta_izin_tarihi", "email_source": "kaynak", "gsm": "cep_tel",
  "gsm_permission": "sms_izin", "gsm_consent_date": "sms_izin_tarihi", "gsm_source": "kaynak"}') ORDER BY 1, 2, 3;
-- A schema change that breaks the mapping is refused at once; others pass.
ALTER TABLE customers RENAME COLUMN sms_izin TO sms;
ALTER TABLE customers ALTER COLUMN sms_izin_tarihi TYPE text;
ALTER TABLE customers ADD COLUMN note text;
ALTER TABLE customers DROP COLUMN note;
-- Contact types in the table's own words, and the type of rows without one (a firm table).
CREATE TABLE firms (id int PRIMARY KEY, tur text, gsm text, gsm_permission text, gsm_consent_date timestamp, gsm_source text);
SELECT iys.attach('firms', '600002', '{"contact_type": "tur", "email": null,
  "contact_type_values": {"BIREYSEL": "Şahıs", "TACIR": ["Firma", "Şirket"]}, "recipient_type": "TACIR"}');
INSERT INTO firms VALUES
  (1, 'FİRMA', '05551112233', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB'),
  (2, NULL, '05551112234', 'ONAY', NULL, NULL),
  (3, ' şahıs ', '05551112235', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB');
SELECT recipient, recipient_type FROM iys.outbox WHERE source_table = 'firms'::regclass ORDER BY recipient;
INSERT INTO firms VALUES (4, 'Kurum', '05551112236', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB');
-- No source column: a fixed source per channel (`*` of its source map); without one, attach says how.
CREATE TABLE shop_visitors (id int PRIMARY KEY, gsm text, gsm_permission text, gsm_consent_date timestamp);
SELECT iys.attach('shop_visitors', '600002', '{"contact_type": null, "email": null, "gsm_source": null}');
SELECT iys.attach('shop_visitors', '600002', '{"contact_type": null, "email": null, "gsm_source": null,
  "gsm_source_values": {"*": "HS_FIZIKSEL_ORTAM"}}');
INSERT INTO shop_visitors VALUES (1, '05551112240', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour');
SELECT recipient, status, source FROM iys.outbox WHERE source_table = 'shop_visitors'::regclass;
SELECT count(*) AS problems FROM iys.validate_table('shop_visitors', '{"contact_type": null, "email_permission": null, "gsm_source": null,
  "gsm_source_values": {"*": "HS_FIZIKSEL_ORTAM"}}');
