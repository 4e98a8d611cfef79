-- The query API: its principals, the append-only audit of every read of personal data, and
-- row-level security that keeps each grid worker to their own grids in PostgreSQL itself.

CREATE TABLE hub.api_principals (
    name         text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('department', 'analyst', 'grid_worker', 'steward')),
    department   text,                       -- for kind = department
    db_role      text,                       -- for kind = grid_worker: its own database role
    token_sha256 text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'department') = (department IS NOT NULL)),
    CHECK ((kind = 'grid_worker') = (db_role IS NOT NULL))
);

-- Which grids each grid worker's database role may see.
CREATE TABLE hub.grid_worker_grids (
    db_role   text NOT NULL,
    grid_code text NOT NULL,
    PRIMARY KEY (db_role, grid_code)
);

-- Who read whose data, which fields, for what declared purpose, when. Append-only.
CREATE TABLE hub.audit_log (
    audit_id    bigserial PRIMARY KEY,
    principal   text NOT NULL,
    action      text NOT NULL,               -- the route
    resident_ids text[] NOT NULL,
    fields      text[] NOT NULL,
    purpose     text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_residents ON hub.audit_log USING gin (resident_ids);

CREATE FUNCTION hub.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hub.audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON hub.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION hub.refuse_change();

ALTER TABLE hub.residents ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_processor') THEN
        CREATE POLICY processor_all ON hub.residents TO sanwang_processor
            USING (true) WITH CHECK (true);
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_analyst') THEN
        CREATE POLICY analyst_read ON hub.residents FOR SELECT TO sanwang_analyst USING (true);
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_api') THEN
        CREATE POLICY api_read ON hub.residents FOR SELECT TO sanwang_api USING (true);
        GRANT SELECT ON ALL TABLES IN SCHEMA hub TO sanwang_api;
        GRANT INSERT ON hub.audit_log TO sanwang_api;
        GRANT USAGE ON SEQUENCE hub.audit_log_audit_id_seq TO sanwang_api;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA hub TO sanwang_api;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_grid_worker') THEN
        -- members of sanwang_grid_worker (one role per grid worker) see their grids only
        CREATE POLICY grid_worker_own_grids ON hub.residents FOR SELECT TO sanwang_grid_worker
            USING (grid_code IN (SELECT g.grid_code FROM hub.grid_worker_grids g
                                  WHERE g.db_role = current_user));
        GRANT SELECT (resident_id, name, sex, birth_date, residence_address, phone,
                      life_status, grid_code) ON hub.residents TO sanwang_grid_worker;
        GRANT SELECT ON hub.grid_worker_grids, hub.grids TO sanwang_grid_worker;
        GRANT INSERT ON hub.audit_log TO sanwang_grid_worker;
        GRANT USAGE ON SEQUENCE hub.audit_log_audit_id_seq TO sanwang_grid_worker;
    END IF;
END $$;
