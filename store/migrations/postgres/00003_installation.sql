-- One row: the random value that tells this installation's data apart from
-- any other's. It is mixed into the outbound Idempotency-Key, so that after a
-- data reset, or with two installations sending to one ERP, a new job never
-- looks like a repeat of another's. Store.Installation fills it on first use.

-- +goose Up
CREATE TABLE installation (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);

-- +goose Down
DROP TABLE installation;
