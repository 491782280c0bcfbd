//! `reverse-sync`: what the app created since the checkpoint, written back to
//! legacy so that a rollback loses nothing — users the app allocated (ids from
//! `USER_ID_OFFSET` up) with their Django-format hashes, files created on the
//! app (bytes into the media folder, checked against the app's SHA-256, then the
//! row), tags added on the app, and the lineage of app-made cuts. A username
//! legacy gave to another id meanwhile is a conflict and is not written.

use std::path::{Path, PathBuf};

use serde_json::Value;
use shared::files::union_tags;
use shared::migration::changes::{parse_edge_key, Kind, Op};
use shared::migration::{EdgeRecord, FileRecord, UserRecord};

use crate::api::Api;
use crate::app_log::Logged;
use crate::error::{Context, Error, Result};
use crate::legacy::{Legacy, LegacyFile};
use crate::media;
use crate::parallel::parallel;
use crate::report::Report;
use crate::state::State;

pub fn run(
    api: &Api,
    database_url: &str,
    media_root: &Path,
    state_path: &Path,
    jobs: usize,
) -> Result<Report> {
    let mut legacy = Legacy::connect(database_url)?;
    // What the app had is not a change of legacy's: a replicator must not send it back.
    legacy.mark_replicating()?;
    let mut state = State::load(state_path)?;
    let mut report = Report::new("reverse-sync");
    report.lineage_source = Some(legacy.lineage_source());
    let schema = legacy.schema_problems()?;
    if let Some((_, why)) = schema.first() {
        return Err(Error::Refused(format!(
            "the legacy database is not the expected schema: {why}"
        )));
    }
    let offset = api.user_id_offset()?;

    let mut users = Vec::new();
    api.export_all("users", "users", offset - 1, "", |u| {
        users.push(serde_json::from_value::<UserRecord>(u)?);
        Ok(())
    })?;
    for u in &users {
        copy_user(&mut legacy, u, &mut report)?;
        report.tick();
    }

    let since = state.reverse_since.clone();
    let query = since
        .as_deref()
        .map(|s| format!("&updated_since={s}"))
        .unwrap_or_default();
    let mut files: Vec<Value> = Vec::new();
    api.export_all("files", "files", 0, &query, |f| {
        files.push(f);
        Ok(())
    })?;
    let mut watermark = since.clone();
    let mut first_failure: Option<String> = None;
    let records = files.iter().map(file_of).collect::<Result<Vec<_>>>()?;
    let written = write_files(api, &mut legacy, media_root, &records, jobs);
    for ((f, (record, _)), outcome) in files.iter().zip(&records).zip(written) {
        let updated = f["updated_at"].as_str().map(str::to_string);
        if !count_file(&mut report, record, outcome)? {
            first_failure = first_failure.min(updated.clone()).or(updated.clone());
        }
        watermark = watermark.max(updated);
        report.tick();
    }

    api.export_all("relationships", "relationships", 0, "", |e| {
        if e["child_origin"] != "app" {
            return Ok(());
        }
        let edge: EdgeRecord = serde_json::from_value(e)?;
        let item = format!("relationship {} -> {}", edge.parent_id, edge.child_id);
        write_edge(&mut legacy, &edge, item, &mut report)
    })?;

    // `updated_since` is inclusive: rows of the watermark's instant are read again
    // and found unchanged, and a failed file holds the watermark at its own time
    // so that the next run retries it.
    state.reverse_since = first_failure.or(watermark);
    state.save()?;
    Ok(report)
}

