-- The small-cell rule in every view analysts read: below the township level (村社区, 网格) a
-- count of 1..k is withheld (NULL), so that no aggregate singles a person out. k is
-- deploy/settings.py small_cell_k, written here by `sanwang up` and by an indicator refresh.
-- Also: what a processor needs to keep the indicators current (changes_seen).
-- Per-person rows stay readable to analysts (masked), but placed no finer than the township:
-- with a resident's grid or community in hand, any withheld count below it could be recounted.
CREATE TABLE hub.small_cell_rule (
    id integer PRIMARY KEY CHECK (id = 1),
    k  integer NOT NULL CHECK (k >= 0)
);
INSERT INTO hub.small_cell_rule (id, k)
SELECT 1, coalesce((SELECT small_cell_k FROM hub.indicator_refresh), 3);

-- A count as analysts may see it at `level`: NULL when the rule withholds it.
CREATE FUNCTION hub.small_cell(level text, n integer) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN level IN ('community', 'grid')
                 AND n BETWEEN 1 AND (SELECT k FROM hub.small_cell_rule) THEN NULL ELSE n END
$$;

DROP VIEW hub.analyst_indicators;
ALTER TABLE hub.indicator_refresh DROP COLUMN small_cell_k;  -- hub.small_cell_rule holds it
-- How long the change feed was at the refresh: a processor refreshes again once it grew.
ALTER TABLE hub.indicator_refresh ADD COLUMN changes_seen bigint NOT NULL DEFAULT 0;
CREATE VIEW hub.analyst_indicators AS
SELECT level, unit_code, unit_name, parent_code, indicator, month,
       hub.small_cell(level, value) AS value,
       hub.small_cell(level, value) IS NULL AS withheld
  FROM hub.indicators;

DROP VIEW hub.analyst_residents CASCADE;  -- and the population and findings views on it

-- Every resident with what the counts need, down to the grid: read by the views below only.
CREATE VIEW hub.resident_profile AS
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

-- Analysts' per-person rows: ID number masked, placed to the township (code: the grid code's
-- first 9 digits).
CREATE VIEW hub.analyst_residents AS
SELECT resident_id, id_number_masked, name, sex, birth_date, age, life_status, population_type,
       left(grid_code, 9) AS township_code, township, district, district_code,
       dibao, disability, open_conflicts
  FROM hub.resident_profile;

CREATE VIEW hub.analyst_population AS
SELECT district, township, community, grid_code, grid_name,
       hub.small_cell(level, population) AS population, hub.small_cell(level, male) AS male,
       hub.small_cell(level, female) AS female, hub.small_cell(level, age_0_17) AS age_0_17,
       hub.small_cell(level, age_18_59) AS age_18_59,
       hub.small_cell(level, age_60_79) AS age_60_79,
       hub.small_cell(level, elderly_80) AS elderly_80,
       hub.small_cell(level, registered) AS registered,
       hub.small_cell(level, floating) AS floating, hub.small_cell(level, deceased) AS deceased,
       hub.small_cell(level, dibao) AS dibao, hub.small_cell(level, disability) AS disability,
       hub.small_cell(level, open_conflicts) AS open_conflicts
  FROM (
    SELECT district, township, community, grid_code, grid_name,
           CASE WHEN GROUPING(grid_code) = 0 THEN 'grid'
                WHEN GROUPING(community) = 0 THEN 'community'
                WHEN GROUPING(township) = 0 THEN 'township'
                WHEN GROUPING(district) = 0 THEN 'district' ELSE 'all' END AS level,
           count(*) FILTER (WHERE living)::int                              AS population,
           count(*) FILTER (WHERE living AND sex = 'M')::int                AS male,
           count(*) FILTER (WHERE living AND sex = 'F')::int                AS female,
           count(*) FILTER (WHERE living AND age < 18)::int                 AS age_0_17,
           count(*) FILTER (WHERE living AND age BETWEEN 18 AND 59)::int    AS age_18_59,
           count(*) FILTER (WHERE living AND age BETWEEN 60 AND 79)::int    AS age_60_79,
           count(*) FILTER (WHERE living AND age >= 80)::int                AS elderly_80,
           count(*) FILTER (WHERE living AND population_type = 'registered')::int AS registered,
           count(*) FILTER (WHERE living AND population_type = 'floating')::int   AS floating,
           count(*) FILTER (WHERE NOT living)::int                          AS deceased,
           count(*) FILTER (WHERE living AND dibao)::int                    AS dibao,
           count(*) FILTER (WHERE living AND disability)::int               AS disability,
           sum(open_conflicts)::int                                         AS open_conflicts
      FROM (SELECT *, life_status IS DISTINCT FROM 'deceased' AS living
              FROM hub.resident_profile) p
     GROUP BY GROUPING SETS ((district), (district, township), (district, township, community),
                             (district, township, community, grid_code, grid_name), ())
  ) counted;

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
SELECT f.kind, f.resident_id, a.id_number_masked, a.name, a.township_code, a.township,
       a.district, f.since, f.evidence
  FROM hub.findings f JOIN hub.analyst_residents a USING (resident_id);

DROP VIEW hub.attribute_counts_by_grid;
CREATE VIEW hub.attribute_counts_by_grid AS
SELECT g.district, g.township, g.community, r.grid_code, g.grid_name, v.attribute,
       hub.small_cell('grid', count(*)::int) AS residents
  FROM hub.residents r
  JOIN hub.golden_values v ON v.resident_id = r.resident_id
  LEFT JOIN hub.grids g ON g.grid_code = r.grid_code
 WHERE r.life_status IS DISTINCT FROM 'deceased'
 GROUP BY g.district, g.township, g.community, r.grid_code, g.grid_name, v.attribute;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_analyst') THEN
        -- a resident's grid, read row by row, would give back every withheld count
        REVOKE SELECT (grid_code) ON hub.residents FROM sanwang_analyst;
        GRANT SELECT ON hub.small_cell_rule, hub.analyst_indicators, hub.analyst_residents,
                        hub.analyst_population, hub.population_by_district,
                        hub.population_by_township, hub.population_by_community,
                        hub.population_by_grid, hub.analyst_findings,
                        hub.attribute_counts_by_grid TO sanwang_analyst;
        GRANT EXECUTE ON FUNCTION hub.small_cell(text, integer) TO sanwang_analyst;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_api') THEN
        GRANT SELECT ON hub.small_cell_rule, hub.analyst_indicators, hub.analyst_residents,
                        hub.analyst_population, hub.population_by_district,
                        hub.population_by_township, hub.population_by_community,
                        hub.population_by_grid, hub.analyst_findings,
                        hub.attribute_counts_by_grid TO sanwang_api;
    END IF;
END $$;
