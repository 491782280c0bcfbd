-- Saved files, their lineage and saved filters (SPEC §5.4). Owners reference
-- users(id) from 0001_users.sql; legacy rows keep their ids.

CREATE TABLE files (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id       TEXT    NOT NULL UNIQUE,           -- UUID, the API's id
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    file_name     TEXT    NOT NULL,                  -- display name; never a storage path
    r2_key        TEXT    NOT NULL UNIQUE,           -- uploads/user-<id>/<file_id>.csv
    size          INTEGER NOT NULL CHECK (size >= 0),
    checksum      TEXT,                              -- hex SHA-256 of the stored bytes
    system_tags   TEXT    NOT NULL DEFAULT '[]',     -- JSON array, e.g. ["uploaded"]
    user_tags     TEXT    NOT NULL DEFAULT '[]',     -- JSON array
    metadata      TEXT,                              -- JSON; legacy generated files keep their string
    row_count     INTEGER,                           -- filled by the CSV_QUEUE consumer
    column_count  INTEGER,
    uploaded_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX idx_files_user_uploaded ON files(user_id, uploaded_at DESC);
CREATE INDEX idx_files_user_name ON files(user_id, file_name);

-- Lineage: `child` was cut from `parent` (legacy CUT_FROM / CUT_TO pairs).
CREATE TABLE file_relationships (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id    TEXT NOT NULL REFERENCES files(file_id) ON DELETE CASCADE,
    child_id     TEXT NOT NULL REFERENCES files(file_id) ON DELETE CASCADE,
    relationship TEXT NOT NULL DEFAULT 'CUT_FROM',
    metadata     TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (parent_id, child_id, relationship),
    CHECK (parent_id <> child_id)
);
CREATE INDEX idx_file_relationships_child ON file_relationships(child_id);

CREATE TABLE saved_filters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    filter_id   TEXT    NOT NULL UNIQUE,             -- UUID
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    file_id     TEXT    REFERENCES files(file_id) ON DELETE SET NULL,
    name        TEXT    NOT NULL,
    columns     TEXT    NOT NULL DEFAULT '[]',       -- JSON array of column names
    filters     TEXT    NOT NULL DEFAULT '{}',       -- JSON object column -> expression
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX idx_saved_filters_user ON saved_filters(user_id);