/// Applies the app's logged changes to legacy (`replicate`) over `legacy`, whose
/// writes are not logged: users, files (bytes included), lineage, then
/// deletions. A record that cannot be written (its owner is a username
/// conflict, its bytes do not check out) is reported; an app or database that
/// does not answer is an error, so that the round is retried from the same
/// checkpoint and nothing is skipped.
pub fn apply_changes(
    api: &Api,
    legacy: &mut Legacy,
    media_root: &Path,
    changes: &[Logged],
    jobs: usize,
) -> Result<Report> {
    let mut report = Report::new("replicate");
    let of = |kind: Kind, op: Op| {
        changes
            .iter()
            .filter(move |l| l.change.kind == kind && l.change.op == op)
    };
    for l in of(Kind::User, Op::Upsert).filter(|l| !l.record.is_null()) {
        let u: UserRecord = serde_json::from_value(l.record.clone())?;
        copy_user(legacy, &u, &mut report)?;
    }
    let records = of(Kind::File, Op::Upsert)
        .filter(|l| !l.record.is_null())
        .map(|l| file_of(&l.record))
        .collect::<Result<Vec<_>>>()?;
    let written = write_files(api, legacy, media_root, &records, jobs);
    for ((f, _), outcome) in records.iter().zip(written) {
        count_file(&mut report, f, outcome)?;
    }
    for (l, edge) in of(Kind::Edge, Op::Upsert).filter_map(|l| Some((l, edge_of(&l.change.key)?))) {
        let item = format!("relationship {}", l.change.key);
        write_edge(legacy, &edge, item, &mut report)?;
    }
    for edge in of(Kind::Edge, Op::Delete).filter_map(|l| edge_of(&l.change.key)) {
        let gone = legacy.delete_edge(&edge)?;
        report
            .relationships
            .count(if gone { "deleted" } else { "unchanged" });
    }
    for l in of(Kind::User, Op::Delete) {
        // Neither side deletes accounts; one removed by hand is not copied.
        report.users.count("missing");
        report.problem(
            format!("user {}", l.change.key),
            "deleted on the app; account deletions are not replicated",
        );
    }
    for l in of(Kind::File, Op::Delete) {
        match legacy.delete_file(&l.change.key)? {
            Some(path) => {
                // Only ever a file of the media folder (see media::locate).
                let _ = std::fs::remove_file(media::locate(media_root, &path, &l.change.key));
                report.files.count("deleted");
            }
            None => report.files.count("unchanged"),
        }
    }
    Ok(report)
}

/// An app file's record and its origin (`legacy` or `app`), from the export.
fn file_of(f: &Value) -> Result<(FileRecord, String)> {
    let origin = f["origin"].as_str().unwrap_or_default().to_string();
    Ok((serde_json::from_value(f.clone())?, origin))
}

/// Creates or updates an app user on legacy, counted (and reported when it
/// cannot be written) in `report`.
fn copy_user(legacy: &mut Legacy, u: &UserRecord, report: &mut Report) -> Result<()> {
    let (status, problem) = write_user(legacy, u)?;
    report.users.count(status);
    if let Some(why) = problem {
        report.problem(format!("user {} ({})", u.id, u.username), why);
    }
    Ok(())
}

