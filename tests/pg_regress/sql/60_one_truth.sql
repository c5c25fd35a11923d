-- One mapping, one truth: iys.validate_table reports exactly the rows (and channels) the row
-- trigger refuses or keeps back. A messy table of 720 rows in a company's own vocabulary is
-- checked by validate_table, then inserted row by row into an attached copy (on_invalid 'keep');
-- both verdicts are compared channel by channel. Every difference would be listed below.
SET search_path = public;
SET datestyle = ISO;
INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700006', 'http://127.0.0.1:9', 'u', 'p');
INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600006', '700006');
CREATE TABLE crm_messy (
    id int PRIMARY KEY, tur text, marka text, bayi text,
    e_posta text, eposta_izin boolean, eposta_tarih timestamptz, eposta_kaynak text,
    cep varchar(20), sms_izin char(1), sms_tarih date, arama_izin varchar(10), arama_tarih timestamp,
    kaynak text, yabanci boolean);
-- Each column cycles through its own list of values (list lengths are coprime, so the 720
-- rows hold every combination of neighbouring columns).
INSERT INTO crm_messy
SELECT i,
       (ARRAY[NULL, 'B', 'Şahıs', 'T', 'firma', 'KURUM', ''])[1 + i % 7],
       (ARRAY[NULL, '600006', 'ABC', NULL, ' 600006 '])[1 + i % 5],
       (ARRAY[NULL, '12345678', '123', NULL, '', '87654321 '])[1 + i % 6],
       (ARRAY[NULL, 'ali@example.com', 'Ayşe@Örnek.com', 'bad@', ' VELI@EXAMPLE.COM ', 'a@b.co'])[1 + i % 6],
       (ARRAY[NULL, true, false, true])[1 + i % 4],
       (ARRAY[NULL, now() - interval '1 hour', now() + interval '2 days', '2020-01-01 10:00+03', now() - interval '30 days'])[1 + i % 5],
       (ARRAY[NULL, 'web', 'Mağaza', 'HS_WEB', 'fuar', 'HS_2015', 'web'])[1 + i % 7],
       (ARRAY[NULL, '05321234567', '0212 555 44 33', '+44 20 7946 0958', '5551234', '0532 123 45 6x', '+90 (533) 111 22 33'])[1 + (i / 3) % 7],
       (ARRAY[NULL, 'E', 'H', 'e', 'Y', 'h', 'E'])[1 + (i / 2) % 7],
       (ARRAY[NULL, current_date, current_date + 3, '2019-05-05'::date, current_date])[1 + (i / 5) % 5],
       (ARRAY[NULL, 'EVET', 'hayır', 'x', NULL])[1 + (i / 7) % 5],
       (ARRAY[NULL, (now() AT TIME ZONE 'Europe/Istanbul') - interval '1 hour', (now() AT TIME ZONE 'Europe/Istanbul') - interval '30 days'])[1 + (i / 11) % 3],
       (ARRAY[NULL, 'web', 'HS_MESAJ', 'mağaza', 'kampanya'])[1 + (i / 13) % 5],
       (ARRAY[NULL, false, false, false, false, false, false, false, false, false, false, true])[1 + i % 12]
  FROM generate_series(1, 720) AS i;
\set mapping '{"contact_type": "tur", "contact_type_values": {"BIREYSEL": ["B", "Şahıs"], "TACIR": ["T", "Firma"]}, "brand_column": "marka", "retailer_code": "bayi", "local_only": "yabanci", "email": "e_posta", "email_permission": "eposta_izin", "email_consent_date": "eposta_tarih", "email_source": "eposta_kaynak", "email_source_values": {"web": "HS_WEB", "mağaza": "HS_FIZIKSEL_ORTAM"}, "gsm": "cep", "gsm_permission": "sms_izin", "gsm_consent_date": "sms_tarih", "gsm_source": "kaynak", "gsm_permission_values": {"ONAY": "E", "RET": "H"}, "gsm_source_values": {"web": "HS_WEB", "*": "HS_FIZIKSEL_ORTAM"}, "call_permission": "arama_izin", "call_consent_date": "arama_tarih", "call_source": "kaynak", "call_permission_values": {"ONAY": ["EVET", "E"], "RET": ["HAYIR", "H"]}, "call_source_values": {"web": "HS_WEB", "*": "HS_FIZIKSEL_ORTAM"}}'
-- validate_table's verdict (with the reporting window, as a trigger checks a new row now). The
-- table is attached first (its rows stay as they are): validate_table then reads it with the
-- attachment's mapping and default brand, as the triggers do.
SELECT iys.attach('crm_messy', '600006', :'mapping', on_invalid => 'keep');
CREATE TEMP TABLE reported AS
SELECT row_id::int AS id, channel, code, field FROM iys.validate_table('crm_messy', check_window => true);
-- The trigger's verdict: every row inserted on its own into an attached copy.
CREATE TABLE crm_copy (LIKE crm_messy INCLUDING ALL);
SELECT * FROM iys.attach('crm_copy', '600006', :'mapping', on_invalid => 'keep');
CREATE TEMP TABLE refused (id int, message text);
SET client_min_messages = error;  -- the keep-mode warnings of 720 inserts
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id FROM crm_messy ORDER BY id LOOP
    BEGIN
      INSERT INTO crm_copy SELECT * FROM crm_messy WHERE id = r.id;
    EXCEPTION WHEN others THEN
      INSERT INTO refused VALUES (r.id, SQLERRM);
    END;
  END LOOP;
