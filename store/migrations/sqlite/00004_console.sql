-- The console's one-time sign-in links and its sessions. Only a SHA-256 hash
-- of each token is kept, so that a copy of the database signs no one in. An
-- empty manufacturer_id is a platform operator's, over every manufacturer.

-- +goose Up
CREATE TABLE console_links (
    token_hash      TEXT NOT NULL PRIMARY KEY,
    manufacturer_id TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);

CREATE TABLE console_sessions (
    token_hash      TEXT NOT NULL PRIMARY KEY,
    manufacturer_id TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);

CREATE INDEX console_links_expiry ON console_links (expires_at);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
DROP TABLE console_links;
