-- Cross-department findings: the rule-based ones (streams/findings.py), kept per resident as the
-- merged state changes, and elderly_living_alone, which needs the neighbours, as a query.
CREATE TABLE hub.resident_findings (
    resident_id text NOT NULL,
    kind        text NOT NULL,
    since       text NOT NULL,               -- when the latest fact behind it happened
    evidence    jsonb NOT NULL,              -- {"records": [...], "explanation": ...}
    found_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resident_id, kind)
);

ALTER TABLE hub.residents ADD COLUMN address_key text;  -- the residence, normalized
CREATE INDEX residents_address_key ON hub.residents (address_key);

CREATE FUNCTION hub.birth_day(birth_date text) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_date(left(birth_date || '-01-01', 10), 'YYYY-MM-DD')  -- a partial date: its start
$$;

CREATE VIEW hub.findings AS
SELECT kind, resident_id, since, evidence FROM hub.resident_findings
UNION ALL
SELECT 'elderly_living_alone', r.resident_id,
       to_char(hub.birth_day(r.birth_date) + interval '80 years', 'YYYY-MM-DD'),
       jsonb_build_object(
           'records', (SELECT jsonb_agg(l.ref ORDER BY l.ref) FROM hub.source_links l
                        WHERE l.resident_id = r.resident_id),
           'explanation', '80 or older, no other living resident at the same address')
  FROM hub.residents r
 WHERE r.life_status = 'alive' AND r.birth_date IS NOT NULL AND r.address_key IS NOT NULL
   AND hub.birth_day(r.birth_date) <= current_date - interval '80 years'
   AND NOT EXISTS (SELECT 1 FROM hub.residents o
                    WHERE o.address_key = r.address_key AND o.resident_id <> r.resident_id
                      AND o.life_status IS DISTINCT FROM 'deceased');