/// Counts a file's outcome in `report`; whether it was written (a refused
/// file is reported). An app or database that did not answer fails the run
/// (or round), which is redone: its checkpoint does not move.
fn count_file(
    report: &mut Report,
    f: &FileRecord,
    outcome: Result<(&'static str, u64), WriteError>,
) -> Result<bool> {
    match outcome {
        Ok((status, size)) => {
            report.files.count(status);
            report.bytes_sent += size;
            Ok(true)
        }
        Err(WriteError::Unreachable(why)) => Err(why).context(format!("file {}", f.file_id)),
        Err(WriteError::Refused(why)) => {
            report.files.count(why.status());
            report.problem(format!("file {}", f.file_id), why.to_string());
            Ok(false)
        }
    }
}

/// Writes an app lineage row (`item` in the report) to legacy once both its
/// files are there.
fn write_edge(
    legacy: &mut Legacy,
    edge: &EdgeRecord,
    item: String,
    report: &mut Report,
) -> Result<()> {
    let present =
        |id: &str, legacy: &mut Legacy| legacy.file_owner_and_tags(id).map(|f| f.is_some());
    if !present(&edge.parent_id, legacy)? || !present(&edge.child_id, legacy)? {
        report.relationships.count("missing");
        report.problem(item, "a file of it is not on legacy");
    } else if legacy.insert_edge(edge)? {
        report.relationships.count("created");
    } else {
        report.relationships.count("unchanged");
    }
    Ok(())
}

fn edge_of(key: &str) -> Option<EdgeRecord> {
    let (parent_id, child_id, relationship) = parse_edge_key(key)?;
    Some(EdgeRecord {
        parent_id: parent_id.into(),
        child_id: child_id.into(),
        relationship: relationship.into(),
    })
}

/// Creates or updates an app user on legacy: `(status, problem)`.
fn write_user(legacy: &mut Legacy, u: &UserRecord) -> Result<(&'static str, Option<String>)> {
    if let Some(other) = legacy.user_id_of(&u.username)?.filter(|id| *id != u.id) {
        return Ok((
            "conflict",
            Some(format!(
                "username {:?} is user {other} on legacy",
                u.username
            )),
        ));
    }
    let status = match legacy.user(u.id)? {
        None => "created",
        Some(l)
            if (&l.username, &l.email, &l.password, l.is_active, l.is_admin)
                == (&u.username, &u.email, &u.password, u.is_active, u.is_admin) =>
        {
            return Ok(("unchanged", None));
        }
        Some(_) => "updated",
    };
    legacy.upsert_user(u)?;
    Ok((status, None))
}

/// Why an app file was not written to legacy.
enum WriteError {
    /// This file cannot be written: reported.
    Refused(Refusal),
    /// The app could not be reached or kept answering 5xx, or legacy's
    /// database could not be read: the run (or round) stops and is redone.
    Unreachable(Error),
}

/// Why legacy does not take an app file.
#[derive(Debug)]
enum Refusal {
    /// Its owner is not on legacy.
    OwnerMissing(i64),
    /// Legacy has the file as this other user's.
    OtherOwner(i64),
    /// Legacy deleted it after the round read legacy's log: a deletion wins
    /// over a change, and the next round applies it on the app.
    DeletionWins,
    /// The app refused its bytes, they do not match the app's checksum, or
    /// its row could not be written.
    Failed(Error),
}

impl Refusal {
    /// How a refused file counts: as missing when its owner is, as a conflict
    /// when legacy deleted it meanwhile, else as failed.
    fn status(&self) -> &'static str {
        match self {
            Refusal::OwnerMissing(_) => "missing",
            Refusal::DeletionWins => "conflict",
            Refusal::OtherOwner(_) | Refusal::Failed(_) => "failed",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::OwnerMissing(id) => write!(f, "owner user {id} is not on legacy"),
            Refusal::OtherOwner(id) => write!(f, "legacy has this file as user {id}'s"),
            Refusal::DeletionWins => {
                f.write_str("deleted on legacy while the app changed it: the deletion wins")
            }
            Refusal::Failed(why) => write!(f, "{why}"),
        }
    }
}

impl From<Refusal> for WriteError {
    fn from(why: Refusal) -> WriteError {
        WriteError::Refused(why)
    }
}

/// What a file needs: nothing more (written, or not to be), or its bytes.
enum Step<'a> {
    Done(Result<(&'static str, u64), WriteError>),
    Fetch(&'a FileRecord),
}

/// Writes app files (or their new tags) to legacy, each `(record, origin)`,
/// and says for each `(status, bytes written)`. Legacy's side is read and
/// written on its one connection; the bytes are fetched from the app `jobs`
/// files at a time, since each is a request the app may be slow to answer
/// while it serves its users.
fn write_files(
    api: &Api,
    legacy: &mut Legacy,
    media_root: &Path,
    files: &[(FileRecord, String)],
    jobs: usize,
) -> Vec<Result<(&'static str, u64), WriteError>> {
    let steps: Vec<Step> = files
        .iter()
        .map(|(f, origin)| match prepare(legacy, f, origin) {
            Ok(Some(done)) => Step::Done(Ok(done)),
            Ok(None) => Step::Fetch(f),
            Err(e) => Step::Done(Err(e)),
        })
        .collect();
    let wanted: Vec<&FileRecord> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Fetch(f) => Some(*f),
            Step::Done(_) => None,
        })
        .collect();
    let mut fetched = parallel(&wanted, jobs, |f| fetch(api, media_root, f)).into_iter();
    steps
        .into_iter()
        .map(|step| match step {
            Step::Done(outcome) => outcome,
            Step::Fetch(f) => match fetched.next().expect("one fetch per file") {
                Ok(Some(path)) => insert(legacy, f, path),
                // Deleted on the app since it was listed: its deletion comes next.
                Ok(None) => Ok(("missing", 0)),
                Err(e) => Err(e),
            },
        })
        .collect()
}

