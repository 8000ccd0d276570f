-- The initial schema of the embedded store. Times are unix microseconds (UTC);
-- documents are BLOBs so that they come back byte for byte. Every row belongs
-- to one manufacturer, and every key starts with the manufacturer's id.

-- +goose Up
CREATE TABLE manufacturers (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE webhooks (
    manufacturer_id       TEXT    NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    kind                  TEXT    NOT NULL,
    enabled               INTEGER NOT NULL,
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
    bearer_token          BLOB,
    auth0_client_secret   BLOB,
    signing_secret        BLOB,
    updated_at            INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_id, kind)
);

CREATE TABLE customers (
    manufacturer_id TEXT    NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    document        BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_id, id)
);

CREATE TABLE jobs (
    manufacturer_id  TEXT    NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    id               TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    revision         INTEGER NOT NULL,
    document         BLOB    NOT NULL,
    export           BLOB,
    messages         TEXT    NOT NULL,
    pricing          TEXT,
    pricing_revision INTEGER,
    external_id      TEXT    NOT NULL,
    submitted_at     INTEGER,
    -- The submission lease: who holds it and until when (NULL: free).
    claim_id         TEXT,
    claim_until      INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_id, id),
    FOREIGN KEY (manufacturer_id, customer_id) REFERENCES customers (manufacturer_id, id)
);

CREATE INDEX jobs_customer ON jobs (manufacturer_id, customer_id);

CREATE TABLE submission_responses (
    manufacturer_id TEXT    NOT NULL,
    job_id          TEXT    NOT NULL,
    claim_id        TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    body            BLOB,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_id, job_id, claim_id),
    FOREIGN KEY (manufacturer_id, job_id) REFERENCES jobs (manufacturer_id, id) ON DELETE CASCADE
);

CREATE TABLE idempotency_keys (
    manufacturer_id TEXT    NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    key             TEXT    NOT NULL,
    job_id          TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    body            BLOB,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_id, key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE deliveries (
    manufacturer_id TEXT    NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    job_id          TEXT    NOT NULL,
    request_id      TEXT    NOT NULL,
    test            INTEGER NOT NULL,
    url             TEXT    NOT NULL,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL,
    duration_ms     REAL    NOT NULL,
    attempts        INTEGER NOT NULL,
    http_status     INTEGER NOT NULL,
    outcome         TEXT    NOT NULL,
    warnings        TEXT    NOT NULL,
    error_detail    TEXT    NOT NULL,
    messages        TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    cost            TEXT    NOT NULL,
    response_body   BLOB,
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
