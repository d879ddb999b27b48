-- Jobs of kind 'ovf' (an OVF folder on hyped's host). SQLite cannot change
-- a CHECK constraint in place, so the table is rebuilt with the same
-- columns, rows and indexes. Nothing references jobs by foreign key.
CREATE TABLE jobs_new (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('vsphere_export', 'xcpng_export', 'ovf')),
    state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    spec        TEXT NOT NULL CHECK (json_valid(spec)),
    progress    TEXT CHECK (progress IS NULL OR json_valid(progress)),
    error       TEXT,
    image       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
) STRICT;

INSERT INTO jobs_new (id, kind, state, spec, progress, error, image, created_at, updated_at,
                      started_at, finished_at)
SELECT id, kind, state, spec, progress, error, image, created_at, updated_at,
       started_at, finished_at
  FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE INDEX jobs_state ON jobs(state);
CREATE INDEX jobs_created ON jobs(created_at, id);
