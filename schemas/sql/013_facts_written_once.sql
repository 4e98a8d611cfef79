-- The store, version 2: a record's identity features and facts are written once, when its
-- version lands, in typed columns and one compact text; a resident's history is derived from
-- its records' facts (a view), its golden record kept one row per attribute and rewritten only
-- where a change touches it. Merging or splitting residents moves record links, not facts.
--
-- What the merge derives is rebuilt from the landed events: after this migration, run
-- `sanwang rebuild` once before starting processors (deploy/DEPLOYING.md). Steward decisions,
-- resolved conflicts, answered review items, principals, the audit log and the grid reference
-- are kept.

-- Each record's resident before the rebuild, so residents keep their ids through it.
DO $$
BEGIN
    IF EXISTS (SELECT FROM hub.source_links) THEN
        CREATE TABLE hub.source_links_v1 AS SELECT ref, resident_id FROM hub.source_links;
    END IF;
END $$;

DROP FUNCTION hub.resident_as_of(text, date);
DROP VIEW hub.analyst_residents CASCADE;  -- and the population and findings views on it
DROP VIEW hub.attribute_counts_by_grid;
DROP TABLE hub.resident_history;
TRUNCATE hub.source_records, hub.record_keys, hub.match_edges, hub.source_links,
         hub.residents, hub.resident_findings, hub.merge_rechecks, hub.record_relations;
DELETE FROM hub.conflicts WHERE status = 'open';
DELETE FROM hub.review_queue WHERE status = 'open';

-- A landed event as it came, sealed whole (bytes, one pass) instead of a jsonb document with
-- its numbers sealed where they sit; `sanwang rebuild` moves the earlier ones over.
ALTER TABLE hub.events RENAME COLUMN payload TO payload_v1;
ALTER TABLE hub.events ALTER COLUMN payload_v1 DROP NOT NULL,
                       ADD COLUMN payload bytea;

-- A record's current version: identity features in columns (ID numbers sealed, a trusted one
-- also as its lookup hash), its facts as one JSON text read whole when needed.
ALTER TABLE hub.source_records
    DROP COLUMN features, DROP COLUMN observations,
    ADD COLUMN person_key text,
    ADD COLUMN id_sealed text,            -- the valid number it states, sealed
    ADD COLUMN id_hash text,              -- its lookup hash, when the number is trusted
    ADD COLUMN id_suspect boolean NOT NULL DEFAULT false,
    ADD COLUMN id_digits_sealed text,     -- an invalid number's characters, sealed
    ADD COLUMN name text,
    ADD COLUMN pinyin text NOT NULL DEFAULT '',
    ADD COLUMN birth text,
    ADD COLUMN sex text,
    ADD COLUMN phone text,
    ADD COLUMN addresses text[] NOT NULL DEFAULT '{}',  -- as written, in the declared order
    ADD COLUMN facts text NOT NULL DEFAULT '[]';        -- [[attribute, value, valid_from], ...]

-- Why a record belongs to its resident: the rule, score, the record it was matched with and
-- the fields that agreed.
ALTER TABLE hub.source_links DROP COLUMN evidence,
    ADD COLUMN matched_with text,
    ADD COLUMN agreed text[] NOT NULL DEFAULT '{}';

-- Which department owns each attribute (the declarations', written by `sanwang up` and every
-- processor at start): the history and point-in-time reads follow the owner.
CREATE TABLE hub.attribute_owners (
    attribute text PRIMARY KEY,
    owner     text NOT NULL
);

-- The golden record, one row per attribute: the owner's latest value, else the latest
-- observation (authority says which).
ALTER TABLE hub.residents DROP COLUMN attributes;
CREATE TABLE hub.golden_values (
    resident_id text NOT NULL,
    attribute   text NOT NULL,
    value       jsonb NOT NULL,                -- ID numbers in it sealed
    valid_from  text NOT NULL,
    source      text NOT NULL,
    record_ref  text NOT NULL,
    authority   text NOT NULL,                 -- owner | observed | latest
    PRIMARY KEY (resident_id, attribute)
);

-- Every value each attribute had, by valid time: the owner's facts (every department's where
-- no department owns the attribute or the owner never stated it), each until the next.
CREATE VIEW hub.resident_history AS
WITH facts AS (
    SELECT l.resident_id, f.fact ->> 0 AS attribute, f.fact -> 1 AS value,
           f.fact ->> 2 AS valid_from, s.source, s.ref AS record_ref,
           (o.owner IS NULL OR o.owner = s.source) AS owned
      FROM hub.source_records s
      JOIN hub.source_links l ON l.ref = s.ref
     CROSS JOIN LATERAL jsonb_array_elements(s.facts::jsonb) AS f (fact)
      LEFT JOIN hub.attribute_owners o ON o.attribute = f.fact ->> 0
), kept AS (
    SELECT *, bool_or(owned) OVER (PARTITION BY resident_id, attribute) AS any_owned
      FROM facts
)
SELECT resident_id, attribute, value, valid_from,
       lead(valid_from) OVER (PARTITION BY resident_id, attribute
                              ORDER BY valid_from, record_ref) AS valid_to,
       source, record_ref
  FROM kept
 WHERE owned OR NOT any_owned;

