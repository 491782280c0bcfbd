//! `migrate` and `sync`: legacy users, files and lineage into the app, batch by
//! batch in primary-key order. Every step is an idempotent upsert on the app, so a
//! run that was killed resumes from the checkpoint's cursors and redoes at most
//! one batch, and a second full run changes nothing. `sync` also removes from the
//! app the imported files legacy no longer has.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
use shared::migration::bundle::{bundle_ranges, BUNDLE_FILE_MAX};
use shared::migration::changes::{parse_edge_key, Change, Kind, Op};
use shared::migration::{
    check_edge, check_file, check_user, edges_from_metadata, EdgeRecord, FileRecord, LineageSource,
};

use crate::api::Api;
use crate::error::{Error, Result};
use crate::legacy::{self, Legacy, LegacyFile, Page};
use crate::media;
use crate::parallel::parallel;
use crate::report::{Report, Tally};
use crate::state::{Cursors, Known, State};

#[derive(Clone, Copy)]
pub struct Options {
    pub batch: i64,
    pub jobs: usize,
    pub strict: bool,
    /// Also delete what legacy deleted (`sync`).
    pub deletions: bool,
}

/// A file whose bytes are to be sent: its record, where they are, and what the
/// checkpoint will know of them.
type Upload = (FileRecord, PathBuf, Known);
/// The app's answer for one file, its refusal (`Ok(Err)`), or no answer (`Err`).
type Answer = Result<Result<Value>>;

#[derive(Clone, Copy)]
enum Table {
    Users,
    Files,
    Relationships,
}

impl Table {
    /// How a report names one of its rows.
    fn item(self) -> &'static str {
        match self {
            Table::Users => "user",
            Table::Files => "file",
            Table::Relationships => "relationship",
        }
    }
}

struct Run<'a> {
    api: &'a Api,
    legacy: &'a mut Legacy,
    media: PathBuf,
    state: &'a mut State,
    opts: Options,
    report: Report,
    user_id_offset: i64,
    /// Replicating: lineage rows refused because a file is not on the app yet,
    /// set aside to be tried again in a later round instead of reported.
    waiting: Option<Vec<EdgeRecord>>,
}

