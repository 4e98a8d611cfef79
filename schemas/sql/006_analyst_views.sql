-- What analysts read: residents with the ID number masked, and counts by each of the four grid
-- levels. The analysts' role may read these views and only the non-identifying columns of
-- hub.residents: it cannot select raw ID numbers, whatever query it writes.
ALTER TABLE hub.residents ADD COLUMN id_number text;  -- the owner's valid number

CREATE FUNCTION hub.mask_id(id_number text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN id_number IS NULL THEN NULL
                ELSE left(id_number, 6) || '********' || right(id_number, 4) END
$$;

CREATE VIEW hub.analyst_residents AS
SELECT r.resident_id,
       hub.mask_id(r.id_number)                             AS id_number_masked,
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

-- One view per level (区县 / 乡镇街道 / 村社区 / 网格), as analysts name them.
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

-- Findings for analysts: who (masked), what, since; evidence record ids only.
CREATE VIEW hub.analyst_findings AS
SELECT f.kind, f.resident_id, a.id_number_masked, a.name, a.grid_code, a.community,
       a.township, a.district, f.since, f.evidence
  FROM hub.findings f JOIN hub.analyst_residents a USING (resident_id);

-- The analysts' role (created by `sanwang up`; on an external database by its administrator).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_analyst') THEN
        GRANT SELECT ON hub.analyst_residents, hub.analyst_population,
                        hub.population_by_district, hub.population_by_township,
                        hub.population_by_community, hub.population_by_grid,
                        hub.analyst_findings, hub.grids TO sanwang_analyst;
        GRANT SELECT (resident_id, name, sex, birth_date, life_status, grid_code, record_count,
                      updated_at) ON hub.residents TO sanwang_analyst;
        GRANT EXECUTE ON FUNCTION hub.mask_id(text), hub.birth_day(text) TO sanwang_analyst;
    END IF;
END $$;
