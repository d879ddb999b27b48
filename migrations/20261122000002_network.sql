-- Per-VM egress policy (networking). Leases live in ip_leases (0001).
ALTER TABLE vms ADD COLUMN egress INTEGER NOT NULL DEFAULT 1 CHECK (egress IN (0, 1));
