//! `verify`: legacy against the app, table by table — every legacy row present and
//! equal on the app (users with their password hashes, so every login works the
//! same), nothing imported that legacy no longer has, and the bytes of every file
//! (or a random sample) hashed on both sides: from the media folder, and as the
//! app serves them from R2, against the checksum the app recorded. Any dead
//! letter the app holds fails it too.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use serde_json::{json, Value};
use shared::migration::{sample_indices, EdgeRecord, FileRecord, UserRecord};

use crate::api::Api;
use crate::app_log;
use crate::error::{Error, Result};
use crate::legacy::{Legacy, LegacyFile, Page};
use crate::media;
use crate::parallel::parallel;

pub struct Options {
    pub sample: Option<usize>,
    pub seed: u64,
    pub jobs: usize,
    /// Also require what the app made (its users and files) on legacy, as
    /// continuous replication keeps it.
    pub both_ways: bool,
    /// Both sides are serving: a mismatch of a record with a change still in
    /// either side's change log is in flight (reported, not failing).
    pub live: bool,
}

/// A change-log key (`kind`, `key`), as both sides' capture writes it.
type Record = (&'static str, String);

/// What does not match, and the records it depends on (none for unreadable
/// rows): in flight when any of them has a change on its way.
struct Mismatch {
    records: Vec<Record>,
    text: String,
}

impl Mismatch {
    fn user(id: i64, text: String) -> Mismatch {
        let records = vec![("user", id.to_string())];
        Mismatch { records, text }
    }
    fn file(id: &str, text: String) -> Mismatch {
        let records = vec![("file", id.to_string())];
        Mismatch { records, text }
    }
    /// An edge waits for its two files: the replicator refuses it until both
    /// are on the other side.
    fn edge(e: &EdgeRecord, text: String) -> Mismatch {
        let key = format!("{} {} {}", e.parent_id, e.child_id, e.relationship);
        let records = vec![
            ("edge", key),
            ("file", e.parent_id.clone()),
            ("file", e.child_id.clone()),
        ];
        Mismatch { records, text }
    }
    /// About no record a change log names (an unreadable row, a dead letter):
    /// never in flight.
    fn standing(text: String) -> Mismatch {
        let records = Vec::new();
        Mismatch { records, text }
    }
}

#[derive(Default)]
struct Table {
    legacy: usize,
    app: usize,
    missing: usize,
    different: usize,
    extra: usize,
}

impl Table {
    fn to_json(&self) -> Value {
        json!({"legacy": self.legacy, "app": self.app, "missing": self.missing,
               "different": self.different, "extra": self.extra})
    }
}

/// The JSON report and whether everything matched.
pub fn run(
    api: &Api,
    database_url: &str,
    media_root: &Path,
    opts: &Options,
) -> Result<(Value, bool)> {
    let mut legacy = Legacy::connect(database_url)?;
    let schema: Vec<String> = legacy
        .schema_problems()?
        .into_iter()
        .map(|(_, why)| format!("schema: {why}"))
        .collect();
    if !schema.is_empty() {
        return Ok((json!({"command": "verify", "mismatches": schema}), false));
    }
    let mut v = Verify {
        offset: api.user_id_offset()?,
        api,
        legacy,
        media_root,
        opts,
        mismatches: Vec::new(),
        warnings: Vec::new(),
        pending: HashSet::new(),
    };
    // Records with a change on its way, read from both logs right before and
    // right after each table is read on both sides: an entry stays in its log
    // until applied, so a mismatch seen because a change had not crossed yet is
    // caught by one of these reads.
    v.note_pending()?;
    let users = v.users()?;
    v.note_pending()?;
    let (files, both, legacy_file_ids) = v.files()?;
    v.note_pending()?;
    let checked = v.bytes(both)?;
    v.note_pending()?;
    let edges = v.relationships(legacy_file_ids)?;
    let dead_letters = v.dead_letters()?;
    v.note_pending()?;

    let pending = &v.pending;
    let (in_flight, mismatches): (Vec<Mismatch>, Vec<Mismatch>) = v
        .mismatches
        .into_iter()
        .partition(|m| m.records.iter().any(|r| pending.contains(r)));
    let texts = |ms: Vec<Mismatch>| ms.into_iter().map(|m| m.text).collect::<Vec<_>>();
    let (in_flight, mismatches) = (texts(in_flight), texts(mismatches));
    let ok = mismatches.is_empty();
    let report = json!({
        "command": "verify",
        "ok": ok,
        "dead_letters": dead_letters,
        "lineage_source": v.legacy.lineage_source(),
        "tables": {"users": users.to_json(), "files": files.to_json(), "relationships": edges.to_json()},
        "checksums": {"checked": checked, "of": files.legacy, "sample_seed": opts.sample.map(|_| opts.seed)},
        "password_hashes_compared": users.legacy - users.missing,
        "mismatches": mismatches,
        "in_flight": opts.live.then_some(in_flight),
        "warnings": v.warnings,
    });
    Ok((report, ok))
}

/// A verify under way: both sides, and what it has found so far.
struct Verify<'a> {
    api: &'a Api,
    legacy: Legacy,
    media_root: &'a Path,
    opts: &'a Options,
    /// The app's `USER_ID_OFFSET`: below it, legacy's users.
    offset: i64,
    mismatches: Vec<Mismatch>,
    warnings: Vec<String>,
    /// Records with a change on its way (a live verify).
    pending: HashSet<Record>,
}

