-- Grid workers' reports (an observer source: its declaration says authority = "observer") and
-- the verification tasks (核实任务) they open for the departments that own the facts.

-- Sources whose values never outrank a department's (a declaration's `authority = "observer"`),
-- written from the declarations with hub.attribute_owners: the history follows them as the
-- golden record does (streams/survivorship.py).
CREATE TABLE hub.observer_sources (
    source text PRIMARY KEY
);

-- As in 013, with an observer's facts only where no department stated the attribute, and
-- without the claims that state no value (a `differs` claim: [attribute, value, from, expect,
-- task]).
CREATE OR REPLACE VIEW hub.resident_history AS
WITH facts AS (
    SELECT l.resident_id, f.fact ->> 0 AS attribute, f.fact -> 1 AS value,
           f.fact ->> 2 AS valid_from, s.source, s.ref AS record_ref,
           (o.owner IS NULL OR o.owner = s.source) AS owned,
           EXISTS (SELECT FROM hub.observer_sources b WHERE b.source = s.source) AS observer
      FROM hub.source_records s
      JOIN hub.source_links l ON l.ref = s.ref
     CROSS JOIN LATERAL jsonb_array_elements(s.facts::jsonb) AS f (fact)
      LEFT JOIN hub.attribute_owners o ON o.attribute = f.fact ->> 0
     WHERE f.fact ->> 3 IS DISTINCT FROM 'differs'
), ranked AS (
    SELECT *, bool_and(observer) OVER (PARTITION BY resident_id, attribute) AS observed_only
      FROM facts
), kept AS (
    SELECT *, bool_or(owned) OVER (PARTITION BY resident_id, attribute) AS any_owned
      FROM ranked
     WHERE NOT observer OR observed_only
)
SELECT resident_id, attribute, value, valid_from,
       lead(valid_from) OVER (PARTITION BY resident_id, attribute
                              ORDER BY valid_from, record_ref) AS valid_to,
       source, record_ref
  FROM kept
 WHERE owned OR NOT any_owned;

-- Every report a grid worker submitted: who (the principal and its database role), when, about
-- whom, in which grid, which fields (the values are in its event, sealed). Append-only.
CREATE TABLE hub.grid_reports (
    report_id   text PRIMARY KEY,
    kind        text NOT NULL,
    resident_id text,                          -- NULL: a person found at an address
    grid_code   text NOT NULL,
    fields      text[] NOT NULL,
    event_id    text NOT NULL,
    principal   text NOT NULL,
    db_role     text NOT NULL DEFAULT current_user,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grid_reports_resident ON hub.grid_reports (resident_id);

CREATE OR REPLACE FUNCTION hub.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME;
END $$;
CREATE TRIGGER grid_reports_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON hub.grid_reports
    FOR EACH STATEMENT EXECUTE FUNCTION hub.refuse_change();

-- A claim the owner of a fact should verify (streams/verification.py), one per report and
-- attribute. The merge opens it, updates the owner's value, and closes it as `agreed` when the
-- owner's own value comes to agree (opening it again if that changes); a department closes it
-- as `confirmed` or `rejected` (with a reason), which sticks.
CREATE TABLE hub.verification_tasks (
    task_id          text PRIMARY KEY,
    report_ref       text NOT NULL,
    attribute        text NOT NULL,
    department       text NOT NULL,          -- the attribute's owner
    kind             text NOT NULL,          -- the declaration's verify.task
    expect           text NOT NULL,          -- same | differs
    resident_id      text NOT NULL,
    reported         jsonb NOT NULL,
    observed_on      text NOT NULL,
    owner_value      jsonb,                  -- NULL: the owner has no value
    owner_record     text,
    status           text NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'agreed', 'confirmed', 'rejected')),
    opened_at        timestamptz NOT NULL DEFAULT now(),
    due_at           timestamptz NOT NULL,
    closed_at        timestamptz,
    closed_by        text,                   -- the officer, or the owner's record that agreed
    closed_principal text,                   -- the principal a department's decision came from
    reason           text,
    UNIQUE (report_ref, attribute),
    CHECK ((status = 'rejected') <= (reason IS NOT NULL))
);
CREATE INDEX verification_tasks_department ON hub.verification_tasks (department, status, due_at);
CREATE INDEX verification_tasks_resident ON hub.verification_tasks (resident_id);

-- elderly_living_alone as in 005, except where a grid worker's report (the golden lives_alone)
-- says otherwise: it decides, until the facts at the address change (a residence stated there,
-- theirs or anyone's, after the report).
CREATE OR REPLACE VIEW hub.findings AS
SELECT kind, resident_id, since, evidence FROM hub.resident_findings
UNION ALL
SELECT 'elderly_living_alone', r.resident_id,
       to_char(hub.birth_day(r.birth_date) + interval '80 years', 'YYYY-MM-DD'),
       jsonb_build_object(
           'records', (SELECT jsonb_agg(l.ref ORDER BY l.ref) FROM hub.source_links l
                        WHERE l.resident_id = r.resident_id),
           'explanation', CASE WHEN reported.alone
                               THEN '80 or older, seen living alone by a grid worker'
                               ELSE '80 or older, no other living resident at the same address'
                          END)
  FROM hub.residents r
  LEFT JOIN LATERAL (
      SELECT v.value #>> '{}' = 'yes' AS alone FROM hub.golden_values v
       WHERE v.resident_id = r.resident_id AND v.attribute = 'lives_alone'
         AND NOT EXISTS (SELECT FROM hub.residents o
                           JOIN hub.golden_values a ON a.resident_id = o.resident_id
                                                   AND a.attribute = 'residence_address'
                          WHERE o.address_key = r.address_key AND a.valid_from > v.valid_from)
  ) reported ON true
 WHERE r.life_status = 'alive' AND r.birth_date IS NOT NULL AND r.address_key IS NOT NULL
   AND hub.birth_day(r.birth_date) <= current_date - interval '80 years'
   AND coalesce(reported.alone, NOT EXISTS (
           SELECT 1 FROM hub.residents o
            WHERE o.address_key = r.address_key AND o.resident_id <> r.resident_id
              AND o.life_status IS DISTINCT FROM 'deceased'));

ALTER TABLE hub.grid_reports ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_grid_worker') THEN
        -- a grid worker reports in their own grids only, about their own grids' residents
        CREATE POLICY grid_worker_reports_own_grids ON hub.grid_reports FOR INSERT
            TO sanwang_grid_worker
            WITH CHECK (db_role = current_user
                        AND grid_code IN (SELECT g.grid_code FROM hub.grid_worker_grids g
                                           WHERE g.db_role = current_user)
                        AND (resident_id IS NULL OR EXISTS (
                                SELECT 1 FROM hub.residents r
                                 WHERE r.resident_id = grid_reports.resident_id
                                   AND r.grid_code = grid_reports.grid_code)));
        CREATE POLICY grid_worker_own_reports ON hub.grid_reports FOR SELECT
            TO sanwang_grid_worker USING (db_role = current_user);
        GRANT SELECT, INSERT ON hub.grid_reports TO sanwang_grid_worker;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_api') THEN
        CREATE POLICY api_read_reports ON hub.grid_reports FOR SELECT TO sanwang_api
            USING (true);
        GRANT SELECT ON hub.observer_sources, hub.grid_reports, hub.verification_tasks
            TO sanwang_api;
        GRANT UPDATE (status, closed_at, closed_by, closed_principal, reason)
            ON hub.verification_tasks TO sanwang_api;
    END IF;
END $$;
