-- Events (SPEC §12): endpoints (a manufacturer's subscriptions, secrets
-- sealed), events (data kept byte for byte), one message per event and
-- endpoint, the attempts of each message, and the platform's event types.
-- River's own tables are created by River's migrations, applied at start
-- beside these.

-- +goose Up
CREATE TABLE endpoints (
    manufacturer_id       TEXT NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    id                    TEXT NOT NULL,
    url                   TEXT    NOT NULL,
    description           TEXT    NOT NULL,
    events                TEXT    NOT NULL,
    auth_type             TEXT    NOT NULL,
    auth0_tenant_domain   TEXT    NOT NULL,
    auth0_client_id       TEXT    NOT NULL,
    auth0_audience        TEXT    NOT NULL,
    format                TEXT    NOT NULL,
    timeout_ms            INTEGER NOT NULL,
    max_attempts          INTEGER NOT NULL,
    rate_limit            INTEGER NOT NULL,
    enabled               INTEGER NOT NULL,
    disabled_reason       TEXT    NOT NULL,
    failing_since         INTEGER,
    -- Secrets, sealed with AES-256-GCM; NULL when not set.
    bearer_token          BLOB,
    auth0_client_secret   BLOB,
    signing_secret        BLOB,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_id, id)
);

CREATE TABLE events (
    manufacturer_id TEXT NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    type            TEXT NOT NULL,
    data            BLOB   NOT NULL,
    -- The Idempotency-Key it was published with, "" for none.
    idempotency_key TEXT NOT NULL,
    messages        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_id, id)
);

-- Newest first, per manufacturer and per type; by key; and by age for pruning.
CREATE INDEX events_list ON events (manufacturer_id, created_at DESC, id DESC);
CREATE INDEX events_type ON events (manufacturer_id, type, created_at DESC, id DESC);
CREATE INDEX events_key ON events (manufacturer_id, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX events_created ON events (created_at);

CREATE TABLE event_messages (
    manufacturer_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_status     INTEGER NOT NULL,
    last_outcome    TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_id, event_id, endpoint_id),
    FOREIGN KEY (manufacturer_id, event_id) REFERENCES events (manufacturer_id, id) ON DELETE CASCADE
);

CREATE INDEX event_messages_endpoint ON event_messages (manufacturer_id, endpoint_id, status, created_at);

CREATE TABLE event_attempts (
    manufacturer_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    number          INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    duration_ms     REAL NOT NULL,
    http_status     INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT    NOT NULL,
    request_headers TEXT    NOT NULL,
    response_body   BLOB,
    PRIMARY KEY (manufacturer_id, id)
);

CREATE INDEX event_attempts_list ON event_attempts (manufacturer_id, endpoint_id, started_at DESC, id DESC);
CREATE INDEX event_attempts_started ON event_attempts (started_at);

CREATE TABLE event_types (
    name        TEXT NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    example     BLOB,
    updated_at  INTEGERNOT NULL
);

-- +goose Down
DROP TABLE event_types;
DROP TABLE event_attempts;
DROP TABLE event_messages;
DROP TABLE events;
DROP TABLE endpoints;
