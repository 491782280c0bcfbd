-- Who did what to accounts (register, login, failed login, refresh, logout), and from where.
-- user_id is NULL for a failed login with an unknown username; no foreign key, so the trail
-- outlives the account.
CREATE TABLE audit_logs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER,
    action        TEXT    NOT NULL,
    resource_type TEXT,
    resource_id   TEXT,
    metadata      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    ip_address    TEXT,
    user_agent    TEXT,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX audit_logs_user_created ON audit_logs (user_id, created_at);
CREATE INDEX audit_logs_action_created ON audit_logs (action, created_at);
