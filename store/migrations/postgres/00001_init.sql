-- The initial schema of the PostgreSQL store. Times are unix microseconds
-- (UTC); documents are BYTEA so that they come back byte for byte (jsonb would
-- reorder keys and reformat numbers). Every row belongs to one manufacturer,
-- and every key starts with the manufacturer's id. Ids use the "C" collation so
-- that they sort by bytes, as in SQLite, whatever the database's locale.

-- +goose Up
CREATE TABLE manufacturers (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE webhooks (
    manufacturer_id       TEXT COLLATE "C" NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    kind                  TEXT COLLATE "C" NOT NULL,
    enabled               BOOLEAN NOT NULL,
    url                   TEXT    NOT NULL,
    auth_type             TEXT    NOT NULL,
    auth0_tenant_domain   TEXT    NOT NULL,
    auth0_client_id       TEXT    NOT NULL,
    auth0_audience        TEXT    NOT NULL,
    export_format         TEXT    NOT NULL,
    timeout_ms            INTEGER NOT NULL,
    retries               INTEGER NOT NULL,
    generic_error_message TEXT    NOT NULL,
    breaker_failures      INTEGER NOT NULL,
    breaker_open_seconds  INTEGER NOT NULL,
    cache_seconds         INTEGER NOT NULL,
    -- Secrets, sealed with AES-256-GCM; NULL when not set.
    bearer_token          BYTEA,
    auth0_client_secret   BYTEA,
    signing_secret        BYTEA,
    updated_at            BIGINT  NOT NULL,
    PRIMARY KEY (manufacturer_id, kind)
);

CREATE TABLE customers (
    manufacturer_id TEXT COLLATE "C" NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    id              TEXT COLLATE "C" NOT NULL,
    document        BYTEA  NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (manufacturer_id, id)
);

CREATE TABLE jobs (
    manufacturer_id  TEXT COLLATE "C" NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    id               TEXT COLLATE "C" NOT NULL,
    customer_id      TEXT COLLATE "C" NOT NULL,
    status           TEXT   NOT NULL,
    revision         BIGINT NOT NULL,
    document         BYTEA  NOT NULL,
    export           BYTEA,
    messages         TEXT   NOT NULL,
    pricing          TEXT,
    pricing_revision BIGINT,
    external_id      TEXT   NOT NULL,
    submitted_at     BIGINT,
    -- The submission lease: who holds it and until when (NULL: free).
    claim_id         TEXT,
    claim_until      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (manufacturer_id, id),
    FOREIGN KEY (manufacturer_id, customer_id) REFERENCES customers (manufacturer_id, id)
);

CREATE INDEX jobs_customer ON jobs (manufacturer_id, customer_id);

CREATE TABLE submission_responses (
    manufacturer_id TEXT COLLATE "C" NOT NULL,
    job_id          TEXT COLLATE "C" NOT NULL,
    claim_id        TEXT COLLATE "C" NOT NULL,
    status          INTEGER NOT NULL,
    body            BYTEA,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (manufacturer_id, job_id, claim_id),
    FOREIGN KEY (manufacturer_id, job_id) REFERENCES jobs (manufacturer_id, id) ON DELETE CASCADE
);

CREATE TABLE idempotency_keys (
    manufacturer_id TEXT COLLATE "C" NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    key             TEXT COLLATE "C" NOT NULL,
    job_id          TEXT COLLATE "C" NOT NULL,
    status          INTEGER NOT NULL,
    body            BYTEA,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (manufacturer_id, key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE deliveries (
    manufacturer_id TEXT COLLATE "C" NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    id              TEXT COLLATE "C" NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL,
    job_id          TEXT COLLATE "C" NOT NULL,
    request_id      TEXT    NOT NULL,
    test            BOOLEAN NOT NULL,
    url             TEXT    NOT NULL,
    started_at      BIGINT  NOT NULL,
    finished_at     BIGINT  NOT NULL,
    duration_ms     DOUBLE PRECISION NOT NULL,
    attempts        INTEGER NOT NULL,
    http_status     INTEGER NOT NULL,
    outcome         TEXT COLLATE "C" NOT NULL,
    warnings        TEXT    NOT NULL,
    error_detail    TEXT    NOT NULL,
    messages        TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    cost            TEXT    NOT NULL,
    response_body   BYTEA,
    PRIMARY KEY (manufacturer_id, id)
);

-- Newest first, per manufacturer and per job; and by age for pruning.
CREATE INDEX deliveries_list ON deliveries (manufacturer_id, started_at DESC, id DESC);
CREATE INDEX deliveries_job ON deliveries (manufacturer_id, job_id, started_at DESC, id DESC);
CREATE INDEX deliveries_started ON deliveries (started_at);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE idempotency_keys;
DROP TABLE submission_responses;
DROP TABLE jobs;
DROP TABLE customers;
DROP TABLE webhooks;
DROP TABLE manufacturers;
