-- The small-cell rule, closed against differencing: a withheld count must not come back as its
-- parent's count less its shown siblings' (complementary suppression, as official statistics
-- do it). hub.withheld_cells is the rule, in one place; the analysts' count views and the
-- indicator refresh apply it. docs/indicators.md, "The small-cell rule everywhere".

-- One count of one measure for one unit; parent_code: the unit one level up.
CREATE TYPE hub.count_cell AS (
    level text, unit_code text, parent_code text, measure text, value integer
);

-- The cells of `cells` an analyst may not see, k being the rule's. `cells`: one table of counts
-- (community and grid cells, zeros included, each measure apart). Withheld:
--   * primary: a community or grid count of 1..k;
--   * complementary, within the children of one parent and measure: when the parent is shown
--     and its withheld children would be one cell, or several adding up to no more than k, the
--     smallest other child (a non-zero one if there is any), so that the parent less the shown
--     children gives back no single count and no total of 1..k; when the parent is itself
--     withheld as a complement and none of its children is, its smallest child, so that its
--     children do not add up to it.
-- Townships and districts are shown, so communities are decided first, then grids. Ties go to
-- the lower unit code: the same counts are withheld alike in every view.
CREATE FUNCTION hub.withheld_cells(cells hub.count_cell[], k integer)
RETURNS TABLE (level text, unit_code text, measure text)
LANGUAGE sql IMMUTABLE
SET enable_nestloop = off  -- the planner cannot size unnest(cells): it would loop per cell
AS $$
WITH cell AS (
    SELECT c.*, c.value BETWEEN 1 AND k AS small FROM unnest(cells) c
), community AS (
    SELECT c.unit_code, c.measure, c.value,
           c.small OR (row_number() OVER pick = 1 AND NOT c.small
                       AND (count(*) FILTER (WHERE c.small) OVER family = 1
                            OR (count(*) FILTER (WHERE c.small) OVER family > 1
                                AND sum(c.value) FILTER (WHERE c.small) OVER family <= k)))
               AS withheld
      FROM cell c
     WHERE c.level = 'community'
    WINDOW family AS (PARTITION BY c.parent_code, c.measure),
           pick AS (PARTITION BY c.parent_code, c.measure
                    ORDER BY c.small, c.value = 0, c.value, c.unit_code)
), grid AS (
    SELECT c.unit_code, c.measure,
           c.small OR (row_number() OVER pick = 1 AND NOT c.small
                       AND CASE WHEN coalesce(p.withheld, false)
                                THEN count(*) FILTER (WHERE c.small) OVER family = 0
                                ELSE count(*) FILTER (WHERE c.small) OVER family = 1
                                     OR (count(*) FILTER (WHERE c.small) OVER family > 1
                                         AND sum(c.value) FILTER (WHERE c.small) OVER family
                                             <= k) END) AS withheld
      FROM cell c
      LEFT JOIN community p ON p.unit_code = c.parent_code AND p.measure = c.measure
     WHERE c.level = 'grid'
    WINDOW family AS (PARTITION BY c.parent_code, c.measure),
           pick AS (PARTITION BY c.parent_code, c.measure
                    ORDER BY c.small, c.value = 0, c.value, c.unit_code)
)
SELECT 'community', unit_code, measure FROM community WHERE withheld
UNION ALL
SELECT 'grid', unit_code, measure FROM grid WHERE withheld
$$;

-- A count as shown: NULL when its measure is among the unit's withheld ones.
CREATE FUNCTION hub.shown(value integer, measure text, withheld text[]) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN measure = ANY(withheld) THEN NULL ELSE value END
$$;

-- hub.indicators: which counts the rule withholds, decided at each refresh (and again when k
-- changes) over every community and grid, each indicator and month apart. A withheld 0 is a
-- row too, so that it reads as withheld rather than as a count of 0.
ALTER TABLE hub.indicators ADD COLUMN withheld boolean NOT NULL DEFAULT false;

CREATE FUNCTION hub.mark_withheld_indicators() RETURNS void
LANGUAGE sql AS $$
DELETE FROM hub.indicators WHERE value = 0;
UPDATE hub.indicators SET withheld = false WHERE withheld;
WITH unit AS (
    SELECT DISTINCT level, unit_code, unit_name, parent_code
      FROM hub.indicators WHERE level IN ('community', 'grid')
), cell AS (
    SELECT u.level, u.unit_code, u.unit_name, u.parent_code, m.indicator, m.month,
           coalesce(i.value, 0) AS value
      FROM unit u
     CROSS JOIN (SELECT DISTINCT indicator, month FROM hub.indicators) m
      LEFT JOIN hub.indicators i ON i.level = u.level AND i.unit_code = u.unit_code
                                AND i.indicator = m.indicator AND i.month = m.month
), withheld AS (
    SELECT w.* FROM hub.withheld_cells(
        (SELECT array_agg((level, unit_code, parent_code, indicator || ' ' || month,
                           value)::hub.count_cell) FROM cell),
        (SELECT k FROM hub.small_cell_rule)) w
)
INSERT INTO hub.indicators (level, unit_code, unit_name, parent_code, indicator, month, value,
                            withheld)