CREATE FUNCTION hub.resident_as_of(resident text, as_of date)
RETURNS TABLE (attribute text, value jsonb, valid_from text, source text, record_ref text)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (h.attribute) h.attribute, h.value, h.valid_from, h.source, h.record_ref
      FROM hub.resident_history h
     WHERE h.resident_id = resident AND left(h.valid_from, 10) <= to_char(as_of, 'YYYY-MM-DD')
     ORDER BY h.attribute, h.valid_from DESC, h.record_ref DESC
$$;

-- The analysts' views, as before, on the golden values.
CREATE VIEW hub.analyst_residents AS
SELECT r.resident_id,
       r.id_number_masked,
       r.name, r.sex, r.birth_date,
       date_part('year', age(current_date, hub.birth_day(r.birth_date)))::int AS age,
       r.life_status,
       (SELECT v.value ->> 0 FROM hub.golden_values v
         WHERE v.resident_id = r.resident_id AND v.attribute = 'population_type')
                                                            AS population_type,
       r.grid_code, g.grid_name, g.community, g.township, g.district, g.district_code,
       EXISTS (SELECT 1 FROM hub.golden_values v
                WHERE v.resident_id = r.resident_id AND v.attribute = 'dibao') AS dibao,
       EXISTS (SELECT 1 FROM hub.golden_values v
                WHERE v.resident_id = r.resident_id AND v.attribute = 'disability') AS disability,
       (SELECT count(*) FROM hub.conflicts c
         WHERE c.resident_id = r.resident_id AND c.status = 'open')::int AS open_conflicts
  FROM hub.residents r
  LEFT JOIN hub.grids g ON g.grid_code = r.grid_code;

CREATE VIEW hub.analyst_population AS
SELECT district, township, community, grid_code, grid_name,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased')          AS population,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased' AND sex = 'M') AS male,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased' AND sex = 'F') AS female,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased' AND age < 18) AS age_0_17,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased' AND age BETWEEN 18 AND 59)
                                                                                 AS age_18_59,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased' AND age BETWEEN 60 AND 79)
                                                                                 AS age_60_79,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased' AND age >= 80)
                                                                                 AS elderly_80,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased'
                          AND population_type = 'registered')                    AS registered,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased'
                          AND population_type = 'floating')                      AS floating,
       count(*) FILTER (WHERE life_status = 'deceased')                          AS deceased,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased' AND dibao) AS dibao,
       count(*) FILTER (WHERE life_status IS DISTINCT FROM 'deceased' AND disability)
                                                                                 AS disability,
       sum(open_conflicts)::int                                                  AS open_conflicts
  FROM hub.analyst_residents
 GROUP BY GROUPING SETS ((district), (district, township), (district, township, community),
                         (district, township, community, grid_code, grid_name), ());

CREATE VIEW hub.population_by_district AS
SELECT * FROM hub.analyst_population
 WHERE district IS NOT NULL AND township IS NULL;
CREATE VIEW hub.population_by_township AS
SELECT * FROM hub.analyst_population
 WHERE township IS NOT NULL AND community IS NULL;
CREATE VIEW hub.population_by_community AS
SELECT * FROM hub.analyst_population
 WHERE community IS NOT NULL AND grid_code IS NULL;
CREATE VIEW hub.population_by_grid AS
SELECT * FROM hub.analyst_population WHERE grid_code IS NOT NULL;

CREATE VIEW hub.analyst_findings AS
SELECT f.kind, f.resident_id, a.id_number_masked, a.name, a.grid_code, a.community,
       a.township, a.district, f.since, f.evidence
  FROM hub.findings f JOIN hub.analyst_residents a USING (resident_id);

CREATE VIEW hub.attribute_counts_by_grid AS
SELECT g.district, g.township, g.community, r.grid_code, g.grid_name, v.attribute,
       count(*)::int AS residents
  FROM hub.residents r
  JOIN hub.golden_values v ON v.resident_id = r.resident_id
  LEFT JOIN hub.grids g ON g.grid_code = r.grid_code
 WHERE r.life_status IS DISTINCT FROM 'deceased'
 GROUP BY g.district, g.township, g.community, r.grid_code, g.grid_name, v.attribute;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_analyst') THEN
        GRANT SELECT ON hub.analyst_residents, hub.analyst_population,
                        hub.population_by_district, hub.population_by_township,
                        hub.population_by_community, hub.population_by_grid,
                        hub.analyst_findings, hub.attribute_counts_by_grid TO sanwang_analyst;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_api') THEN
        GRANT SELECT ON hub.golden_values, hub.attribute_owners, hub.resident_history,
                        hub.analyst_residents, hub.analyst_population,
                        hub.population_by_district, hub.population_by_township,
                        hub.population_by_community, hub.population_by_grid,
                        hub.analyst_findings, hub.attribute_counts_by_grid TO sanwang_api;
        GRANT EXECUTE ON FUNCTION hub.resident_as_of(text, date) TO sanwang_api;
    END IF;
END $$;
