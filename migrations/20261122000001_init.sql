-- hype's store. Invariants live here as well as in code: names are unique,
-- states and kinds are closed sets, leases belong to live VMs.

CREATE TABLE images (
    name            TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 63),
    kind            TEXT NOT NULL CHECK (kind IN ('kernel', 'rootfs', 'disk')),
    source          TEXT NOT NULL,
    dir             TEXT NOT NULL,
    vmlinuz         TEXT,
    vmlinux         TEXT,
    initramfs       TEXT,
    rootfs          TEXT,
    kernel_version  TEXT,
    size_bytes      INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256          TEXT,
    boot_mode       TEXT NOT NULL DEFAULT 'kernel' CHECK (boot_mode IN ('kernel', 'firmware')),
    created_at      TEXT NOT NULL
) STRICT;

CREATE TABLE vms (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL UNIQUE
                    CHECK (length(name) BETWEEN 1 AND 63 AND name NOT GLOB '*[^a-z0-9-]*'),
    state           TEXT NOT NULL CHECK (state IN ('creating', 'starting', 'running', 'paused',
                                                   'stopping', 'stopped', 'crashed', 'standby')),
    cpu_cores       INTEGER NOT NULL CHECK (cpu_cores >= 1),
    memory_mb       INTEGER NOT NULL CHECK (memory_mb >= 64),
    image           TEXT NOT NULL REFERENCES images(name) ON DELETE RESTRICT,
    kernel_cmdline  TEXT NOT NULL,
    user_cmdline    TEXT,
    vmm_kind        TEXT NOT NULL CHECK (vmm_kind IN ('qemu', 'cloud-hypervisor')),
    vmm_version     TEXT,
    vmm_pid         INTEGER CHECK (vmm_pid IS NULL OR vmm_pid > 0),
    accel           TEXT CHECK (accel IS NULL OR accel IN ('kvm', 'tcg')),
    ip              TEXT,
    mac             TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE INDEX vms_state ON vms(state);

-- Events outlive their VM, so `vm` is a name, not a foreign key.
-- AUTOINCREMENT: ids never repeat, even after the newest row is deleted.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    type    TEXT NOT NULL CHECK (type IN ('VM_CREATED', 'VM_STARTING', 'VM_RUNNING', 'VM_PAUSED',
                                          'VM_RESUMED', 'VM_STOPPED', 'VM_CRASHED', 'VM_DELETED',
                                          'VM_SNAPSHOTTED', 'VM_RESTORED')),
    vm      TEXT NOT NULL,
    state   TEXT NOT NULL CHECK (state IN ('creating', 'starting', 'running', 'paused',
                                           'stopping', 'stopped', 'crashed', 'standby')),
    at      TEXT NOT NULL,
    detail  TEXT
) STRICT;

CREATE INDEX events_vm ON events(vm, id);

-- Filled by the networking layer: one address per VM, one VM per address.
CREATE TABLE ip_leases (
    ip          TEXT PRIMARY KEY NOT NULL,
    vm_id       TEXT NOT NULL UNIQUE REFERENCES vms(id) ON DELETE CASCADE,
    mac         TEXT NOT NULL UNIQUE,
    tap         TEXT NOT NULL UNIQUE,
    leased_at   TEXT NOT NULL
) STRICT;

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('vsphere_export', 'xcpng_export')),
    state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    spec        TEXT NOT NULL CHECK (json_valid(spec)),
    progress    TEXT CHECK (progress IS NULL OR json_valid(progress)),
    error       TEXT,
    image       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE INDEX jobs_state ON jobs(state);