impl Run<'_> {
    /// Records the per-item outcome; `--strict` stops at the first problem.
    fn problem(&mut self, item: String, error: String) -> Result<()> {
        self.report.problem(item.clone(), error.clone());
        if self.opts.strict {
            return Err(Error::Strict { item, error });
        }
        Ok(())
    }

    fn tally(&mut self, table: Table) -> &mut Tally {
        match table {
            Table::Users => &mut self.report.users,
            Table::Files => &mut self.report.files,
            Table::Relationships => &mut self.report.relationships,
        }
    }

    fn failed(&mut self, table: Table, id: &str, why: String) -> Result<()> {
        self.tally(table).failed += 1;
        self.problem(format!("{} {id}", table.item()), why)
    }

    /// Checks `items` with the rules the app applies (a bad record is reported
    /// alone, not sent), sends the rest as one batch and tallies each result. A
    /// batch the app refuses is reported per record; only an app that cannot be
    /// reached stops the run (its cursor stays, so the batch is redone).
    fn send_batch<T>(
        &mut self,
        table: Table,
        (what, key): (&str, &str),
        items: Vec<T>,
        record: impl Fn(&T) -> Value,
        id_of: impl Fn(&T) -> String,
        check: impl Fn(&T) -> Result<()>,
    ) -> Result<Vec<(T, Value)>> {
        let mut valid = Vec::new();
        for item in items {
            match check(&item) {
                Ok(()) => valid.push(item),
                Err(why) => self.failed(table, &id_of(&item), why.to_string())?,
            }
        }
        if valid.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<Value> = valid.iter().map(record).collect();
        match self.api.import(what, key, Value::Array(records))? {
            Ok(results) => {
                for (item, r) in valid.iter().zip(&results) {
                    let status = r["status"].as_str().unwrap_or("failed");
                    let waits = matches!(table, Table::Relationships)
                        && status == "missing"
                        && self.waiting.is_some();
                    if status != "needs_content" && !waits {
                        self.tally(table).count(status);
                    }
                    if matches!(status, "conflict" | "missing") && !waits {
                        let detail = r["detail"].as_str().unwrap_or(status).to_string();
                        self.problem(format!("{} {}", table.item(), id_of(item)), detail)?;
                    }
                }
                Ok(valid.into_iter().zip(results).collect())
            }
            Err(refusal) => {
                for item in &valid {
                    self.failed(table, &id_of(item), refusal.to_string())?;
                }
                Ok(Vec::new())
            }
        }
    }

    /// The next page of `table` after the checkpoint's cursor (its unreadable rows
    /// reported), with the primary key to move the cursor to; `None` at the end.
    fn next_page<T>(
        &mut self,
        table: Table,
        read: impl FnOnce(&mut Legacy, i64, i64) -> Result<Page<T>>,
    ) -> Result<Option<(Vec<T>, i64)>> {
        let cursors = self.state.run.clone().unwrap_or_default();
        let after = match table {
            Table::Users => cursors.users,
            Table::Files => cursors.files,
            Table::Relationships => cursors.relationships,
        };
        let page = read(self.legacy, after, self.opts.batch)?;
        for (item, error) in page.unreadable {
            self.tally(table).failed += 1;
            self.problem(item, error)?;
        }
        Ok(page.last.map(|last| (page.rows, last)))
    }

    /// Moves `table`'s cursor to `last` and saves the checkpoint.
    fn checkpoint(&mut self, table: Table, last: i64) -> Result<()> {
        let cursors = self.state.run.get_or_insert_with(Cursors::default);
        match table {
            Table::Users => cursors.users = last,
            Table::Files => cursors.files = last,
            Table::Relationships => cursors.relationships = last,
        }
        self.report.tick();
        self.state.save()
    }

    fn users(&mut self) -> Result<()> {
        while let Some((users, last)) = self.next_page(Table::Users, Legacy::users)? {
            // Ids from USER_ID_OFFSET up are the app's own users, which
            // reverse-sync wrote to legacy: the app already has them.
            let offset = self.user_id_offset;
            let users: Vec<_> = users.into_iter().filter(|u| u.id < offset).collect();
            self.send_batch(
                Table::Users,
                ("users", "users"),
                users,
                |u| json!(u),
                |u| u.id.to_string(),
                |u| check_user(u, offset).map_err(Error::Check),
            )?;
            self.checkpoint(Table::Users, last)?;
        }
        Ok(())
    }

    fn files(&mut self) -> Result<()> {
        while let Some((rows, last)) = self.next_page(Table::Files, Legacy::files)? {
            self.file_batch(&rows)?;
            self.checkpoint(Table::Files, last)?;
        }
        Ok(())
    }

    /// Hashes a batch's files (reusing the checkpoint's hashes of untouched
    /// files), sends their rows, then the bytes of those the app asks for.
    fn file_batch(&mut self, rows: &[LegacyFile]) -> Result<()> {
        let media = &self.media;
        let known = &self.state.files;
        let prints = parallel(rows, self.opts.jobs, |f| {
            let path = media::locate(media, &f.file_path, &f.file_name);
            let print = media::fingerprint(&path, known.get(&f.file_id));
            (path, print)
        });
        let mut ready: Vec<Upload> = Vec::new();
        for (f, (path, print)) in rows.iter().zip(prints) {
            match print {
                Ok(k) => ready.push((record(f, &k), path, k)),
                // Legacy removes the bytes before the row: a row whose bytes are
                // gone is being deleted (or broken), and redoing it cannot help.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.report.files.missing += 1;
                    let why = format!("missing from the media folder ({})", path.display());
                    self.problem(format!("file {}", f.file_id), why)?;
                }
                Err(e) => {
                    let why = format!("unreadable ({}): {e}", path.display());
                    self.failed(Table::Files, &f.file_id, why)?;
                }
            }
        }
        let answered = self.send_batch(
            Table::Files,
            ("files", "files"),
            ready,
            |(rec, _, _)| json!(rec),
            |(rec, _, _)| rec.file_id.clone(),
            |(rec, _, _)| check_file(rec).map_err(Error::Check),
        )?;
        let mut uploads = Vec::new();
        for ((rec, path, known), result) in answered {
            match result["status"].as_str() {
                Some("needs_content") => uploads.push((rec, path, known)),
                Some("created" | "updated" | "unchanged") => {
                    self.state.files.insert(rec.file_id.clone(), known);
                }
                _ => {}
            }
        }
        for ((rec, path, known), outcome) in self.send_contents(uploads)? {
            match outcome {
                Ok(Ok(answer)) => {
                    self.report
                        .files
                        .count(answer["status"].as_str().unwrap_or("failed"));
                    self.report.bytes_sent += rec.size;
                    self.state.files.insert(rec.file_id.clone(), known);
                }
                // Deleted on legacy since it was hashed (see above).
                Ok(Err(e)) | Err(e) if !path.exists() => {
                    self.report.files.missing += 1;
                    self.problem(format!("file {}", rec.file_id), e.to_string())?;
                }
                Ok(Err(refusal)) => self.failed(Table::Files, &rec.file_id, refusal.to_string())?,
                // The batch's checkpoint stays: the next run sends it again.
                Err(unreachable) => return Err(unreachable),
            }
        }
        Ok(())
    }

    /// Sends the bytes of these files, `jobs` requests at a time: small ones in
    /// bundles, the rest (and the files of a refused bundle, to learn which of
    /// them is refused) one a request. Each file with the app's answer for it.
    fn send_contents(&self, uploads: Vec<Upload>) -> Result<Vec<(Upload, Answer)>> {
        let api = self.api;
        let (small, mut single): (Vec<Upload>, Vec<Upload>) = uploads
            .into_iter()
            .partition(|(rec, _, _)| rec.size <= BUNDLE_FILE_MAX);
        let sizes: Vec<u64> = small.iter().map(|(rec, _, _)| rec.size).collect();
        let ranges = bundle_ranges(&sizes, self.opts.jobs);
        let answers = parallel(&ranges, self.opts.jobs, |range| {
            let files: Vec<(&FileRecord, &Path)> = small[range.clone()]
                .iter()
                .map(|(rec, path, _)| (rec, path.as_path()))
                .collect();
            api.put_bundle(&files)
        });
        let mut sent = Vec::new();
        let mut small = small.into_iter();
        for (range, answer) in ranges.iter().zip(answers) {
            let files = small.by_ref().take(range.len());
            match answer? {
                Ok(results) => sent.extend(files.zip(results.into_iter().map(|r| Ok(Ok(r))))),
                Err(_refused) => single.extend(files),
            }
        }
        let answers = parallel(&single, self.opts.jobs, |(rec, path, _)| {
            api.put_file(rec, path)
        });
        sent.extend(single.into_iter().zip(answers));
        Ok(sent)
    }

    fn relationships(&mut self) -> Result<()> {
        while let Some((edges, last)) = self.next_page(Table::Relationships, Legacy::edges)? {
            self.send_edges(edges)?;
            self.checkpoint(Table::Relationships, last)?;
        }
        Ok(())
    }

    /// Deletes from the app the imported files that legacy no longer has.
    fn deletions(&mut self) -> Result<()> {
        let present = self.legacy.file_ids()?;
        let mut gone = Vec::new();
        self.api
            .export_all("files", "files", 0, "&origin=legacy", |f| {
                let id = f["file_id"].as_str().unwrap_or_default().to_string();
                if !present.contains(&id) {
                    gone.push(id);
                }
                Ok(())
            })?;
        for chunk in gone.chunks(self.opts.batch.max(1) as usize) {
            self.delete_on_app(chunk, false)?;
            self.report.tick();
            self.state.save()?;
        }
        Ok(())
    }

    /// Deletes files on the app; `replicated`: legacy logged their deletion, so
    /// the app's own files go too.
    fn delete_on_app(&mut self, ids: &[String], replicated: bool) -> Result<()> {
        let what = match replicated {
            true => "files/delete?replicated=true",
            false => "files/delete",
        };
        self.send_batch(
            Table::Files,
            (what, "file_ids"),
            ids.to_vec(),
            |id| json!(id),
            String::clone,
            |_| Ok(()),
        )?;
        for id in ids {
            self.state.files.remove(id);
        }
        Ok(())
    }
}

