-- Pricing moves out of the jobs row into a table of its own: a job row holds
-- the documents (often many KiB), and every price saved rewrote all of it.

-- +goose Up
CREATE TABLE job_pricing (
    manufacturer_id TEXT COLLATE "C" NOT NULL,
    job_id          TEXT COLLATE "C" NOT NULL,
    pricing         TEXT   NOT NULL,
    revision        BIGINT NOT NULL,
    PRIMARY KEY (manufacturer_id, job_id),
    FOREIGN KEY (manufacturer_id, job_id) REFERENCES jobs (manufacturer_id, id) ON DELETE CASCADE
);

INSERT INTO job_pricing (manufacturer_id, job_id, pricing, revision)
SELECT manufacturer_id, id, pricing, pricing_revision FROM jobs WHERE pricing IS NOT NULL;

ALTER TABLE jobs DROP COLUMN pricing;
ALTER TABLE jobs DROP COLUMN pricing_revision;

-- +goose Down
ALTER TABLE jobs ADD COLUMN pricing TEXT;
ALTER TABLE jobs ADD COLUMN pricing_revision BIGINT;

UPDATE jobs SET
    pricing = (SELECT p.pricing FROM job_pricing p WHERE p.manufacturer_id = jobs.manufacturer_id AND p.job_id = jobs.id),
    pricing_revision = (SELECT p.revision FROM job_pricing p WHERE p.manufacturer_id = jobs.manufacturer_id AND p.job_id = jobs.id);

DROP TABLE job_pricing;