/// Legacy's files that are on the app too, each with its app record.
type OnBoth = Vec<(LegacyFile, FileRecord)>;

impl Verify<'_> {
    /// Every legacy user on the app and equal (password hash included); with
    /// `both_ways`, every user the app made on legacy too.
    fn users(&mut self) -> Result<Table> {
        let offset = self.offset;
        let legacy_users = read_all(|after| self.legacy.users(after, 1000), &mut self.mismatches)?;
        let mut app_users: HashMap<i64, UserRecord> = HashMap::new();
        self.api.export_all("users", "users", 0, "", |u| {
            let u: UserRecord = serde_json::from_value(u)?;
            app_users.insert(u.id, u);
            Ok(())
        })?;
        let mut users = Table {
            legacy: legacy_users.len(),
            app: app_users.keys().filter(|id| **id < offset).count(),
            ..Table::default()
        };
        let on_legacy: HashMap<i64, &UserRecord> = legacy_users.iter().map(|u| (u.id, u)).collect();
        for u in &legacy_users {
            let found = app_users.get(&u.id).map(|a| same_user(u, a));
            self.compare_user(
                &mut users,
                u,
                found,
                ("not on the app", "differs on the app"),
            );
        }
        for id in app_users
            .keys()
            .filter(|id| **id < offset && !on_legacy.contains_key(id))
        {
            users.extra += 1;
            // Below the offset the app allocates nothing: such a row was put there by hand.
            self.warnings.push(format!(
                "user {id}: on the app below USER_ID_OFFSET, not on legacy"
            ));
        }
        if self.opts.both_ways {
            for a in app_users.values().filter(|u| u.id >= offset) {
                let found = on_legacy.get(&a.id).map(|l| same_user(l, a));
                let said = ("made on the app, not on legacy", "differs on legacy");
                self.compare_user(&mut users, a, found, said);
            }
        }
        Ok(users)
    }

    /// Tallies one user against the other side: `found` is `None` when it is
    /// not there, else whether it is the same; `said` is what a mismatch says
    /// (missing, different).
    fn compare_user(
        &mut self,
        users: &mut Table,
        u: &UserRecord,
        found: Option<bool>,
        (missing, different): (&str, &str),
    ) {
        let what = match found {
            None => {
                users.missing += 1;
                missing
            }
            Some(false) => {
                users.different += 1;
                different
            }
            Some(true) => return,
        };
        let text = format!("user {} ({}): {what}", u.id, u.username);
        self.mismatches.push(Mismatch::user(u.id, text));
    }

    /// Every legacy file on the app with the same row, nothing imported that
    /// legacy no longer has; with `both_ways`, every file the app made on
    /// legacy too. The files on both sides, and the ids of legacy's.
    fn files(&mut self) -> Result<(Table, OnBoth, HashSet<String>)> {
        let legacy_files: Vec<LegacyFile> =
            read_all(|after| self.legacy.files(after, 1000), &mut self.mismatches)?;
        // Files the app created may be on legacy too (written back by reverse-sync).
        let mut app_files: HashMap<String, (FileRecord, bool)> = HashMap::new();
        self.api.export_all("files", "files", 0, "", |f| {
            let imported = f["origin"] == "legacy";
            let f: FileRecord = serde_json::from_value(f)?;
            app_files.insert(f.file_id.clone(), (f, imported));
            Ok(())
        })?;
        let mut files = Table {
            legacy: legacy_files.len(),
            app: app_files.values().filter(|(_, imported)| *imported).count(),
            ..Table::default()
        };
        for f in &legacy_files {
            let text = match app_files.get(&f.file_id) {
                None => {
                    files.missing += 1;
                    format!("file {} ({}): not on the app", f.file_id, f.file_name)
                }
                Some((a, imported)) => match file_difference(f, a, *imported) {
                    Some(what) => {
                        files.different += 1;
                        format!("file {}: {what}", f.file_id)
                    }
                    None => continue,
                },
            };
            self.mismatches.push(Mismatch::file(&f.file_id, text));
        }
        let legacy_file_ids: HashSet<String> =
            legacy_files.iter().map(|f| f.file_id.clone()).collect();
        for (id, _) in app_files
            .iter()
            .filter(|(id, (_, imported))| *imported && !legacy_file_ids.contains(*id))
        {
            files.extra += 1;
            self.mismatches.push(Mismatch::file(
                id,
                format!("file {id}: imported, but legacy no longer has it"),
            ));
        }
        if self.opts.both_ways {
            for (id, (a, _)) in app_files
                .iter()
                .filter(|(id, (_, imported))| !*imported && !legacy_file_ids.contains(*id))
            {
                files.missing += 1;
                self.mismatches.push(Mismatch::file(
                    id,
                    format!(
                        "file {id} ({}): made on the app, not on legacy",
                        a.file_name
                    ),
                ));
            }
        }
        let both = legacy_files
            .into_iter()
            .filter_map(|f| app_files.remove(&f.file_id).map(|(a, _)| (f, a)))
            .collect();
        Ok((files, both, legacy_file_ids))
    }

    /// The bytes of the files on both sides (or a sample): legacy's file, the
    /// app's checksum, and the bytes the app serves. How many were checked.
    fn bytes(&mut self, mut both: OnBoth) -> Result<usize> {
        both.sort_by(|a, b| a.0.file_id.cmp(&b.0.file_id));
        let picked: Vec<&(LegacyFile, FileRecord)> = match self.opts.sample {
            Some(k) => sample_indices(both.len(), k, self.opts.seed)
                .into_iter()
                .map(|i| &both[i])
                .collect(),
            None => both.iter().collect(),
        };
        let (api, media_root) = (self.api, self.media_root);
        let checks = parallel(&picked, self.opts.jobs, |(l, a)| {
            check_bytes(api, media_root, l, a)
        });
        let checked = checks.len();
        let mut byte_problems = Vec::new();
        for ((l, _), problems) in picked.iter().zip(checks) {
            if !problems.is_empty() {
                byte_problems.push(l.file_id.clone());
            }
            self.mismatches
                .extend(problems.into_iter().map(|p| Mismatch::file(&l.file_id, p)));
        }
        if self.opts.live && !byte_problems.is_empty() {
            // Bytes are read long after the rows: a file deleted since (on legacy,
            // or on the app and already carried over) is a deletion in flight.
            let (still, _) = self.legacy.files_by_id(&byte_problems)?;
            let still: HashSet<&str> = still.iter().map(|f| f.file_id.as_str()).collect();
            self.pending.extend(
                byte_problems
                    .iter()
                    .filter(|id| !still.contains(id.as_str()))
                    .map(|id| ("file", id.clone())),
            );
        }
        Ok(checked)
    }

    /// Every lineage row of legacy's files on the app, and none more.
    fn relationships(&mut self, legacy_file_ids: HashSet<String>) -> Result<Table> {
        let legacy_edges = read_all(|after| self.legacy.edges(after, 1000), &mut self.mismatches)?;
        // Legacy keeps the rows of a deleted file, and the app drops them with the
        // file: while people write, a file deleted since the files were read
        // (its deletion perhaps replicated already) must not make its rows
        // expected. Judged by the files legacy has now, and had then.
        let legacy_file_ids = match self.opts.live {
            true => {
                let now = self.legacy.file_ids()?;
                legacy_file_ids.intersection(&now).cloned().collect()
            }
            false => legacy_file_ids,
        };
        let both_files = |e: &EdgeRecord| {
            legacy_file_ids.contains(&e.parent_id) && legacy_file_ids.contains(&e.child_id)
        };
        let mut app_edges: HashSet<EdgeRecord> = HashSet::new();
        self.api
            .export_all("relationships", "relationships", 0, "", |e| {
                let edge: EdgeRecord = serde_json::from_value(e)?;
                if both_files(&edge) {
                    app_edges.insert(edge);
                }
                Ok(())
            })?;
        let mut edges = Table {
            app: app_edges.len(),
            ..Table::default()
        };
        let mut expected = HashSet::new();
        for e in legacy_edges {
            if !both_files(&e) {
                // Legacy keeps edges of deleted files (Neo4j did); the app cannot.
                self.warnings.push(format!(
                    "relationship {} -> {}: a file of it is deleted on legacy",
                    e.parent_id, e.child_id
                ));
                continue;
            }
            edges.legacy += 1;
            if !app_edges.contains(&e) {
                edges.missing += 1;
                let text = format!(
                    "relationship {} -[{}]- {}: not on the app",
                    e.parent_id, e.relationship, e.child_id
                );
                self.mismatches.push(Mismatch::edge(&e, text));
            }
            expected.insert(e);
        }
        for e in app_edges.difference(&expected) {
            edges.extra += 1;
            let text = format!(
                "relationship {} -[{}]- {}: on the app only",
                e.parent_id, e.relationship, e.child_id
            );
            self.mismatches.push(Mismatch::edge(e, text));
        }
        Ok(edges)
    }

    /// Dead letters: files the app's queue consumer gave up on (stored bytes that
    /// are not the recorded ones, or every retry failed). Each is data at risk
    /// until an operator has handled and cleared it, so it fails the run. Their
    /// count.
    fn dead_letters(&mut self) -> Result<Value> {
        let dead = self.api.get("/api/admin/dead-letters")?;
        for letter in dead["dead_letters"].as_array().into_iter().flatten() {
            self.mismatches.push(Mismatch::standing(format!(
                "dead letter {}: file {} {}: {} (handle it, then DELETE /api/admin/dead-letters/{})",
                letter["id"],
                letter["file_id"].as_str().unwrap_or("?"),
                letter["reason"].as_str().unwrap_or("?"),
                letter["detail"].as_str().unwrap_or(""),
                letter["id"],
            )));
        }
        Ok(dead["count"].clone())
    }

    /// In a live verify, adds the records with a change not yet applied to the
    /// other side: every entry now in legacy's log or the app's (both drop an
    /// entry once it is applied).
    fn note_pending(&mut self) -> Result<()> {
        if !self.opts.live {
            return Ok(());
        }
        let logged = self.legacy.changes(i64::MAX).map_err(|e| {
            Error::Refused(format!(
                "a live verify reads legacy's change log ({e}): is `cutover replicate` running?"
            ))
        })?;
        self.pending
            .extend(logged.into_iter().map(|c| (c.kind.name(), c.key)));
        let mut after = 0;
        loop {
            let (changes, _) = app_log::changes(self.api, after, 1000)?;
            let Some(last) = changes.last().map(|c| c.change.seq) else {
                return Ok(());
            };
            after = last;
            self.pending.extend(
                changes
                    .into_iter()
                    .map(|c| (c.change.kind.name(), c.change.key)),
            );
        }
    }
}

