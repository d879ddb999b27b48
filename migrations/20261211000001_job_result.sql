-- What a completed export-only job kept: {"output", "files": [{"name",
-- "size_bytes", "sha256"}]} (JSON). NULL for every other job, and for the
-- jobs stored before this column.
ALTER TABLE jobs ADD COLUMN result TEXT CHECK (result IS NULL OR json_valid(result));
