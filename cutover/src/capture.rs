//! Legacy's change log for continuous replication: a table and a trigger on the
//! users, saved files and lineage tables, installed by `cutover replicate`
//! (idempotent; `cutover replicate --remove-capture` takes them away after the
//! cutover). Writes the replicator makes itself run with
//! `cutover.replicating = on` and are not logged, so nothing travels back to the
//! side it came from. The app keeps the same log in D1 (migrations/0005_changes.sql).

use std::time::Duration;

use shared::migration::changes::Change;

use crate::error::{Error, Result};
use crate::legacy::{Legacy, EDGES, FILES, USERS};

pub const LOG: &str = "cutover_changes";

/// The log, its trigger function, and the key each table logs: the user id, the
/// file id, or the lineage row in the app's orientation (`parent child type`).
/// Only columns a person can change count as a user update (`last_login` moves on
/// every sign-in).
const FUNCTION: &str = r#"
CREATE TABLE IF NOT EXISTS cutover_changes (
    seq  bigserial PRIMARY KEY,
    kind text NOT NULL,
    key  text NOT NULL,
    op   text NOT NULL,
    at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION cutover_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
    k text;
    kind text;
BEGIN
    IF coalesce(current_setting('cutover.replicating', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF TG_TABLE_NAME = 'auth_user' THEN
        IF TG_OP = 'UPDATE' AND (OLD.username, OLD.email, OLD.password, OLD.is_active,
                OLD.is_staff, OLD.is_superuser) IS NOT DISTINCT FROM (NEW.username, NEW.email,
                NEW.password, NEW.is_active, NEW.is_staff, NEW.is_superuser) THEN
            RETURN NULL;
        END IF;
        kind := 'user';
        k := r.id::text;
    ELSIF TG_TABLE_NAME = 'list_cutter_savedfile' THEN
        IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
            RETURN NULL;
        END IF;
        kind := 'file';
        k := r.file_id;
    ELSE
        kind := 'edge';
        k := CASE r.relationship_type
                 WHEN 'CUT_TO' THEN r.source_file_id || ' ' || r.target_file_id
                 ELSE r.target_file_id || ' ' || r.source_file_id
             END || ' ' || r.relationship_type;
    END IF;
    INSERT INTO cutover_changes (kind, key, op)
    VALUES (kind, k, CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'upsert' END);
    RETURN NULL;
END $$;
"#;

/// `to_char` of RFC 3339 UTC with microseconds.
const AT: &str = r#"to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#;

impl Legacy {
    fn logged_tables(&self) -> Vec<&'static str> {
        let mut tables = vec![USERS, FILES];
        if self.lineage_source() == shared::migration::LineageSource::Table {
            tables.push(EDGES);
        }
        tables
    }

    /// Creates (or re-creates) the log and its triggers, in one transaction.
    pub fn install_capture(&mut self) -> Result<()> {
        let mut sql = format!("BEGIN;\n{FUNCTION}\n");
        for table in self.logged_tables() {
            sql.push_str(&format!(
                "DROP TRIGGER IF EXISTS cutover_log_change ON {table};\n\
                 CREATE TRIGGER cutover_log_change AFTER INSERT OR UPDATE OR DELETE ON {table} \
                 FOR EACH ROW EXECUTE PROCEDURE cutover_log_change();\n"
            ));
        }
        sql.push_str("COMMIT;");
        self.db.batch_execute(&sql).map_err(|source| Error::Legacy {
            doing: Some("installing the change log on legacy".into()),
            source,
        })
    }

    /// Drops the triggers, the function and the log.
    pub fn remove_capture(&mut self) -> Result<()> {
        let mut sql = String::from("BEGIN;\n");
        for table in [USERS, FILES, EDGES] {
            sql.push_str(&format!(
                "DO $$ BEGIN IF to_regclass('{table}') IS NOT NULL THEN \
                 DROP TRIGGER IF EXISTS cutover_log_change ON {table}; END IF; END $$;\n"
            ));
        }
        sql.push_str(&format!(
            "DROP FUNCTION IF EXISTS cutover_log_change();\nDROP TABLE IF EXISTS {LOG};\nCOMMIT;"
        ));
        self.db.batch_execute(&sql).map_err(|source| Error::Legacy {
            doing: Some("removing the change log from legacy".into()),
            source,
        })
    }

    /// From now on this connection's writes are the replicator's: not logged.
    pub fn mark_replicating(&mut self) -> Result<()> {
        self.db
            .batch_execute("SET cutover.replicating = 'on'")
            .map_err(Error::from)
    }

    /// How many changes the log holds (not yet applied on the app).
    pub fn log_len(&mut self) -> Result<i64> {
        self.db
            .query_one(&format!("SELECT COUNT(*)::bigint FROM {LOG}"), &[])
            .map(|r| r.get(0))
            .map_err(Error::from)
    }

    /// The first `limit` changes in the log, in order. The log is a queue, not a
    /// sequence to keep a place in: sequence numbers are taken when a change is
    /// made but become visible when its transaction commits, so a lower number
    /// can appear after a higher one was read. Entries leave the log only when
    /// applied ([`Legacy::acknowledge`]). An entry of a kind or operation this
    /// version does not know is an error, not skipped.
    pub fn changes(&mut self, limit: i64) -> Result<Vec<Change>> {
        let rows = self.db.query(
            &format!("SELECT seq, kind, key, op, {AT} FROM {LOG} ORDER BY seq LIMIT $1"),
            &[&limit],
        )?;
        rows.iter()
            .map(|r| {
                let (kind, op): (String, String) = (r.get(1), r.get(3));
                Ok(Change {
                    seq: r.get(0),
                    kind: serde_json::from_value(serde_json::json!(kind)).map_err(|_| {
                        Error::Check(format!("legacy change log: unknown kind {kind:?}"))
                    })?,
                    key: r.get(2),
                    op: serde_json::from_value(serde_json::json!(op)).map_err(|_| {
                        Error::Check(format!("legacy change log: unknown op {op:?}"))
                    })?,
                    at: r.get(4),
                })
            })
            .collect()
    }

    /// Moves these entries to the back of the queue (new sequence numbers, their
    /// time kept) unless they were logged more than `patience` ago; returns
    /// the (former) numbers of those it kept. What it does not keep,
    /// [`Legacy::acknowledge`] drops.
    pub fn requeue(&mut self, waiting: &[Change], patience: Duration) -> Result<Vec<i64>> {
        let seqs: Vec<i64> = waiting.iter().map(|c| c.seq).collect();
        let seconds = patience.as_secs_f64();
        self.db
            .query(
                &format!(
                    "UPDATE {LOG} c SET seq = nextval(pg_get_serial_sequence('{LOG}', 'seq')) \
                     FROM (SELECT seq AS old FROM {LOG} WHERE seq = ANY($1) \
                           AND at > clock_timestamp() - make_interval(secs => $2)) w \
                     WHERE c.seq = w.old RETURNING w.old"
                ),
                &[&seqs, &seconds],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(Error::from)
    }

    /// Whether the log holds a deletion of this file not yet applied on the app
    /// (false when there is no log: nothing captures legacy's changes).
    pub fn deletion_pending(&mut self, file_id: &str) -> Result<bool> {
        let logged: Option<String> = self
            .db
            .query_one(&format!("SELECT to_regclass('{LOG}')::text"), &[])
            .map(|r| r.get(0))?;
        if logged.is_none() {
            return Ok(false);
        }
        self.db
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {LOG} \
                     WHERE kind = 'file' AND op = 'delete' AND key = $1)"
                ),
                &[&file_id],
            )
            .map(|r| r.get(0))
            .map_err(Error::from)
    }

    /// Drops these applied entries from the log.
    pub fn acknowledge(&mut self, applied: &[Change]) -> Result<()> {
        let seqs: Vec<i64> = applied.iter().map(|c| c.seq).collect();
        self.db
            .execute(&format!("DELETE FROM {LOG} WHERE seq = ANY($1)"), &[&seqs])
            .map(|_| ())
            .map_err(Error::from)
    }
}
