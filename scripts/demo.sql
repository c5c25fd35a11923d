-- pg_iys demo: grows as features land.
DROP EXTENSION IF EXISTS pg_iys CASCADE;
CREATE EXTENSION pg_iys;
DROP TABLE IF EXISTS master_contact;
CREATE TABLE master_contact (
    contact_id          bigserial PRIMARY KEY,
    contact_type        text DEFAULT 'BIREYSEL',
    email               text,
    email_permission    text,
    email_consent_date  timestamp,
    email_source        text,
    gsm                 text,
    gsm_permission      text,
    gsm_consent_date    timestamp,
    gsm_source          text
);
-- The background worker is up and connected to this database.
SELECT pid IS NOT NULL AS worker_running, database, application_name FROM iys.worker_status();
SELECT name, setting, unit FROM pg_settings WHERE name LIKE 'iys.%' ORDER BY name;
