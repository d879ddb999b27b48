-- Browser VMs whose root writes go to a disk of their own (kept across
-- stop/start, removed with the VM) instead of a tmpfs.
ALTER TABLE vms ADD COLUMN persist INTEGER NOT NULL DEFAULT 0 CHECK (persist IN (0, 1));
