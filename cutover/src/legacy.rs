//! The legacy side's PostgreSQL: Django's `auth_user`, `list_cutter_savedfile` and
//! the lineage table, read in primary-key pages and written by reverse-sync.
//! Timestamps travel as RFC 3339 UTC text, arrays as lists, `metadata` (jsonb)
//! as the string legacy stored (generated files keep the client's JSON string).
//!
//! A legacy of the Neo4j era has no lineage table: its lineage is read from, and
//! written back into, each generated file's metadata ([`LineageSource`]).

use postgres::{Client, NoTls, Row};
use serde_json::Value;
use shared::migration::{
    edges_from_metadata, metadata_with_original, EdgeRecord, LineageSource, UserRecord,
};

use crate::error::{Error, Result};

pub const USERS: &str = "auth_user";
pub const FILES: &str = "list_cutter_savedfile";
pub const EDGES: &str = "list_cutter_filerelationship";

/// The columns each table must have.
const SCHEMA: &[(&str, &[&str])] = &[
    (
        USERS,
        &[
            "id",
            "username",
            "email",
            "password",
            "is_active",
            "is_staff",
            "is_superuser",
            "date_joined",
            "last_login",
            "first_name",
            "last_name",
        ],
    ),
    (
        FILES,
        &[
            "id",
            "user_id",
            "file_id",
            "file_name",
            "file_path",
            "uploaded_at",
            "system_tags",
            "user_tags",
            "metadata",
        ],
    ),
    (
        EDGES,
        &[
            "id",
            "source_file_id",
            "target_file_id",
            "relationship_type",
            "created_at",
        ],
    ),
];

/// `to_char` pattern of RFC 3339 UTC with microseconds.
fn utc(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}

pub struct Legacy {
    pub(crate) db: Client,
    lineage: LineageSource,
}

/// A saved-file row and where its bytes should be.
#[derive(Debug, Clone)]
pub struct LegacyFile {
    pub file_id: String,
    pub user_id: i64,
    pub file_name: String,
    pub file_path: String,
    pub uploaded_at: String,
    pub system_tags: Vec<String>,
    pub user_tags: Vec<String>,
    pub metadata: Option<String>,
}

#[cfg(test)]
impl LegacyFile {
    /// A row for tests: `f1` of user 1, `a.csv`, with a system and a user tag.
    pub fn sample() -> LegacyFile {
        LegacyFile {
            file_id: "f1".into(),
            user_id: 1,
            file_name: "a.csv".into(),
            file_path: "/srv/uploads/a.csv".into(),
            uploaded_at: "2024-01-01T00:00:00.000000Z".into(),
            system_tags: vec!["uploaded".into()],
            user_tags: vec!["x".into()],
            metadata: None,
        }
    }
}

/// What became of an account to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    Removed,
    /// Not there (any more).
    Absent,
    /// It still holds files (their deletion has not been replicated yet).
    HoldsFiles,
}

/// A row that could not be read, reported as an item (the run goes on).
pub type Unreadable = (String, String);

/// One page of a table: the rows read, those that could not be, and the last
/// primary key (`None` past the end).
pub struct Page<T> {
    pub rows: Vec<T>,
    pub unreadable: Vec<Unreadable>,
    pub last: Option<i64>,
}

impl Legacy {
    pub fn connect(url: &str) -> Result<Legacy> {
        let mut db = Client::connect(url, NoTls).map_err(|source| Error::Legacy {
            doing: Some(format!("PostgreSQL {url}")),
            source,
        })?;
        let has_table: bool = db
            .query_one(
                "SELECT to_regclass(quote_ident(current_schema()) || '.' || $1) IS NOT NULL",
                &[&EDGES],
            )?
            .get(0);
        let lineage = match has_table {
            true => LineageSource::Table,
            false => LineageSource::Metadata,
        };
        Ok(Legacy { db, lineage })
    }

    /// Where this legacy keeps lineage.
    pub fn lineage_source(&self) -> LineageSource {
        self.lineage
    }

