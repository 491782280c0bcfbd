-- Accounts, mirroring Django's auth_user as far as the app needs it.
-- Ids copied from the legacy side keep their values; ids the app allocates start at
-- USER_ID_OFFSET (see app/src/users.rs) so they never collide with ids Django still hands out.
-- `password` is Django's own format (pbkdf2_sha256$<iterations>$<salt>$<hash>), so a row
-- can move to PostgreSQL and back and still log in.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    username    TEXT    NOT NULL UNIQUE,
    email       TEXT    NOT NULL DEFAULT '',
    password    TEXT    NOT NULL,
    is_active   INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    -- Django's is_staff.
    is_admin    INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    -- Django's date_joined.
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_login  TEXT,
    updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
