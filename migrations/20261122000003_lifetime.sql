-- Sandbox lifetimes: a VM is stopped and deleted ttl_seconds after its
-- creation, or after idle_timeout_seconds without a CDP client.
ALTER TABLE vms ADD COLUMN ttl_seconds INTEGER CHECK (ttl_seconds IS NULL OR ttl_seconds > 0);
ALTER TABLE vms ADD COLUMN idle_timeout_seconds INTEGER
    CHECK (idle_timeout_seconds IS NULL OR idle_timeout_seconds > 0);