    /// The tables whose schema is not the expected one, each with what is missing.
    pub fn schema_problems(&mut self) -> Result<Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        for (table, columns) in SCHEMA {
            let present: Vec<String> = self
                .db
                .query(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1",
                    &[table],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let missing: Vec<&str> = columns
                .iter()
                .copied()
                .filter(|c| !present.iter().any(|p| p == c))
                .collect();
            // The lineage table is optional: without it lineage is in the metadata.
            if present.is_empty() && *table == EDGES {
                continue;
            }
            if present.is_empty() {
                problems.push((*table, format!("table {table} does not exist")));
            } else if !missing.is_empty() {
                problems.push((
                    *table,
                    format!("table {table} lacks columns {}", missing.join(", ")),
                ));
            }
        }
        Ok(problems)
    }

    pub fn count(&mut self, table: &str) -> Result<i64> {
        let row = self
            .db
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?;
        Ok(row.get(0))
    }

    /// One page of `select` (which selects the primary key `id` first): the
    /// `limit` rows after `after` in key order, each turned into a record by
    /// `read`; a row it cannot read is reported as `<item> <pk>`.
    fn page<T>(
        &mut self,
        select: &str,
        (after, limit): (i64, i64),
        item: &str,
        read: impl Fn(&Row) -> Result<T>,
    ) -> Result<Page<T>> {
        let sql = format!("{select} WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint");
        let rows = self.db.query(&sql, &[&after, &limit])?;
        let mut page = Page {
            rows: Vec::new(),
            unreadable: Vec::new(),
            last: rows.last().map(|r| r.get::<_, i64>(0)),
        };
        for row in &rows {
            match read(row) {
                Ok(record) => page.rows.push(record),
                Err(e) => page
                    .unreadable
                    .push((format!("{item}{}", row.get::<_, i64>(0)), e.to_string())),
            }
        }
        Ok(page)
    }

    /// Users with `id > after`, and the rows that could not be read.
    pub fn users(&mut self, after: i64, limit: i64) -> Result<Page<UserRecord>> {
        self.page(&user_select(), (after, limit), "user ", |row| {
            user_row(row).map_err(unreadable)
        })
    }

    /// Saved files with primary key `> after`.
    pub fn files(&mut self, after: i64, limit: i64) -> Result<Page<LegacyFile>> {
        self.page(&file_select(), (after, limit), "saved file #", |row| {
            file_row(row).map_err(unreadable)
        })
    }

    /// The saved files of these file ids (those that still exist), and the rows
    /// that could not be read.
    pub fn files_by_id(&mut self, ids: &[String]) -> Result<(Vec<LegacyFile>, Vec<Unreadable>)> {
        let sql = format!(
            "{} WHERE file_id = ANY($1::text[]) ORDER BY id",
            file_select()
        );
        let mut found = (Vec::new(), Vec::new());
        for row in &self.db.query(&sql, &[&ids])? {
            match file_row(row) {
                Ok(f) => found.0.push(f),
                Err(e) => found.1.push((
                    format!("saved file #{}", row.get::<_, i64>(0)),
                    unreadable(e).to_string(),
                )),
            }
        }
        Ok(found)
    }

    /// The users of these ids (those that still exist).
    pub fn users_by_id(&mut self, ids: &[i64]) -> Result<Vec<UserRecord>> {
        let sql = format!("{} WHERE id = ANY($1::bigint[]) ORDER BY id", user_select());
        self.db
            .query(&sql, &[&ids])?
            .iter()
            .map(|r| user_row(r).map_err(unreadable))
            .collect()
    }

    /// Deletes a saved file with its lineage rows; the path of its bytes, to
    /// remove, when it was there.
    pub fn delete_file(&mut self, file_id: &str) -> Result<Option<String>> {
        let mut tx = self.db.transaction()?;
        if self.lineage == LineageSource::Table {
            tx.execute(
                &format!("DELETE FROM {EDGES} WHERE source_file_id = $1 OR target_file_id = $1"),
                &[&file_id],
            )?;
        }
        let path = tx
            .query_opt(
                &format!("DELETE FROM {FILES} WHERE file_id = $1 RETURNING file_path"),
                &[&file_id],
            )?
            .map(|r| r.get(0));
        tx.commit()?;
        Ok(path)
    }

