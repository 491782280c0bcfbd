-- Queue messages that failed for good, kept until an operator has handled them
-- (DELETE /api/admin/dead-letters/<id>). Before this, a saved file whose stored
-- bytes no longer matched its recorded SHA-256 was retried three times and then
-- only logged. `reason` is 'checksum_mismatch' (the bytes in R2 are not the ones
-- recorded: retrying cannot heal it) or 'failed' (every retry failed). One row per
-- file and reason; a repeat counts in `occurrences`.
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT    NOT NULL,
    file_id     TEXT    NOT NULL,
    reason      TEXT    NOT NULL CHECK (reason IN ('checksum_mismatch', 'failed')),
    detail      TEXT    NOT NULL,
    occurrences INTEGER NOT NULL DEFAULT 1,
    first_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (file_id, reason)
);
