-- The merged resident store: records, their links to residents, golden records with history,
-- conflicts, the review queue, steward decisions and the change feed's outbox.

-- The current version of every department record, with its identity features and facts.
CREATE TABLE hub.source_records (
    source       text NOT NULL,
    record_id    text NOT NULL,
    event_id     text NOT NULL,
    version      text NOT NULL,            -- orders corrections: the larger version is current
    features     jsonb NOT NULL,
    observations jsonb NOT NULL,
    ref          text GENERATED ALWAYS AS (source || ':' || record_id) STORED UNIQUE,
    PRIMARY KEY (source, record_id)
);

-- Blocking keys: records sharing none are never compared.
CREATE TABLE hub.record_keys (
    key    text NOT NULL,
    ref    text NOT NULL                    -- source:record_id
);
CREATE INDEX record_keys_key ON hub.record_keys (key);
CREATE INDEX record_keys_ref ON hub.record_keys (ref);

-- Every scored pair worth remembering (links, possible matches, ID conflicts).
CREATE TABLE hub.match_edges (
    a      text NOT NULL,
    b      text NOT NULL,                   -- a < b
    rule   text NOT NULL,
    score  double precision NOT NULL,
    agreed text[] NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE INDEX match_edges_b ON hub.match_edges (b);

CREATE TABLE hub.residents (
    resident_id       text PRIMARY KEY,
    name              text,
    sex               text,
    birth_date        text,
    ethnicity         text,
    hukou_address     text,
    residence_address text,
    phone             text,
    life_status       text,
    attributes        jsonb NOT NULL,       -- every golden value with its source and authority
    record_count      integer NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- "Why is this record part of this resident?": the rule, the score and the fields that agreed.
CREATE TABLE hub.source_links (
    source      text NOT NULL,
    record_id   text NOT NULL,
    resident_id text NOT NULL,
    rule        text NOT NULL,              -- new | department_key | id_number | probabilistic | steward
    score       double precision,
    evidence    jsonb NOT NULL,
    ref         text GENERATED ALWAYS AS (source || ':' || record_id) STORED UNIQUE,
    PRIMARY KEY (source, record_id)
);
CREATE INDEX source_links_resident ON hub.source_links (resident_id);

-- Every value each attribute had, with its valid time and the record behind it.
CREATE TABLE hub.resident_history (
    resident_id text NOT NULL,
    attribute   text NOT NULL,
    value       jsonb NOT NULL,
    valid_from  text NOT NULL,
    valid_to    text,
    source      text NOT NULL,
    record_ref  text NOT NULL
);
CREATE INDEX resident_history_resident ON hub.resident_history (resident_id, attribute);

CREATE TABLE hub.conflicts (
    conflict_id  bigserial PRIMARY KEY,
    resident_id  text NOT NULL,
    kind         text NOT NULL,             -- attribute_mismatch | id_number_shared
    attribute    text,
    details      jsonb NOT NULL,
    fingerprint  text NOT NULL,             -- the same conflict found again has the same one
    status       text NOT NULL DEFAULT 'open',
    opened_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conflicts_resident ON hub.conflicts (resident_id);

CREATE TABLE hub.review_queue (
    a       text NOT NULL,
    b       text NOT NULL,
    score   double precision NOT NULL,
    agreed  text[] NOT NULL,
    status  text NOT NULL DEFAULT 'open',   -- open | confirmed | rejected
    PRIMARY KEY (a, b)
);

-- A steward's word: confirm (must link) or split / reject (must not); never undone by the merge.
CREATE TABLE hub.steward_decisions (
    decision_id bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('confirm', 'split')),
    a           text NOT NULL,
    b           text NOT NULL,
    steward     text NOT NULL,
    note        text,
    decided_at  timestamptz NOT NULL DEFAULT now()
);

-- Change feed outbox: written in the merge's transaction, relayed to Kafka after it commits.
CREATE TABLE hub.change_outbox (
    seq         bigserial PRIMARY KEY,
    resident_id text NOT NULL,
    change      text NOT NULL,              -- created | updated | merged | split | removed
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX change_outbox_unsent ON hub.change_outbox (seq) WHERE sent_at IS NULL;

CREATE TABLE hub.match_parameters (
    id          integer PRIMARY KEY CHECK (id = 1),
    parameters  jsonb NOT NULL,
    estimated_at timestamptz NOT NULL DEFAULT now()
);