impl Run<'_> {
    /// Legacy's logged changes, applied to the app: users, then files (bytes
    /// included) and their lineage, then deletions, each record as it is now.
    fn apply(&mut self, changes: &[Change]) -> Result<()> {
        let keys = |kind: Kind, op: Op| -> Vec<String> {
            changes
                .iter()
                .filter(|c| c.kind == kind && c.op == op)
                .map(|c| c.key.clone())
                .collect()
        };
        let batch = self.opts.batch.max(1) as usize;
        let user_ids: Vec<i64> = keys(Kind::User, Op::Upsert)
            .iter()
            .filter_map(|k| k.parse().ok())
            .collect();
        for ids in user_ids.chunks(batch) {
            let offset = self.user_id_offset;
            let users = self.legacy.users_by_id(ids)?;
            self.send_batch(
                Table::Users,
                ("users", "users"),
                users.into_iter().filter(|u| u.id < offset).collect(),
                |u| json!(u),
                |u| u.id.to_string(),
                |u| check_user(u, offset).map_err(Error::Check),
            )?;
        }
        for ids in keys(Kind::File, Op::Upsert).chunks(batch) {
            let (rows, unreadable) = self.legacy.files_by_id(ids)?;
            for (item, error) in unreadable {
                self.report.files.failed += 1;
                self.problem(item, error)?;
            }
            self.file_batch(&rows)?;
            if self.legacy.lineage_source() == LineageSource::Metadata {
                let edges = rows
                    .iter()
                    .flat_map(|f| {
                        edges_from_metadata(&f.file_id, f.metadata.as_deref().unwrap_or(""))
                    })
                    .collect();
                self.send_edges(edges)?;
            }
        }
        let edges: Vec<EdgeRecord> = keys(Kind::Edge, Op::Upsert)
            .iter()
            .filter_map(|k| edge_of_change(k))
            .collect();
        for chunk in edges.chunks(batch) {
            self.send_edges(chunk.to_vec())?;
        }
        for ids in keys(Kind::File, Op::Delete).chunks(batch) {
            self.delete_on_app(ids, true)?;
        }
        for id in keys(Kind::User, Op::Delete) {
            // Neither side deletes accounts; one removed by hand is not copied.
            self.report.users.missing += 1;
            self.problem(
                format!("user {id}"),
                "deleted on legacy; account deletions are not replicated".into(),
            )?;
        }
        Ok(())
    }

    fn send_edges(&mut self, edges: Vec<EdgeRecord>) -> Result<()> {
        let answered = self.send_batch(
            Table::Relationships,
            ("relationships", "relationships"),
            edges,
            |e| json!(e),
            |e| format!("{} -[{}]- {}", e.parent_id, e.relationship, e.child_id),
            |e| check_edge(e).map_err(Error::Check),
        )?;
        if let Some(waiting) = &mut self.waiting {
            waiting.extend(
                answered
                    .into_iter()
                    .filter(|(_, r)| r["status"] == "missing")
                    .map(|(e, _)| e),
            );
        }
        Ok(())
    }
}

