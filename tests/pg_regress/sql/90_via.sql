-- İLETİ ViA: a consent request is checked by IYS's ViA rules before it is queued, every problem
-- with IYS's code (IYS's document: startViaRequest's examples and error table).
SET search_path = public;
-- Requests IYS takes: an SMS short link for calls and messages, an e-mail one-time code for
-- e-mail with the KVK texts.
SELECT count(*) AS problems FROM iys.validate_via_request('0532 123 45 67', 'SMS_SHORTURL', 1, ARRAY['MESAJ', 'ARAMA'], ARRAY['600001']);
SELECT count(*) AS problems FROM iys.validate_via_request('Ali@Example.com', 'EPOSTA_OTP', 7, ARRAY['EPOSTA'], ARRAY['600001'],
       kvk_types => ARRAY['AYDINLATMA_METNI', 'ACIK_RIZA_METNI'], person_name => 'Ali Veli', person_id_number => '10000000146');
-- One problem each: the verification type (H1012), the recipient for the channel (H1026 SMS needs
-- a phone, H1027 e-mail needs an address), a type the channel cannot carry (H1086), an unknown
-- type (H1085), a type twice (H1061), the recipient type (H1063), a brand code that is not a
-- number (H1029), no form (H1005), KVK without a name (H1090), a malformed identity number (H1096).
SELECT t.example, v.code, v.field, v.value
  FROM (VALUES
    ('verification',    '+905321234567',   'SMS_LINK',        1,    ARRAY['MESAJ'],          ARRAY['600001'], 'BIREYSEL', NULL,                        NULL,       NULL),
    ('sms to e-mail',   'ali@example.com', 'SMS_OTP',         1,    ARRAY['MESAJ'],          ARRAY['600001'], 'BIREYSEL', NULL,                        NULL,       NULL),
    ('e-mail to phone', '+905321234567',   'EPOSTA_SHORTURL', 1,    ARRAY['EPOSTA'],         ARRAY['600001'], 'BIREYSEL', NULL,                        NULL,       NULL),
    ('eposta by sms',   '+905321234567',   'SMS_SHORTURL',    1,    ARRAY['EPOSTA'],         ARRAY['600001'], 'BIREYSEL', NULL,                        NULL,       NULL),
    ('unknown type',    '+905321234567',   'SMS_SHORTURL',    1,    ARRAY['FAKS'],           ARRAY['600001'], 'BIREYSEL', NULL,                        NULL,       NULL),
    ('type twice',      '+905321234567',   'SMS_SHORTURL',    1,    ARRAY['MESAJ', 'mesaj'], ARRAY['600001'], 'BIREYSEL', NULL,                        NULL,       NULL),
    ('recipient type',  '+905321234567',   'SMS_SHORTURL',    1,    ARRAY['MESAJ'],          ARRAY['600001'], 'KURUMSAL', NULL,                        NULL,       NULL),
    ('brand code',      '+905321234567',   'SMS_SHORTURL',    1,    ARRAY['MESAJ'],          ARRAY['60A001'], 'BIREYSEL', NULL,                        NULL,       NULL),
    ('no form',         '+905321234567',   'SMS_SHORTURL',    NULL, ARRAY['MESAJ'],          ARRAY['600001'], 'BIREYSEL', NULL,                        NULL,       NULL),
    ('kvk name',        '+905321234567',   'SMS_SHORTURL',    1,    NULL,                    NULL,            'BIREYSEL', ARRAY['AYDINLATMA_METNI'],   NULL,       NULL),
    ('identity number', '+905321234567',   'SMS_SHORTURL',    1,    NULL,                    NULL,            'BIREYSEL', ARRAY['YURTDISI_AKTARIM'],   'Ali Veli', '12345678901')
  ) AS t(example, recipient, verification, form, etk, brands, rtype, kvk, person, id_number)
  CROSS JOIN LATERAL iys.validate_via_request(t.recipient, t.verification, t.form, t.etk, t.brands, t.rtype, t.kvk, t.person, t.id_number) v
 ORDER BY 1, 2;
-- Nothing asked for at all (H1057), and the Turkish text IYS answers with.
SELECT code, field, message_tr FROM iys.validate_via_request('+905321234567', 'SMS_OTP', 1);
-- The raising wrapper behind iys.request_via_consent names every problem.
SELECT iys.request_via_consent('ali@example.com', 'SMS_SHORTURL', 1, ARRAY['EPOSTA'], ARRAY['600001']);