SELECT c.level, c.unit_code, c.unit_name, c.parent_code, c.indicator, c.month, c.value, true
  FROM cell c
  JOIN withheld w ON w.level = c.level AND w.unit_code = c.unit_code
                 AND w.measure = c.indicator || ' ' || c.month
    ON CONFLICT (level, unit_code, indicator, month) DO UPDATE SET withheld = true;
$$;
SELECT hub.mark_withheld_indicators();

CREATE OR REPLACE VIEW hub.analyst_indicators AS
SELECT level, unit_code, unit_name, parent_code, indicator, month,
       CASE WHEN withheld THEN NULL ELSE value END AS value, withheld
  FROM hub.indicators;

-- Every unit of the four levels in the grid reference, by code (a grid code's first 6 digits
-- are its district's, 9 its township's, 12 its community's).
CREATE VIEW hub.grid_units AS
SELECT 'district' AS level, left(grid_code, 6) AS unit_code, NULL AS parent_code,
       min(district) AS district, NULL AS township, NULL AS community, NULL AS grid_code,
       NULL AS grid_name
  FROM hub.grids GROUP BY left(grid_code, 6)
UNION ALL
SELECT 'township', left(grid_code, 9), left(min(grid_code), 6), min(district), min(township), NULL,
       NULL, NULL
  FROM hub.grids GROUP BY left(grid_code, 9)
UNION ALL
SELECT 'community', left(grid_code, 12), left(min(grid_code), 9), min(district), min(township),
       min(community), NULL, NULL
  FROM hub.grids GROUP BY left(grid_code, 12)
UNION ALL
SELECT 'grid', grid_code, left(grid_code, 12), district, township, community, grid_code,
       grid_name
  FROM hub.grids;

DROP VIEW hub.analyst_population CASCADE;  -- and population_by_*

-- Residents counted by every unit of the four levels (0 where none) and for the whole city.
CREATE VIEW hub.population_counts AS
WITH counted AS (
    SELECT CASE WHEN GROUPING(in_grid) = 0 THEN 'grid'
                WHEN GROUPING(in_community) = 0 THEN 'community'
                WHEN GROUPING(in_township) = 0 THEN 'township'
                WHEN GROUPING(in_district) = 0 THEN 'district' ELSE 'all' END AS level,
           coalesce(in_grid, in_community, in_township, in_district) AS unit_code,
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
           coalesce(sum(open_conflicts), 0)::int                            AS open_conflicts
      FROM (SELECT *, life_status IS DISTINCT FROM 'deceased' AS living,
                   left(grid_code, 6) AS in_district, left(grid_code, 9) AS in_township,
                   left(grid_code, 12) AS in_community, grid_code AS in_grid
              FROM hub.resident_profile) p
     GROUP BY GROUPING SETS ((in_district), (in_township), (in_community), (in_grid), ())
)
SELECT u.level, u.unit_code, u.parent_code, u.district, u.township, u.community, u.grid_code,
       u.grid_name,
       coalesce(c.population, 0) AS population, coalesce(c.male, 0) AS male,
       coalesce(c.female, 0) AS female, coalesce(c.age_0_17, 0) AS age_0_17,
       coalesce(c.age_18_59, 0) AS age_18_59, coalesce(c.age_60_79, 0) AS age_60_79,
       coalesce(c.elderly_80, 0) AS elderly_80, coalesce(c.registered, 0) AS registered,
       coalesce(c.floating, 0) AS floating, coalesce(c.deceased, 0) AS deceased,
       coalesce(c.dibao, 0) AS dibao, coalesce(c.disability, 0) AS disability,
       coalesce(c.open_conflicts, 0) AS open_conflicts
  FROM hub.grid_units u
  LEFT JOIN counted c ON c.level = u.level AND c.unit_code = u.unit_code
UNION ALL
SELECT 'all', NULL, NULL, NULL, NULL, NULL, NULL, NULL, population, male, female, age_0_17,
       age_18_59, age_60_79, elderly_80, registered, floating, deceased, dibao, disability,
       open_conflicts
  FROM counted WHERE level = 'all';

-- The population counts as analysts see them: counted once, then each community's and grid's
-- counts (one cell a column) through the rule.
CREATE VIEW hub.analyst_population AS
WITH counts AS MATERIALIZED (
    SELECT * FROM hub.population_counts
), cell AS (
    SELECT (c.level, c.unit_code, c.parent_code, m.measure, m.value)::hub.count_cell AS cell
      FROM counts c
     CROSS JOIN LATERAL (VALUES ('population', c.population), ('male', c.male),
                                ('female', c.female), ('age_0_17', c.age_0_17),
                                ('age_18_59', c.age_18_59), ('age_60_79', c.age_60_79),
                                ('elderly_80', c.elderly_80), ('registered', c.registered),
                                ('floating', c.floating), ('deceased', c.deceased),
                                ('dibao', c.dibao), ('disability', c.disability),
                                ('open_conflicts', c.open_conflicts)) AS m (measure, value)
     WHERE c.level IN ('community', 'grid')
), withheld AS (
    SELECT w.level, w.unit_code, array_agg(w.measure) AS measures
      FROM hub.withheld_cells((SELECT array_agg(cell) FROM cell),
                              (SELECT k FROM hub.small_cell_rule)) w
     GROUP BY w.level, w.unit_code
)
SELECT c.district, c.township, c.community, c.grid_code, c.grid_name,
       hub.shown(c.population, 'population', w.measures) AS population,
       hub.shown(c.male, 'male', w.measures) AS male,
       hub.shown(c.female, 'female', w.measures) AS female,
       hub.shown(c.age_0_17, 'age_0_17', w.measures) AS age_0_17,
       hub.shown(c.age_18_59, 'age_18_59', w.measures) AS age_18_59,
       hub.shown(c.age_60_79, 'age_60_79', w.measures) AS age_60_79,
       hub.shown(c.elderly_80, 'elderly_80', w.measures) AS elderly_80,
       hub.shown(c.registered, 'registered', w.measures) AS registered,
       hub.shown(c.floating, 'floating', w.measures) AS floating,
       hub.shown(c.deceased, 'deceased', w.measures) AS deceased,
       hub.shown(c.dibao, 'dibao', w.measures) AS dibao,
       hub.shown(c.disability, 'disability', w.measures) AS disability,
       hub.shown(c.open_conflicts, 'open_conflicts', w.measures) AS open_conflicts
  FROM counts c
  LEFT JOIN withheld w ON w.level = c.level AND w.unit_code = c.unit_code;

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

-- Living holders of each golden attribute by community and grid (0 where none): the cells of
-- hub.attribute_counts_by_grid. An attribute that is also a population count (dibao,
-- disability) counts the same residents, so both views withhold the same cells.
CREATE VIEW hub.attribute_cells AS
WITH held AS (
    SELECT CASE WHEN GROUPING(grid) = 0 THEN 'grid' ELSE 'community' END AS level,
           coalesce(grid, community) AS unit_code, attribute, count(*)::int AS residents
      FROM (SELECT left(r.grid_code, 12) AS community, r.grid_code AS grid, v.attribute
              FROM hub.residents r
              JOIN hub.golden_values v ON v.resident_id = r.resident_id
             WHERE r.life_status IS DISTINCT FROM 'deceased') p
     GROUP BY GROUPING SETS ((community, attribute), (grid, attribute))
)
SELECT u.level, u.unit_code, u.parent_code, a.attribute AS measure,
       coalesce(h.residents, 0) AS value
  FROM hub.grid_units u
 CROSS JOIN (SELECT DISTINCT attribute FROM hub.golden_values) a
  LEFT JOIN held h ON h.level = u.level AND h.unit_code = u.unit_code
                  AND h.attribute = a.attribute
 WHERE u.level IN ('community', 'grid');

DROP VIEW hub.attribute_counts_by_grid;
-- A grid's living holders of each attribute: rows where some are held, and withheld zeros.
CREATE VIEW hub.attribute_counts_by_grid AS
WITH cell AS (
    SELECT * FROM hub.attribute_cells
), withheld AS (
    SELECT w.unit_code, w.measure
      FROM hub.withheld_cells(
               (SELECT array_agg((level, unit_code, parent_code, measure, value)::hub.count_cell)
                  FROM cell),
               (SELECT k FROM hub.small_cell_rule)) w
     WHERE w.level = 'grid'
)
SELECT u.district, u.township, u.community, u.grid_code, u.grid_name, c.measure AS attribute,
       CASE WHEN w.unit_code IS NULL THEN c.value END AS residents
  FROM cell c
  JOIN hub.grid_units u ON u.level = 'grid' AND u.unit_code = c.unit_code
  LEFT JOIN withheld w ON w.unit_code = c.unit_code AND w.measure = c.measure
 WHERE c.level = 'grid' AND (c.value > 0 OR w.unit_code IS NOT NULL);

DROP FUNCTION hub.small_cell(text, integer);  -- hub.withheld_cells is the rule now

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_analyst') THEN
        GRANT SELECT ON hub.analyst_population, hub.population_by_district,
                        hub.population_by_township, hub.population_by_community,
                        hub.population_by_grid, hub.attribute_counts_by_grid TO sanwang_analyst;
        GRANT EXECUTE ON FUNCTION hub.withheld_cells(hub.count_cell[], integer),
                                  hub.shown(integer, text, text[]) TO sanwang_analyst;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_api') THEN
        GRANT SELECT ON hub.analyst_population, hub.population_by_district,
                        hub.population_by_township, hub.population_by_community,
                        hub.population_by_grid, hub.attribute_counts_by_grid TO sanwang_api;
        GRANT EXECUTE ON FUNCTION hub.withheld_cells(hub.count_cell[], integer),
                                  hub.shown(integer, text, text[]) TO sanwang_api;
    END IF;
END $$;
