-- Whether a hype agent runs in the VM's guest, decided once when the VM is
-- created (from its image's boot) instead of guessed again at each start
-- of hyped. Built images and imported disks booted on hype's kernel have
-- one; imported disks booted through firmware do not.
ALTER TABLE vms ADD COLUMN has_agent INTEGER NOT NULL DEFAULT 1;
UPDATE vms SET has_agent = 0
 WHERE image IN (SELECT name FROM images WHERE kind = 'disk' AND boot_mode <> 'kernel');

-- Pages of the VM list by state, and of the job list newest first.
CREATE INDEX vms_state_name ON vms(state, name);
CREATE INDEX jobs_created ON jobs(created_at, id);
-- The lifetime reaper reads only VMs that have a lifetime.
CREATE INDEX vms_lifetimes ON vms(name) WHERE ttl_seconds IS NOT NULL OR idle_timeout_seconds IS NOT NULL;

-- The uid (and gid) a VM's VMM runs as when confined: its own, from the
-- range hyped owns, assigned at its first boot and kept, so the files it
-- owns stay its own across boots.
ALTER TABLE vms ADD COLUMN uid INTEGER;
CREATE UNIQUE INDEX vms_uid ON vms(uid) WHERE uid IS NOT NULL;
