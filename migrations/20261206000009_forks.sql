-- Snapshots for forks, and forks.

-- A VM's run directory key: its name when it was made (a VM handed out
-- under another name keeps it).
ALTER TABLE vms ADD COLUMN dir TEXT;
UPDATE vms SET dir = name;
CREATE UNIQUE INDEX vms_dir ON vms(dir);
-- The snapshot a fork came from (its disks may be backed by it).
ALTER TABLE vms ADD COLUMN snapshot TEXT;
CREATE INDEX vms_snapshot ON vms(snapshot) WHERE snapshot IS NOT NULL;

-- A VM saved for forks: what relaunching its devices takes, and its files
-- in <data>/snapshots/<name>/.
CREATE TABLE snapshots (
    name            TEXT PRIMARY KEY NOT NULL
                    CHECK (length(name) BETWEEN 1 AND 63 AND name NOT GLOB '*[^a-z0-9-]*'),
    vm              TEXT NOT NULL,
    image           TEXT NOT NULL REFERENCES images(name) ON DELETE RESTRICT,
    cpu_cores       INTEGER NOT NULL CHECK (cpu_cores >= 1),
    memory_mb       INTEGER NOT NULL CHECK (memory_mb >= 64),
    kernel_cmdline  TEXT NOT NULL,
    persist         INTEGER NOT NULL CHECK (persist IN (0, 1)),
    egress          INTEGER NOT NULL CHECK (egress IN (0, 1)),
    vmm_kind        TEXT NOT NULL CHECK (vmm_kind IN ('qemu', 'cloud-hypervisor')),
    vmm_version     TEXT,
    image_sha256    TEXT,
    size_bytes      INTEGER NOT NULL CHECK (size_bytes >= 0),
    ephemeral       INTEGER NOT NULL CHECK (ephemeral IN (0, 1)),
    created_at      TEXT NOT NULL
) STRICT;


-- SNAPSHOT_CREATED and SNAPSHOT_DELETED: news about a VM's snapshots.
-- SQLite cannot change a CHECK, so the table is made anew with the same
-- rows and id sequence (ids never repeat).
CREATE TABLE events_new (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    type    TEXT NOT NULL CHECK (type IN ('VM_CREATED', 'VM_STARTING', 'VM_RUNNING', 'VM_PAUSED',
                                          'VM_RESUMED', 'VM_STOPPED', 'VM_CRASHED', 'VM_DELETED',
                                          'VM_SNAPSHOTTED', 'VM_RESTORED', 'DOWNLOAD_COMPLETED',
                                          'SNAPSHOT_CREATED', 'SNAPSHOT_DELETED')),
    vm      TEXT NOT NULL,
    state   TEXT NOT NULL CHECK (state IN ('creating', 'starting', 'running', 'paused',
                                           'stopping', 'stopped', 'crashed', 'standby')),
    at      TEXT NOT NULL,
    detail  TEXT
) STRICT;
INSERT INTO events_new (id, type, vm, state, at, detail)
    SELECT id, type, vm, state, at, detail FROM events;
DELETE FROM sqlite_sequence WHERE name = 'events_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_new', seq FROM sqlite_sequence WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_vm ON events(vm, id);