    /// Removes the account `id` if it is still named `username`, is not staff and
    /// holds no file, with the lineage rows legacy keeps of deleted files
    /// (`file_ids`, which were the account's). Not logged for replication: the
    /// caller removes the account on the app too.
    pub fn remove_account(&mut self, id: i64, username: &str, file_ids: &[String]) -> Result<Gone> {
        let mut tx = self.db.transaction()?;
        tx.batch_execute("SET LOCAL cutover.replicating = 'on'")?;
        let row = tx.query_opt(
            &format!(
                "SELECT is_staff OR is_superuser, \
                     (SELECT count(*) FROM {FILES} WHERE user_id = $1::bigint) \
                     FROM {USERS} WHERE id = $1::bigint AND username = $2"
            ),
            &[&id, &username],
        )?;
        let gone = match row {
            Some(r) if r.get::<_, bool>(0) => {
                return Err(Error::Refused("a staff account is never removed".into()))
            }
            Some(r) if r.get::<_, i64>(1) > 0 => return Ok(Gone::HoldsFiles),
            Some(_) => {
                tx.execute(
                    &format!("DELETE FROM {USERS} WHERE id = $1::bigint"),
                    &[&id],
                )?;
                Gone::Removed
            }
            None => Gone::Absent,
        };
        if self.lineage == LineageSource::Table {
            tx.execute(
                &format!(
                    "DELETE FROM {EDGES} WHERE source_file_id = ANY($1) OR target_file_id = ANY($1)"
                ),
                &[&file_ids],
            )?;
        }
        tx.commit()?;
        Ok(gone)
    }

    /// Deletes the legacy form of an app lineage row (lineage table only; in the
    /// Neo4j era it goes with its file).
    pub fn delete_edge(&mut self, e: &EdgeRecord) -> Result<bool> {
        if self.lineage == LineageSource::Metadata {
            return Ok(false);
        }
        let (source, target) = e.to_legacy();
        self.db
            .execute(
                &format!(
                    "DELETE FROM {EDGES} WHERE source_file_id = $1 AND target_file_id = $2 \
                     AND relationship_type = $3"
                ),
                &[&source, &target, &e.relationship],
            )
            .map(|n| n > 0)
            .map_err(Error::from)
    }

