-- Monthly indicators of every unit of the four grid levels (streams/indicators.py names and
-- defines them), by valid time; rewritten whole by `sanwang indicators refresh`. Only non-zero
-- counts are rows: a unit and month without a row counted 0.
CREATE TABLE hub.indicators (
    level       text NOT NULL CHECK (level IN ('district', 'township', 'community', 'grid')),
    unit_code   text NOT NULL,
    unit_name   text NOT NULL,
    parent_code text,                          -- the unit one level up; NULL for a district
    indicator   text NOT NULL,
    month       text NOT NULL,                 -- YYYY-MM
    value       integer NOT NULL,
    PRIMARY KEY (level, unit_code, indicator, month)
);

-- The last refresh: the months it covers and the small-cell rule's k it was given
-- (deploy/settings.py small_cell_k), which the analysts' view applies.
CREATE TABLE hub.indicator_refresh (
    id           integer PRIMARY KEY CHECK (id = 1),
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    first_month  text NOT NULL,
    last_month   text NOT NULL,
    small_cell_k integer NOT NULL CHECK (small_cell_k >= 0)
);

-- What analysts read: below the township level a count of 1..k is withheld (value NULL,
-- withheld true), so that no aggregate singles a person out. Without a refresh, k is 3.
CREATE VIEW hub.analyst_indicators AS
SELECT i.level, i.unit_code, i.unit_name, i.parent_code, i.indicator, i.month,
       CASE WHEN hidden THEN NULL ELSE i.value END AS value, hidden AS withheld
  FROM hub.indicators i
 CROSS JOIN LATERAL (SELECT i.level IN ('community', 'grid') AND i.value BETWEEN 1 AND
                            coalesce((SELECT small_cell_k FROM hub.indicator_refresh), 3)
                     ) AS rule (hidden);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_analyst') THEN
        GRANT SELECT ON hub.analyst_indicators, hub.indicator_refresh TO sanwang_analyst;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_api') THEN
        GRANT SELECT ON hub.indicators, hub.indicator_refresh, hub.analyst_indicators
              TO sanwang_api;
    END IF;
END $$;