END $$;
RESET client_min_messages;
-- A channel is kept back when its permission or date did not get stored as given.
CREATE TEMP TABLE kept_back AS
SELECT m.id, k.channel
  FROM crm_messy m JOIN crm_copy c USING (id),
  LATERAL (VALUES
    ('EPOSTA', (m.eposta_izin IS NOT NULL AND c.eposta_izin IS NULL) OR (m.eposta_tarih IS NOT NULL AND c.eposta_tarih IS NULL)),
    ('MESAJ', (m.sms_izin IS NOT NULL AND c.sms_izin IS NULL) OR (m.sms_tarih IS NOT NULL AND c.sms_tarih IS NULL)),
    ('ARAMA', (m.arama_izin IS NOT NULL AND c.arama_izin IS NULL) OR (m.arama_tarih IS NOT NULL AND c.arama_tarih IS NULL))
  ) AS k(channel, kept)
 WHERE k.kept;
-- The table is messy enough to mean something:
SELECT (SELECT count(*) FROM crm_messy) AS rows,
       (SELECT count(*) FROM refused) AS refused_rows,
       (SELECT count(*) FROM kept_back) AS kept_back_channels,
       (SELECT count(DISTINCT id) FROM reported) AS reported_rows,
       (SELECT count(*) FROM iys.outbox WHERE source_table = 'crm_copy'::regclass) AS queued_movements;
SELECT code, count(*) FROM reported GROUP BY code ORDER BY code;
-- Channels the trigger kept back that validate_table passed, and the reverse: none.
(SELECT id, channel, 'kept back, not reported' AS difference FROM kept_back
 EXCEPT SELECT id, channel, 'kept back, not reported' FROM reported WHERE channel IS NOT NULL)
UNION ALL
(SELECT id, channel, 'reported, not kept back' FROM reported WHERE channel IS NOT NULL AND id NOT IN (SELECT id FROM refused)
 EXCEPT SELECT id, channel, 'reported, not kept back' FROM kept_back)
ORDER BY 1, 2;
-- Rows the trigger refused, and the rows validate_table reports as refused (channel NULL: an
-- opt-out with no brand to go to, which keep mode cannot hold back): the same rows.
(SELECT id, 'refused, not reported' AS difference FROM refused
 EXCEPT SELECT id, 'refused, not reported' FROM reported WHERE channel IS NULL AND code <> 'H116')
UNION ALL
(SELECT id, 'reported, not refused' FROM reported WHERE channel IS NULL AND code <> 'H116'
 EXCEPT SELECT id, 'reported, not refused' FROM refused)
ORDER BY 1;
SELECT DISTINCT regexp_replace(message, '"[^"]*"', '"…"', 'g') AS refusal FROM refused ORDER BY 1;
-- An opt-out under a contact type IYS would refuse still goes (as the table's default type).
-- Its address is normalised even where the SMS channel of the same phone was kept back.
SELECT c.tur, c.cep, o.consent_type, o.recipient, o.status, o.recipient_type
  FROM crm_copy c JOIN iys.outbox o ON o.source_table = 'crm_copy'::regclass AND o.source_key = c.id::text
 WHERE c.tur = 'KURUM' ORDER BY c.id, o.consent_type LIMIT 4;
-- What the copy stored passes validate_table (read with the copy's own attachment), but for the
-- contact types a keep-mode INSERT stores as they were typed.
SELECT code, count(*) FROM iys.validate_table('crm_copy', check_window => true) GROUP BY code ORDER BY code;
-- on_invalid 'keep' never fails a statement later: one UPDATE pours the messy values over every
-- stored row (in reverse order, so old and new values differ). Bad retailer codes stay: the
-- consents of those rows are held back, their opt-outs go without the retailer.
SELECT max(id) AS last_before FROM iys.outbox \gset
SET client_min_messages = error;  -- row warnings name values that move with the clock
UPDATE crm_copy c
   SET (tur, marka, e_posta, eposta_izin, eposta_tarih, eposta_kaynak, cep, sms_izin, sms_tarih, arama_izin, arama_tarih, kaynak)
     = (SELECT m.tur, NULL, m.e_posta, m.eposta_izin, m.eposta_tarih, m.eposta_kaynak, m.cep, m.sms_izin, m.sms_tarih,
               m.arama_izin, m.arama_tarih, m.kaynak FROM crm_messy m WHERE m.id = 721 - c.id);
RESET client_min_messages;
SELECT o.status, quote_nullable(c.bayi) AS bayi, o.retailer_code, count(*) AS queued
  FROM iys.outbox o JOIN crm_copy c ON o.source_table = 'crm_copy'::regclass AND o.source_key = c.id::text
 WHERE o.id > :last_before
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
CREATE TABLE text_dates (id int PRIMARY KEY, gsm text, gsm_permission text, gsm_consent_date text, gsm_source text);
INSERT INTO text_dates VALUES (1, '05321234567', 'ONAY', '2024-13-01 10:00:00', 'HS_WEB');
SELECT row_id, channel, code, field, value, message_en FROM iys.validate_table('text_dates', '{"contact_type": null, "email": null}') ORDER BY 1 NULLS FIRST, 3;
-- detach answers true (and a table that is not attached is an error).
SELECT iys.detach('crm_messy');
SELECT iys.detach('crm_messy');