    /// Which of these app lineage rows legacy's lineage table still has, with
    /// both their files (legacy keeps the rows of a deleted file, which the
    /// app never can): none in the Neo4j era, where lineage lives in its files'
    /// metadata.
    pub fn edges_present(
        &mut self,
        edges: &[EdgeRecord],
    ) -> Result<std::collections::HashSet<EdgeRecord>> {
        if self.lineage == LineageSource::Metadata || edges.is_empty() {
            return Ok(Default::default());
        }
        let (mut sources, mut targets, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
        for e in edges {
            let (source, target) = e.to_legacy();
            sources.push(source);
            targets.push(target);
            kinds.push(e.relationship.as_str());
        }
        let rows = self.db.query(
            &format!(
                "SELECT e.source_file_id, e.target_file_id, e.relationship_type \
                     FROM unnest($1::text[], $2::text[], $3::text[]) AS w(s, t, k) \
                     JOIN {EDGES} e ON e.source_file_id = w.s AND e.target_file_id = w.t \
                     AND e.relationship_type = w.k \
                     WHERE EXISTS (SELECT 1 FROM {FILES} f WHERE f.file_id = e.source_file_id) \
                     AND EXISTS (SELECT 1 FROM {FILES} f WHERE f.file_id = e.target_file_id)"
            ),
            &[&sources, &targets, &kinds],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let (s, t, k): (String, String, String) = (r.get(0), r.get(1), r.get(2));
                EdgeRecord::from_legacy(&s, &t, &k)
            })
            .collect())
    }

    /// Every saved file's id (to find what legacy deleted).
    pub fn file_ids(&mut self) -> Result<std::collections::HashSet<String>> {
        Ok(self
            .db
            .query(&format!("SELECT file_id FROM {FILES}"), &[])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// Lineage edges as the app's rows, a page after the primary key `after`: of the
    /// lineage table, or (Neo4j era) of the saved files, each generated file giving
    /// the rows its metadata names.
    pub fn edges(&mut self, after: i64, limit: i64) -> Result<Page<EdgeRecord>> {
        if self.lineage == LineageSource::Metadata {
            return self.edges_in_metadata(after, limit);
        }
        let select = format!(
            "SELECT id::bigint, source_file_id, target_file_id, relationship_type FROM {EDGES}"
        );
        self.page(&select, (after, limit), "relationship #", |row| {
            let (source, target, kind): (String, String, String) =
                (row.get(1), row.get(2), row.get(3));
            EdgeRecord::from_legacy(&source, &target, &kind)
                .ok_or_else(|| Error::Check(format!("unknown type {kind:?}")))
        })
    }

    fn edges_in_metadata(&mut self, after: i64, limit: i64) -> Result<Page<EdgeRecord>> {
        let page = self.files(after, limit)?;
        Ok(Page {
            rows: page
                .rows
                .iter()
                .flat_map(|f| edges_from_metadata(&f.file_id, f.metadata.as_deref().unwrap_or("")))
                .collect(),
            unreadable: page.unreadable,
            last: page.last,
        })
    }

    /// The id of the user called `username`, if any.
    pub fn user_id_of(&mut self, username: &str) -> Result<Option<i64>> {
        self.db
            .query_opt(
                &format!("SELECT id::bigint FROM {USERS} WHERE username = $1"),
                &[&username],
            )
            .map(|r| r.map(|r| r.get(0)))
            .map_err(Error::from)
    }

    pub fn user(&mut self, id: i64) -> Result<Option<UserRecord>> {
        let sql = format!("{} WHERE id = $1::bigint", user_select());
        let row = self.db.query_opt(&sql, &[&id])?;
        row.map(|r| user_row(&r).map_err(unreadable)).transpose()
    }

    /// Inserts or updates a user of the app (`is_staff` and `is_superuser` both
    /// from `is_admin`, as `seed_user --staff` sets them).
    pub fn upsert_user(&mut self, u: &UserRecord) -> Result<()> {
        self.db
            .execute(
                &format!(
                    "INSERT INTO {USERS} (id, password, last_login, is_superuser, username, \
                     first_name, last_name, email, is_staff, is_active, date_joined) \
                     VALUES ($1::bigint, $2, $3::text::timestamptz, $4, $5, '', '', $6, $4, $7, \
                     $8::text::timestamptz) \
                     ON CONFLICT (id) DO UPDATE SET password = EXCLUDED.password, \
                     email = EXCLUDED.email, is_staff = EXCLUDED.is_staff, \
                     is_superuser = EXCLUDED.is_superuser, is_active = EXCLUDED.is_active, \
                     last_login = GREATEST({USERS}.last_login, EXCLUDED.last_login)"
                ),
                &[
                    &u.id,
                    &u.password,
                    &u.last_login,
                    &u.is_admin,
                    &u.username,
                    &u.email,
                    &u.is_active,
                    &u.created_at,
                ],
            )
            .map(|_| ())
            .map_err(Error::from)
    }

    /// `(user_id, user_tags)` of a saved file.
    pub fn file_owner_and_tags(&mut self, file_id: &str) -> Result<Option<(i64, Vec<String>)>> {
        self.db
            .query_opt(
                &format!(
                    "SELECT user_id::bigint, user_tags::text[] FROM {FILES} WHERE file_id = $1"
                ),
                &[&file_id],
            )
            .map(|r| {
                r.map(|r| {
                    (
                        r.get(0),
                        r.get::<_, Option<Vec<String>>>(1).unwrap_or_default(),
                    )
                })
            })
            .map_err(Error::from)
    }

    pub fn set_user_tags(&mut self, file_id: &str, tags: &[String]) -> Result<()> {
        self.db
            .execute(
                &format!("UPDATE {FILES} SET user_tags = $2::text[] WHERE file_id = $1"),
                &[&file_id, &tags],
            )
            .map(|_| ())
            .map_err(Error::from)
    }

    /// Inserts a saved-file row; `metadata` becomes a jsonb string as legacy stored it.
    pub fn insert_file(&mut self, f: &LegacyFile) -> Result<()> {
        self.db
            .execute(
                &format!(
                    "INSERT INTO {FILES} (user_id, file_id, file_name, file_path, uploaded_at, \
                     system_tags, user_tags, metadata) \
                     VALUES ($1::bigint, $2, $3, $4, $5::text::timestamptz, $6::text[], $7::text[], \
                     to_jsonb($8::text))"
                ),
                &[&f.user_id, &f.file_id, &f.file_name, &f.file_path, &f.uploaded_at, &f.system_tags, &f.user_tags, &f.metadata],
            )
            .map(|_| ())
            .map_err(Error::from)
    }

    /// Writes the legacy form of an app lineage row; false when it was already
    /// there. Neo4j era: the child's metadata names the parent (both rows of a cut
    /// write the same thing).
    pub fn insert_edge(&mut self, e: &EdgeRecord) -> Result<bool> {
        if self.lineage == LineageSource::Metadata {
            return self.write_original(&e.child_id, &e.parent_id);
        }
        let (source, target) = e.to_legacy();
        self.db
            .execute(
                &format!(
                    "INSERT INTO {EDGES} (source_file_id, target_file_id, relationship_type, created_at) \
                     VALUES ($1, $2, $3, now()) \
                     ON CONFLICT (source_file_id, target_file_id, relationship_type) DO NOTHING"
                ),
                &[&source, &target, &e.relationship],
            )
            .map(|n| n > 0)
            .map_err(Error::from)
    }
}

impl Legacy {
    fn write_original(&mut self, child: &str, parent: &str) -> Result<bool> {
        let row = self
            .db
            .query_opt(
                &format!("SELECT metadata::text FROM {FILES} WHERE file_id = $1"),
                &[&child],
            )?
            .ok_or_else(|| Error::Check(format!("saved file {child} is not on legacy")))?;
        let current = row.get::<_, Option<String>>(0).map(|t| metadata_text(&t));
        let Some(updated) = metadata_with_original(current.as_deref(), parent) else {
            return Ok(false);
        };
        self.db
            .execute(
                &format!("UPDATE {FILES} SET metadata = to_jsonb($2::text) WHERE file_id = $1"),
                &[&child, &updated],
            )
            .map(|n| n > 0)
            .map_err(Error::from)
    }
}

/// The saved-file columns, in the order [`file_row`] reads them.
fn file_select() -> String {
    format!(
        "SELECT id::bigint, file_id, user_id::bigint, file_name, file_path, {}, \
         system_tags::text[], user_tags::text[], metadata::text FROM {FILES}",
        utc("uploaded_at")
    )
}

fn file_row(row: &Row) -> Result<LegacyFile, postgres::Error> {
    let tags = |i| -> Result<Vec<String>, postgres::Error> {
        Ok(row
            .try_get::<_, Option<Vec<String>>>(i)?
            .unwrap_or_default())
    };
    Ok(LegacyFile {
        file_id: row.try_get(1)?,
        user_id: row.try_get(2)?,
        file_name: row.try_get(3)?,
        file_path: row.try_get(4)?,
        uploaded_at: row.try_get(5)?,
        system_tags: tags(6)?,
        user_tags: tags(7)?,
        metadata: row
            .try_get::<_, Option<String>>(8)?
            .map(|text| metadata_text(&text)),
    })
}

/// The user columns, in the order [`user_row`] reads them.
fn user_select() -> String {
    format!(
        "SELECT id::bigint, username, email, password, is_active, is_staff, {}, {} FROM {USERS}",
        utc("date_joined"),
        utc("last_login")
    )
}

fn user_row(row: &Row) -> Result<UserRecord, postgres::Error> {
    Ok(UserRecord {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        email: row.try_get::<_, Option<String>>(2)?.unwrap_or_default(),
        password: row.try_get(3)?,
        is_active: row.try_get(4)?,
        is_admin: row.try_get(5)?,
        created_at: row.try_get(6)?,
        last_login: row.try_get(7)?,
    })
}

fn unreadable(source: postgres::Error) -> Error {
    Error::Legacy {
        doing: Some("unreadable row".into()),
        source,
    }
}

/// The app's `metadata` text of a jsonb value: a JSON string is the client's text
/// itself; anything else keeps its JSON text.
fn metadata_text(json: &str) -> String {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::String(s)) => s,
        _ => json.to_string(),
    }
}
