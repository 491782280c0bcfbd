-- Which side a file was created on: 'legacy' rows were imported by the cutover tool
-- (a sync may update or delete them as legacy does), 'app' rows were created here
-- (only reverse-sync reads them, to write them back to legacy on a rollback).
ALTER TABLE files ADD COLUMN origin TEXT NOT NULL DEFAULT 'app' CHECK (origin IN ('app', 'legacy'));
CREATE INDEX idx_files_origin_updated ON files(origin, updated_at);
