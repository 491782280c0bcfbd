-- Change capture for continuous replication (`cutover replicate`): every change the
-- app's own requests make to a user, a file or a lineage row is logged here, and the
-- replicator reads the log from its checkpoint (GET /api/admin/export/changes), so a
-- round costs what changed, not the size of the tables. `key` is the user id, the
-- file id, or `parent child relationship`. The replicator acknowledges what it
-- applied (POST /api/admin/changes/ack), which prunes the log.
CREATE TABLE changes (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'file', 'edge')),
    key  TEXT NOT NULL,
    op   TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Holds its one row only inside an import batch (a D1 transaction), so the
-- replicator's own writes are not logged and never travel back to where they came from.
CREATE TABLE replicating (one INTEGER PRIMARY KEY CHECK (one = 1));

CREATE TRIGGER users_logged_insert AFTER INSERT ON users
WHEN NOT EXISTS (SELECT 1 FROM replicating)
BEGIN
    INSERT INTO changes (kind, key, op) VALUES ('user', NEW.id, 'upsert');
END;

-- last_login and updated_at move on every sign-in; they are not a change to replicate.
CREATE TRIGGER users_logged_update AFTER UPDATE ON users
WHEN NOT EXISTS (SELECT 1 FROM replicating)
    AND (OLD.username IS NOT NEW.username OR OLD.email IS NOT NEW.email
         OR OLD.password IS NOT NEW.password OR OLD.is_active IS NOT NEW.is_active
         OR OLD.is_admin IS NOT NEW.is_admin)
BEGIN
    INSERT INTO changes (kind, key, op) VALUES ('user', NEW.id, 'upsert');
END;

CREATE TRIGGER users_logged_delete AFTER DELETE ON users
WHEN NOT EXISTS (SELECT 1 FROM replicating)
BEGIN
    INSERT INTO changes (kind, key, op) VALUES ('user', OLD.id, 'delete');
END;

CREATE TRIGGER files_logged_insert AFTER INSERT ON files
WHEN NOT EXISTS (SELECT 1 FROM replicating)
BEGIN
    INSERT INTO changes (kind, key, op) VALUES ('file', NEW.file_id, 'upsert');
END;

-- row_count and column_count are the app's own cache (the CSV_QUEUE consumer).
CREATE TRIGGER files_logged_update AFTER UPDATE ON files
WHEN NOT EXISTS (SELECT 1 FROM replicating)
    AND (OLD.file_name IS NOT NEW.file_name OR OLD.user_tags IS NOT NEW.user_tags
         OR OLD.system_tags IS NOT NEW.system_tags OR OLD.metadata IS NOT NEW.metadata
         OR OLD.checksum IS NOT NEW.checksum OR OLD.user_id IS NOT NEW.user_id)
BEGIN
    INSERT INTO changes (kind, key, op) VALUES ('file', NEW.file_id, 'upsert');
END;

CREATE TRIGGER files_logged_delete AFTER DELETE ON files
WHEN NOT EXISTS (SELECT 1 FROM replicating)
BEGIN
    INSERT INTO changes (kind, key, op) VALUES ('file', OLD.file_id, 'delete');
END;

CREATE TRIGGER edges_logged_insert AFTER INSERT ON file_relationships
WHEN NOT EXISTS (SELECT 1 FROM replicating)
BEGIN
    INSERT INTO changes (kind, key, op)
    VALUES ('edge', NEW.parent_id || ' ' || NEW.child_id || ' ' || NEW.relationship, 'upsert');
END;

CREATE TRIGGER edges_logged_delete AFTER DELETE ON file_relationships
WHEN NOT EXISTS (SELECT 1 FROM replicating)
BEGIN
    INSERT INTO changes (kind, key, op)
    VALUES ('edge', OLD.parent_id || ' ' || OLD.child_id || ' ' || OLD.relationship, 'delete');
END;
