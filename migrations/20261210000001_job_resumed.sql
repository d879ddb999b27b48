-- JOB_RESUMED: a job a restart of hyped interrupted runs again. SQLite
-- cannot change a CHECK constraint in place, so job_events is rebuilt with
-- the same columns, rows (ids kept: they are SSE ids) and index.
CREATE TABLE job_events_new (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    type    TEXT NOT NULL CHECK (type IN ('JOB_QUEUED', 'JOB_STARTED', 'JOB_PROGRESS',
                                          'JOB_COMPLETED', 'JOB_FAILED', 'JOB_CANCELLED',
                                          'JOB_RESUMED')),
    job     TEXT NOT NULL,
    -- The job as it was right after the event (JSON, never a password).
    body    TEXT NOT NULL CHECK (json_valid(body)),
    at      TEXT NOT NULL
) STRICT;

INSERT INTO job_events_new (id, type, job, body, at)
SELECT id, type, job, body, at FROM job_events;
-- Ids never go back, even past dropped progress events of the last job.
DELETE FROM sqlite_sequence WHERE name = 'job_events_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'job_events_new', seq FROM sqlite_sequence WHERE name = 'job_events';

DROP TABLE job_events;
ALTER TABLE job_events_new RENAME TO job_events;

CREATE INDEX job_events_job ON job_events(job, id);
