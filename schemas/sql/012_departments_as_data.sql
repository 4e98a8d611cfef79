-- Relatives a record names (a birth certificate's mother and father, a marriage's spouse), by
-- the keyed hash of their ID number (never in clear), with the record as evidence. Written as
-- each record version lands, replaced with it.
CREATE TABLE hub.record_relations (
    ref           text NOT NULL,             -- source:record_id of the record naming them
    kind          text NOT NULL,             -- mother | father | spouse, of the record's person
    relative_hash text NOT NULL,             -- hub.residents.id_number_hash of the relative
    relative_name text
);
CREATE INDEX record_relations_ref ON hub.record_relations (ref);
CREATE INDEX record_relations_relative ON hub.record_relations (relative_hash);

-- Each resident's relatives, both ways (a mother's child too), with the evidence record. A
-- relative the hub has no resident for yet has no relative_id.
CREATE VIEW hub.resident_relations AS
SELECT l.resident_id, r.kind, o.resident_id AS relative_id, r.relative_name, r.ref AS evidence
  FROM hub.record_relations r
  JOIN hub.source_links l ON l.ref = r.ref
  LEFT JOIN hub.residents o ON o.id_number_hash = r.relative_hash
UNION ALL
SELECT o.resident_id, CASE WHEN r.kind = 'spouse' THEN 'spouse' ELSE 'child' END,
       l.resident_id, NULL, r.ref
  FROM hub.record_relations r
  JOIN hub.source_links l ON l.ref = r.ref
  JOIN hub.residents o ON o.id_number_hash = r.relative_hash;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_api') THEN
        GRANT SELECT ON hub.record_relations, hub.resident_relations TO sanwang_api;
    END IF;
END $$;

-- How many living residents of each grid hold each attribute: what analysts may know of the
-- sensitive ones (party membership, medical certificates), never who holds them.
CREATE VIEW hub.attribute_counts_by_grid AS
SELECT g.district, g.township, g.community, r.grid_code, g.grid_name, a.attribute,
       count(*)::int AS residents
  FROM hub.residents r
 CROSS JOIN LATERAL jsonb_object_keys(r.attributes) AS a (attribute)
  LEFT JOIN hub.grids g ON g.grid_code = r.grid_code
 WHERE r.life_status IS DISTINCT FROM 'deceased'
 GROUP BY g.district, g.township, g.community, r.grid_code, g.grid_name, a.attribute;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_analyst') THEN
        GRANT SELECT ON hub.attribute_counts_by_grid TO sanwang_analyst;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sanwang_api') THEN
        GRANT SELECT ON hub.attribute_counts_by_grid TO sanwang_api;
    END IF;
END $$;
