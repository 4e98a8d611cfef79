-- ID numbers are no longer stored in clear (streams/id_protection.py): a resident's number is
-- sealed (AES-GCM, under a key the database never sees), found by its keyed hash (HMAC-SHA256)
-- and shown masked. Only the hub's processes hold the keys; analysts and grid workers read the
-- masked form and are granted neither the sealed value nor the hash.
-- A store written before this migration: `sanwang ids rekey` seals what it holds in clear
-- (see deploy/DEPLOYING.md).
ALTER TABLE hub.residents ADD COLUMN id_number_sealed text,
                          ADD COLUMN id_number_hash   text,
                          ADD COLUMN id_number_masked text;
CREATE INDEX residents_id_number_hash ON hub.residents (id_number_hash);

CREATE OR REPLACE VIEW hub.analyst_residents AS
SELECT r.resident_id,
       r.id_number_masked,
       r.name, r.sex, r.birth_date,
       date_part('year', age(current_date, hub.birth_day(r.birth_date)))::int AS age,
       r.life_status,
       r.attributes -> 'population_type' ->> 'value'        AS population_type,
       r.grid_code, g.grid_name, g.community, g.township, g.district, g.district_code,
       r.attributes ? 'dibao'                               AS dibao,
       r.attributes ? 'disability'                          AS disability,
       (SELECT count(*) FROM hub.conflicts c
         WHERE c.resident_id = r.resident_id AND c.status = 'open')::int AS open_conflicts
  FROM hub.residents r
  LEFT JOIN hub.grids g ON g.grid_code = r.grid_code;

ALTER TABLE hub.residents DROP COLUMN id_number;
DROP FUNCTION hub.mask_id(text);

-- Grid workers see their residents' numbers masked, like analysts.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_grid_worker') THEN
        GRANT SELECT (id_number_masked) ON hub.residents TO sanwang_grid_worker;
    END IF;
END $$;
