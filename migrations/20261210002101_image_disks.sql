-- Every disk of an imported image, in the source's order, and the NIC its
-- VMs get. `disks` is a JSON array of {file, size_bytes, sha256, bus};
-- NULL for built images and for images imported before it was recorded,
-- which keep their one `disk` on virtio (what they booted with).
ALTER TABLE images ADD COLUMN disks TEXT;
ALTER TABLE images ADD COLUMN nic_model TEXT CHECK (nic_model IN ('virtio', 'e1000'));
