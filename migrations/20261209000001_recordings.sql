-- Session recordings of browser sandboxes. `record` is the VM's choice
-- at create; a recording's row carries its VM's name and id as plain text
-- (no foreign key): a recording outlives its VM until it is deleted or
-- its retention ends.
ALTER TABLE vms ADD COLUMN record INTEGER NOT NULL DEFAULT 0;

CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    vm_name     TEXT NOT NULL,
    vm_id       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    bytes       INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    events      INTEGER NOT NULL DEFAULT 0 CHECK (events >= 0),
    pages       INTEGER NOT NULL DEFAULT 0 CHECK (pages >= 0),
    note        TEXT
) STRICT;
CREATE INDEX recordings_vm ON recordings(vm_name, started_at);
CREATE INDEX recordings_ended ON recordings(ended_at) WHERE ended_at IS NOT NULL;