/// What a round did to the app, and the changes it could not apply yet.
pub struct Applied {
    pub report: Report,
    /// Lineage changes refused because one of their files is not on the app yet
    /// (its own change is still to come, or was refused for now) while the row
    /// still exists on legacy: kept in legacy's log to be tried again.
    pub waiting: Vec<Change>,
}

/// Applies legacy's logged changes to the app (`replicate`); per-record problems
/// are in the report, an app that cannot be reached is an error.
pub fn apply_changes(
    api: &Api,
    legacy: &mut Legacy,
    media: &Path,
    state: &mut State,
    (opts, user_id_offset): (Options, i64),
    changes: &[Change],
) -> Result<Applied> {
    let mut run = Run {
        api,
        legacy,
        media: media.to_path_buf(),
        state,
        opts,
        report: Report::new("replicate"),
        user_id_offset,
        waiting: Some(Vec::new()),
    };
    run.apply(changes)?;
    let refused = run.waiting.take().unwrap_or_default();
    let present = run.legacy.edges_present(&refused)?;
    let waiting = changes
        .iter()
        .filter(|c| c.kind == Kind::Edge && c.op == Op::Upsert)
        .filter(|c| edge_of_change(&c.key).is_some_and(|e| present.contains(&e)))
        .cloned()
        .collect();
    Ok(Applied {
        report: run.report,
        waiting,
    })
}

/// The app lineage row a logged edge key names (`parent child type`).
fn edge_of_change(key: &str) -> Option<EdgeRecord> {
    let (p, c, r) = parse_edge_key(key)?;
    let (source, target) = if r == shared::files::CUT_TO {
        (p, c)
    } else {
        (c, p)
    };
    EdgeRecord::from_legacy(source, target, r)
}