/// Every row of a table, page by page; unreadable rows become mismatches.
fn read_all<T>(
    mut page: impl FnMut(i64) -> Result<Page<T>>,
    mismatches: &mut Vec<Mismatch>,
) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let p = page(after)?;
        rows.extend(p.rows);
        mismatches.extend(
            p.unreadable
                .into_iter()
                .map(|(i, e)| Mismatch::standing(format!("{i}: {e}"))),
        );
        match p.last {
            Some(l) => after = l,
            None => return Ok(rows),
        }
    }
}

/// Users agree on everything a login and the account depend on.
fn same_user(l: &UserRecord, a: &UserRecord) -> bool {
    (&l.username, &l.email, &l.password, l.is_active, l.is_admin)
        == (&a.username, &a.email, &a.password, a.is_active, a.is_admin)
}

/// What differs between a legacy row and its app row (the app may hold more
/// user tags: tags added on the app are kept).
fn file_difference(l: &LegacyFile, a: &FileRecord, imported: bool) -> Option<String> {
    if l.user_id != a.user_id {
        return Some(format!(
            "owner {} on legacy, {} on the app",
            l.user_id, a.user_id
        ));
    }
    if !imported {
        // Written back by reverse-sync under a name free in legacy's flat folder.
        return None;
    }
    if l.file_name != a.file_name {
        return Some(format!(
            "name {:?} on legacy, {:?} on the app",
            l.file_name, a.file_name
        ));
    }
    if l.system_tags != a.system_tags || !l.user_tags.iter().all(|t| a.user_tags.contains(t)) {
        return Some("tags differ".into());
    }
    if l.metadata != a.metadata {
        return Some("metadata differs".into());
    }
    None
}

