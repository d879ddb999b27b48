-- Import jobs: when they ran, and their events. Job events have ids of
-- their own that only grow; progress rows of a finished job are dropped,
-- state changes are kept.
ALTER TABLE jobs ADD COLUMN started_at TEXT;
ALTER TABLE jobs ADD COLUMN finished_at TEXT;

CREATE TABLE job_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    type    TEXT NOT NULL CHECK (type IN ('JOB_QUEUED', 'JOB_STARTED', 'JOB_PROGRESS',
                                          'JOB_COMPLETED', 'JOB_FAILED', 'JOB_CANCELLED')),
    job     TEXT NOT NULL,
    -- The job as it was right after the event (JSON, never a password).
    body    TEXT NOT NULL CHECK (json_valid(body)),
    at      TEXT NOT NULL
) STRICT;

CREATE INDEX job_events_job ON job_events(job, id);

-- Imported full-disk images: the disk file (relative to dir) and its format.
ALTER TABLE images ADD COLUMN disk TEXT;
ALTER TABLE images ADD COLUMN format TEXT;