/// Legacy's side of a file: `Some` when that settles it (its tags merged, or
/// nothing to write), `None` when its bytes are to be fetched.
fn prepare(
    legacy: &mut Legacy,
    f: &FileRecord,
    origin: &str,
) -> Result<Option<(&'static str, u64)>, WriteError> {
    let db = WriteError::Unreachable;
    if let Some((owner, tags)) = legacy.file_owner_and_tags(&f.file_id).map_err(db)? {
        if owner != f.user_id {
            return Err(Refusal::OtherOwner(owner).into());
        }
        let merged = union_tags(&tags, &f.user_tags);
        if merged == tags {
            return Ok(Some(("unchanged", 0)));
        }
        legacy.set_user_tags(&f.file_id, &merged).map_err(db)?;
        return Ok(Some(("updated", 0)));
    }
    if origin != "app" {
        // An imported file legacy deleted since: sync removes it from the app.
        return Ok(Some(("unchanged", 0)));
    }
    if legacy.deletion_pending(&f.file_id).map_err(db)? {
        return Err(Refusal::DeletionWins.into());
    }
    if legacy.user(f.user_id).map_err(db)?.is_none() {
        return Err(Refusal::OwnerMissing(f.user_id).into());
    }
    Ok(None)
}

/// The file's bytes from the app into the media folder, checked against the
/// app's SHA-256; `None` when the app no longer has it.
fn fetch(api: &Api, media_root: &Path, f: &FileRecord) -> Result<Option<PathBuf>, WriteError> {
    let found = api.download(&f.file_id).map_err(|e| match e.is_refusal() {
        true => Refusal::Failed(e).into(),
        false => WriteError::Unreachable(e),
    })?;
    let Some((body, _)) = found else {
        return Ok(None);
    };
    media::store(media_root, &f.file_name, body, &f.sha256)
        .map(Some)
        .map_err(|e| Refusal::Failed(e).into())
}

/// The legacy row of a file whose bytes are at `path` (removed if the row
/// cannot be written).
fn insert(
    legacy: &mut Legacy,
    f: &FileRecord,
    path: PathBuf,
) -> Result<(&'static str, u64), WriteError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let absolute = std::fs::canonicalize(&path).unwrap_or(path.clone());
    let row = LegacyFile {
        file_id: f.file_id.clone(),
        user_id: f.user_id,
        file_name: name,
        file_path: absolute.display().to_string(),
        uploaded_at: f.uploaded_at.clone(),
        system_tags: f.system_tags.clone(),
        user_tags: f.user_tags.clone(),
        metadata: f.metadata.clone(),
    };
    if let Err(e) = legacy.insert_file(&row) {
        let _ = std::fs::remove_file(&path);
        return Err(Refusal::Failed(e).into());
    }
    Ok(("created", f.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_file_counts_by_why_and_says_it() {
        let cases = [
            (
                Refusal::OwnerMissing(7),
                "missing",
                "owner user 7 is not on legacy",
            ),
            (
                Refusal::OtherOwner(3),
                "failed",
                "legacy has this file as user 3's",
            ),
            (
                Refusal::DeletionWins,
                "conflict",
                "deleted on legacy while the app changed it: the deletion wins",
            ),
            (
                Refusal::Failed(Error::Check("checksum mismatch".into())),
                "failed",
                "checksum mismatch",
            ),
        ];
        for (why, status, text) in cases {
            assert_eq!((why.status(), why.to_string().as_str()), (status, text));
        }
    }

    #[test]
    fn a_logged_edge_key_names_the_app_row() {
        let edge = edge_of("p c CUT_FROM").unwrap();
        assert_eq!(
            (edge.parent_id.as_str(), edge.child_id.as_str()),
            ("p", "c")
        );
        assert_eq!(edge.relationship, "CUT_FROM");
        assert!(edge_of("only-one").is_none());
    }
}
