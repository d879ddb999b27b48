-- Warm pools: sandboxes of one shape kept ready, forked from the pool's
-- snapshot, handed to callers by renaming them.

-- The pool a VM waits in; NULL once handed out (or never pooled).
ALTER TABLE vms ADD COLUMN pool TEXT;
-- A pool VM may be handed out: it runs and its browser has answered.
ALTER TABLE vms ADD COLUMN pool_ready INTEGER NOT NULL DEFAULT 0 CHECK (pool_ready IN (0, 1));
CREATE INDEX vms_pool ON vms(pool, state) WHERE pool IS NOT NULL;

-- No foreign key to images: a pool whose image went away says so when it
-- refills, instead of blocking the image's deletion with a database error.
CREATE TABLE pools (
    name            TEXT PRIMARY KEY NOT NULL
                    CHECK (length(name) BETWEEN 1 AND 32 AND name NOT GLOB '*[^a-z0-9-]*'),
    image           TEXT NOT NULL,
    cpu_cores       INTEGER NOT NULL CHECK (cpu_cores >= 1),
    memory_mb       INTEGER NOT NULL CHECK (memory_mb >= 64),
    size            INTEGER NOT NULL CHECK (size BETWEEN 1 AND 64),
    -- The snapshot its VMs are forked from, once made.
    snapshot        TEXT REFERENCES snapshots(name) ON DELETE SET NULL,
    created_at      TEXT NOT NULL
) STRICT;