/// Hashes the legacy file and the app's bytes; the problems found.
fn check_bytes(api: &Api, media_root: &Path, l: &LegacyFile, a: &FileRecord) -> Vec<String> {
    let path = media::locate(media_root, &l.file_path, &l.file_name);
    let local = File::open(&path)
        .and_then(|f| media::sha256_of(f, std::io::sink()))
        .map_err(|e| {
            Error::Check(format!(
                "file {}: legacy bytes unreadable ({}): {e}",
                l.file_id,
                path.display()
            ))
        });
    let served = api.download(&a.file_id).and_then(|found| {
        let (body, _) = found.ok_or_else(|| {
            Error::Check(format!("file {}: the app has no bytes for it", a.file_id))
        })?;
        media::sha256_of(body, std::io::sink())
            .map_err(|source| Error::Check(format!("file {}: download: {source}", a.file_id)))
    });
    let mut problems = Vec::new();
    match (local, served) {
        (Ok((local, _)), Ok((served, _))) => {
            if local != a.sha256 {
                problems.push(format!(
                    "file {}: legacy sha256 {local}, the app recorded {}",
                    l.file_id, a.sha256
                ));
            }
            if served != a.sha256 {
                problems.push(format!(
                    "file {}: the app serves sha256 {served}, recorded {}",
                    l.file_id, a.sha256
                ));
            }
        }
        (local, served) => problems.extend(
            local
                .err()
                .into_iter()
                .chain(served.err())
                .map(|e| e.to_string()),
        ),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, password: &str) -> UserRecord {
        UserRecord {
            id,
            username: format!("u{id}"),
            email: String::new(),
            password: password.into(),
            is_active: true,
            is_admin: false,
            created_at: "2024-01-01T00:00:00.000000Z".into(),
            last_login: None,
        }
    }

    fn app_file(l: &LegacyFile) -> FileRecord {
        FileRecord {
            file_id: l.file_id.clone(),
            user_id: l.user_id,
            file_name: l.file_name.clone(),
            system_tags: l.system_tags.clone(),
            user_tags: l.user_tags.clone(),
            metadata: l.metadata.clone(),
            uploaded_at: l.uploaded_at.clone(),
            size: 3,
            sha256: "00".into(),
        }
    }

    #[test]
    fn users_agree_on_what_a_login_depends_on() {
        let mut later = user(1, "pbkdf2$a");
        later.last_login = Some("2025-01-01T00:00:00.000000Z".into());
        assert!(same_user(&user(1, "pbkdf2$a"), &later));
        assert!(!same_user(&user(1, "pbkdf2$a"), &user(1, "pbkdf2$b")));
    }

    #[test]
    fn a_file_differs_by_owner_name_tags_or_metadata() {
        let l = LegacyFile::sample();
        let same = app_file(&l);
        assert_eq!(file_difference(&l, &same, true), None);
        let mut more_tags = app_file(&l);
        more_tags.user_tags.push("added on the app".into());
        assert_eq!(file_difference(&l, &more_tags, true), None);
        let mut owner = app_file(&l);
        owner.user_id = 2;
        assert_eq!(
            file_difference(&l, &owner, false).as_deref(),
            Some("owner 1 on legacy, 2 on the app")
        );
        let mut renamed = app_file(&l);
        renamed.file_name = "a_1.csv".into();
        // Written back under a free name: only an imported file must keep it.
        assert_eq!(file_difference(&l, &renamed, false), None);
        assert_eq!(
            file_difference(&l, &renamed, true).as_deref(),
            Some("name \"a.csv\" on legacy, \"a_1.csv\" on the app")
        );
        let mut tags = app_file(&l);
        tags.user_tags.clear();
        assert_eq!(
            file_difference(&l, &tags, true).as_deref(),
            Some("tags differ")
        );
        let mut metadata = app_file(&l);
        metadata.metadata = Some("{}".into());
        assert_eq!(
            file_difference(&l, &metadata, true).as_deref(),
            Some("metadata differs")
        );
    }

    #[test]
    fn an_edge_mismatch_waits_on_the_edge_and_both_its_files() {
        let e = EdgeRecord {
            parent_id: "p".into(),
            child_id: "c".into(),
            relationship: "CUT_FROM".into(),
        };
        let m = Mismatch::edge(&e, "relationship".into());
        assert_eq!(
            m.records,
            [
                ("edge", "p c CUT_FROM".to_string()),
                ("file", "p".to_string()),
                ("file", "c".to_string())
            ]
        );
        assert!(Mismatch::standing("dead letter".into()).records.is_empty());
    }

    #[test]
    fn every_page_is_read_and_unreadable_rows_are_mismatches() {
        let pages = [
            Page {
                rows: vec![1, 2],
                unreadable: vec![("user 3".to_string(), "unreadable row: bad".to_string())],
                last: Some(3),
            },
            Page {
                rows: vec![4],
                unreadable: Vec::new(),
                last: Some(4),
            },
        ];
        let mut afters = Vec::new();
        let mut pages = pages.into_iter();
        let mut mismatches = Vec::new();
        let rows = read_all(
            |after| {
                afters.push(after);
                Ok(pages.next().unwrap_or(Page {
                    rows: Vec::new(),
                    unreadable: Vec::new(),
                    last: None,
                }))
            },
            &mut mismatches,
        )
        .unwrap();
        assert_eq!(rows, [1, 2, 4]);
        assert_eq!(afters, [0, 3, 4]);
        assert_eq!(mismatches.len(), 1);
        assert_eq!(mismatches[0].text, "user 3: unreadable row: bad");
        assert!(mismatches[0].records.is_empty());
    }

    #[test]
    fn a_table_reports_its_five_counts() {
        let t = Table {
            legacy: 3,
            app: 2,
            missing: 1,
            ..Table::default()
        };
        assert_eq!(
            t.to_json(),
            json!({"legacy": 3, "app": 2, "missing": 1, "different": 0, "extra": 0})
        );
    }
}
