-- What a browser sandbox's pages downloaded, as its agent reported it. The
-- files themselves stay in the guest; these rows go with their VM.
CREATE TABLE downloads (
    vm_id       TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    size        INTEGER NOT NULL CHECK (size >= 0),
    sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
    url         TEXT NOT NULL,
    page_url    TEXT,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (vm_id, name)
) STRICT;