/// The app record of a legacy row whose bytes are `known`.
fn record(f: &LegacyFile, known: &Known) -> FileRecord {
    FileRecord {
        file_id: f.file_id.clone(),
        user_id: f.user_id,
        file_name: f.file_name.clone(),
        system_tags: f.system_tags.clone(),
        user_tags: f.user_tags.clone(),
        metadata: f.metadata.clone(),
        uploaded_at: f.uploaded_at.clone(),
        size: known.size,
        sha256: known.sha256.clone(),
    }
}

pub fn run(
    command: &'static str,
    api: &Api,
    database_url: &str,
    media: &Path,
    state_path: &Path,
    opts: Options,
) -> Result<Report> {
    let mut legacy = Legacy::connect(database_url)?;
    let mut report = Report::new(command);
    report.lineage_source = Some(legacy.lineage_source());
    let broken: Vec<&str> = {
        let problems = legacy.schema_problems()?;
        for (_, why) in &problems {
            report.problem("schema", why.clone());
        }
        if opts.strict && !problems.is_empty() {
            return Err(Error::Refused(
                "the legacy database is not the expected schema (--strict)".into(),
            ));
        }
        problems.iter().map(|(t, _)| *t).collect()
    };
    let mut total = 0;
    let edges_table = (legacy.lineage_source() == LineageSource::Table).then_some(legacy::EDGES);
    for table in [Some(legacy::USERS), Some(legacy::FILES), edges_table]
        .into_iter()
        .flatten()
    {
        if !broken.contains(&table) {
            total += legacy.count(table)? as u64;
        }
    }
    report.set_total_rows(total);
    let mut state = State::load(state_path)?;
    let mut run = Run {
        api,
        legacy: &mut legacy,
        media: media.to_path_buf(),
        state: &mut state,
        opts,
        report,
        user_id_offset: api.user_id_offset()?,
        waiting: None,
    };
    if let Some(c) = &run.state.run {
        eprintln!(
            "resuming from the checkpoint: users after #{}, files after #{}, relationships after #{}",
            c.users, c.files, c.relationships
        );
    }
    if !broken.contains(&legacy::USERS) {
        let since = Instant::now();
        run.users()?;
        run.report.phase_done("users", since);
    }
    if !broken.contains(&legacy::FILES) {
        let since = Instant::now();
        run.files()?;
        if run.opts.deletions {
            run.deletions()?;
        }
        run.report.phase_done("files", since);
    }
    // Lineage comes from its table, or (Neo4j era) from the files' metadata.
    let lineage_from = match run.legacy.lineage_source() {
        LineageSource::Table => legacy::EDGES,
        LineageSource::Metadata => legacy::FILES,
    };
    if !broken.contains(&lineage_from) {
        let since = Instant::now();
        run.relationships()?;
        run.report.phase_done("relationships", since);
    }
    run.state.run = None;
    run.state.save()?;
    Ok(run.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_edge_key_is_the_app_row_either_way_round() {
        let cut_to = edge_of_change("p c CUT_TO").unwrap();
        let cut_from = edge_of_change("p c CUT_FROM").unwrap();
        assert_eq!(
            (cut_to.parent_id.as_str(), cut_to.child_id.as_str()),
            ("p", "c")
        );
        assert_eq!(
            (cut_from.parent_id.as_str(), cut_from.child_id.as_str()),
            ("p", "c")
        );
        assert!(edge_of_change("p c SIBLING").is_none());
        assert!(edge_of_change("p c").is_none());
    }

    #[test]
    fn a_legacy_row_becomes_the_app_record_with_its_bytes_known() {
        let row = LegacyFile {
            user_id: 4,
            metadata: Some("{}".into()),
            ..LegacyFile::sample()
        };
        let known = Known {
            size: 12,
            mtime_ns: 5,
            sha256: "ab".into(),
        };
        let r = record(&row, &known);
        assert_eq!((r.file_id.as_str(), r.user_id, r.size), ("f1", 4, 12));
        assert_eq!(
            (r.sha256.as_str(), r.metadata.as_deref()),
            ("ab", Some("{}"))
        );
        assert_eq!(r.user_tags, ["x"]);
    }

    #[test]
    fn a_report_names_a_row_by_its_table() {
        assert_eq!(
            [Table::Users, Table::Files, Table::Relationships].map(Table::item),
            ["user", "file", "relationship"]
        );
    }
}
