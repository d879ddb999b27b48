-- The firmware an imported full disk was installed for, as its source
-- declared it (or the job forced): `bios` boots with SeaBIOS, `uefi` with
-- OVMF. NULL for built images, which boot hype's kernel directly.
ALTER TABLE images ADD COLUMN firmware TEXT CHECK (firmware IN ('bios', 'uefi'));
