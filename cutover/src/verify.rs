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
use crate::legacy::{Legacy, LegacyFile, Page};
use crate::media;
use crate::migrate::parallel;

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
) -> Result<(Value, bool), String> {
    let mut legacy = Legacy::connect(database_url)?;
    let schema: Vec<String> = legacy
        .schema_problems()?
        .into_iter()
        .map(|(_, why)| format!("schema: {why}"))
        .collect();
    if !schema.is_empty() {
        return Ok((json!({"command": "verify", "mismatches": schema}), false));
    }
    let mut mismatches: Vec<Mismatch> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let offset = crate::api::user_id_offset(api)?;

    // Records with a change on its way, read from both logs right before and
    // right after each table is read on both sides: an entry stays in its log
    // until applied, so a mismatch seen because a change had not crossed yet is
    // caught by one of these reads.
    let mut pending: HashSet<Record> = HashSet::new();
    note_pending(opts.live, api, &mut legacy, &mut pending)?;

    // Users.
    let legacy_users = read_all(|after| legacy.users(after, 1000), &mut mismatches)?;
    let mut app_users: HashMap<i64, UserRecord> = HashMap::new();
    api.export_all("users", "users", 0, "", |u| {
        let u: UserRecord = serde_json::from_value(u).map_err(|e| e.to_string())?;
        app_users.insert(u.id, u);
        Ok(())
    })?;
    let mut users = Table {
        legacy: legacy_users.len(),
        app: app_users.keys().filter(|id| **id < offset).count(),
        ..Table::default()
    };
    let legacy_ids: HashSet<i64> = legacy_users.iter().map(|u| u.id).collect();
    for u in &legacy_users {
        match app_users.get(&u.id) {
            None => {
                users.missing += 1;
                mismatches.push(Mismatch::user(
                    u.id,
                    format!("user {} ({}): not on the app", u.id, u.username),
                ));
            }
            Some(a) if !same_user(u, a) => {
                users.different += 1;
                mismatches.push(Mismatch::user(
                    u.id,
                    format!("user {} ({}): differs on the app", u.id, u.username),
                ));
            }
            Some(_) => {}
        }
    }
    for id in app_users
        .keys()
        .filter(|id| **id < offset && !legacy_ids.contains(id))
    {
        users.extra += 1;
        // Below the offset the app allocates nothing: such a row was put there by hand.
        warnings.push(format!(
            "user {id}: on the app below USER_ID_OFFSET, not on legacy"
        ));
    }

    if opts.both_ways {
        let on_legacy: HashMap<i64, &UserRecord> = legacy_users.iter().map(|u| (u.id, u)).collect();
        for a in app_users.values().filter(|u| u.id >= offset) {
            match on_legacy.get(&a.id) {
                None => {
                    users.missing += 1;
                    mismatches.push(Mismatch::user(
                        a.id,
                        format!(
                            "user {} ({}): made on the app, not on legacy",
                            a.id, a.username
                        ),
                    ));
                }
                Some(l) if !same_user(l, a) => {
                    users.different += 1;
                    mismatches.push(Mismatch::user(
                        a.id,
                        format!("user {} ({}): differs on legacy", a.id, a.username),
                    ));
                }
                Some(_) => {}
            }
        }
    }

    note_pending(opts.live, api, &mut legacy, &mut pending)?;

    // Files.
    let legacy_files: Vec<LegacyFile> =
        read_all(|after| legacy.files(after, 1000), &mut mismatches)?;
    // Files the app created may be on legacy too (written back by reverse-sync).
    let mut app_files: HashMap<String, (FileRecord, bool)> = HashMap::new();
    api.export_all("files", "files", 0, "", |f| {
        let imported = f["origin"] == "legacy";
        let f: FileRecord = serde_json::from_value(f).map_err(|e| e.to_string())?;
        app_files.insert(f.file_id.clone(), (f, imported));
        Ok(())
    })?;
    let mut files = Table {
        legacy: legacy_files.len(),
        app: app_files.values().filter(|(_, imported)| *imported).count(),
        ..Table::default()
    };
    let mut both: Vec<(&LegacyFile, &FileRecord)> = Vec::new();
    for f in &legacy_files {
        match app_files.get(&f.file_id) {
            None => {
                files.missing += 1;
                mismatches.push(Mismatch::file(
                    &f.file_id,
                    format!("file {} ({}): not on the app", f.file_id, f.file_name),
                ));
            }
            Some((a, imported)) => {
                if let Some(what) = file_difference(f, a, *imported) {
                    files.different += 1;
                    mismatches.push(Mismatch::file(
                        &f.file_id,
                        format!("file {}: {what}", f.file_id),
                    ));
                }
                both.push((f, a));
            }
        }
    }
    let legacy_file_ids: HashSet<&str> = legacy_files.iter().map(|f| f.file_id.as_str()).collect();
    for (id, _) in app_files
        .iter()
        .filter(|(id, (_, imported))| *imported && !legacy_file_ids.contains(id.as_str()))
    {
        files.extra += 1;
        mismatches.push(Mismatch::file(
            id,
            format!("file {id}: imported, but legacy no longer has it"),
        ));
    }

    if opts.both_ways {
        for (id, (a, _)) in app_files
            .iter()
            .filter(|(id, (_, imported))| !*imported && !legacy_file_ids.contains(id.as_str()))
        {
            files.missing += 1;
            mismatches.push(Mismatch::file(
                id,
                format!(
                    "file {id} ({}): made on the app, not on legacy",
                    a.file_name
                ),
            ));
        }
    }

    note_pending(opts.live, api, &mut legacy, &mut pending)?;

    // Bytes: legacy file, app checksum, and the bytes the app serves.
    both.sort_by(|a, b| a.0.file_id.cmp(&b.0.file_id));
    let picked: Vec<(&LegacyFile, &FileRecord)> = match opts.sample {
        Some(k) => sample_indices(both.len(), k, opts.seed)
            .into_iter()
            .map(|i| both[i])
            .collect(),
        None => both,
    };
    let checks = parallel(&picked, opts.jobs, |(l, a)| {
        check_bytes(api, media_root, l, a)
    });
    let checked = checks.len();
    let mut byte_problems = Vec::new();
    for ((l, _), problems) in picked.iter().zip(checks) {
        if !problems.is_empty() {
            byte_problems.push(l.file_id.clone());
        }
        mismatches.extend(problems.into_iter().map(|p| Mismatch::file(&l.file_id, p)));
    }
    if opts.live && !byte_problems.is_empty() {
        // Bytes are read long after the rows: a file deleted since (on legacy,
        // or on the app and already carried over) is a deletion in flight.
        let (still, _) = legacy.files_by_id(&byte_problems)?;
        let still: HashSet<&str> = still.iter().map(|f| f.file_id.as_str()).collect();
        pending.extend(
            byte_problems
                .iter()
                .filter(|id| !still.contains(id.as_str()))
                .map(|id| ("file", id.clone())),
        );
    }

    // Lineage.
    note_pending(opts.live, api, &mut legacy, &mut pending)?;
    let legacy_edges = read_all(|after| legacy.edges(after, 1000), &mut mismatches)?;
    // Legacy keeps the rows of a deleted file, and the app drops them with the
    // file: while people write, a file deleted since the files were read
    // (its deletion perhaps replicated already) must not make its rows
    // expected. Judged by the files legacy has now, and had then.
    let files_now: HashSet<String> = match opts.live {
        true => legacy.file_ids()?,
        false => legacy_file_ids.iter().map(|id| id.to_string()).collect(),
    };
    let legacy_file_ids: HashSet<&str> = legacy_file_ids
        .iter()
        .copied()
        .filter(|id| files_now.contains(*id))
        .collect();
    let mut app_edges: HashSet<EdgeRecord> = HashSet::new();
    api.export_all("relationships", "relationships", 0, "", |e| {
        let edge: EdgeRecord = serde_json::from_value(e).map_err(|e| e.to_string())?;
        if legacy_file_ids.contains(edge.parent_id.as_str())
            && legacy_file_ids.contains(edge.child_id.as_str())
        {
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
        if !legacy_file_ids.contains(e.parent_id.as_str())
            || !legacy_file_ids.contains(e.child_id.as_str())
        {
            // Legacy keeps edges of deleted files (Neo4j did); the app cannot.
            warnings.push(format!(
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
            mismatches.push(Mismatch::edge(&e, text));
        }
        expected.insert(e);
    }
    for e in app_edges.difference(&expected) {
        edges.extra += 1;
        let text = format!(
            "relationship {} -[{}]- {}: on the app only",
            e.parent_id, e.relationship, e.child_id
        );
        mismatches.push(Mismatch::edge(e, text));
    }

    // Dead letters: files the app's queue consumer gave up on (stored bytes that
    // are not the recorded ones, or every retry failed). Each is data at risk
    // until an operator has handled and cleared it, so it fails the run.
    let dead = api.get("/api/admin/dead-letters")?;
    for letter in dead["dead_letters"].as_array().into_iter().flatten() {
        mismatches.push(Mismatch::standing(format!(
            "dead letter {}: file {} {}: {} (handle it, then DELETE /api/admin/dead-letters/{})",
            letter["id"],
            letter["file_id"].as_str().unwrap_or("?"),
            letter["reason"].as_str().unwrap_or("?"),
            letter["detail"].as_str().unwrap_or(""),
            letter["id"],
        )));
    }

    note_pending(opts.live, api, &mut legacy, &mut pending)?;
    let (in_flight, mismatches): (Vec<Mismatch>, Vec<Mismatch>) = mismatches
        .into_iter()
        .partition(|m| m.records.iter().any(|r| pending.contains(r)));
    let texts = |ms: Vec<Mismatch>| ms.into_iter().map(|m| m.text).collect::<Vec<_>>();
    let (in_flight, mismatches) = (texts(in_flight), texts(mismatches));
    let ok = mismatches.is_empty();
    let report = json!({
        "command": "verify",
        "ok": ok,
        "dead_letters": dead["count"],
        "lineage_source": legacy.lineage_source(),
        "tables": {"users": users.to_json(), "files": files.to_json(), "relationships": edges.to_json()},
        "checksums": {"checked": checked, "of": files.legacy, "sample_seed": opts.sample.map(|_| opts.seed)},
        "password_hashes_compared": legacy_users.len() - users.missing,
        "mismatches": mismatches,
        "in_flight": opts.live.then_some(in_flight),
        "warnings": warnings,
    });
    Ok((report, ok))
}

/// In a live verify, adds the records with a change not yet applied to the
/// other side: every entry now in legacy's log or the app's (both drop an entry
/// once it is applied).
fn note_pending(
    live: bool,
    api: &Api,
    legacy: &mut Legacy,
    pending: &mut HashSet<Record>,
) -> Result<(), String> {
    if !live {
        return Ok(());
    }
    pending.extend(
        legacy
            .changes(i64::MAX)
            .map_err(|e| {
                format!(
                "a live verify reads legacy's change log ({e}): is `cutover replicate` running?"
            )
            })?
            .into_iter()
            .map(|c| (c.kind.name(), c.key)),
    );
    let mut after = 0;
    loop {
        let (changes, _) = crate::api::changes(api, after, 1000)?;
        let Some(last) = changes.last().map(|c| c.change.seq) else {
            return Ok(());
        };
        after = last;
        pending.extend(
            changes
                .into_iter()
                .map(|c| (c.change.kind.name(), c.change.key)),
        );
    }
}

/// Every row of a table, page by page; unreadable rows become mismatches.
fn read_all<T>(
    mut page: impl FnMut(i64) -> Result<Page<T>, String>,
    mismatches: &mut Vec<Mismatch>,
) -> Result<Vec<T>, String> {
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
            format!(
                "file {}: legacy bytes unreadable ({}): {e}",
                l.file_id,
                path.display()
            )
        });
    let served = api
        .download(&a.file_id)
        .map_err(String::from)
        .and_then(|found| {
            let (body, _) =
                found.ok_or_else(|| format!("file {}: the app has no bytes for it", a.file_id))?;
            media::sha256_of(body, std::io::sink())
                .map_err(|e| format!("file {}: download: {e}", a.file_id))
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
        (local, served) => problems.extend(local.err().into_iter().chain(served.err())),
    }
    problems
}
