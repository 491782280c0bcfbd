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
    let mut mismatches: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for (_, why) in legacy.schema_problems()? {
        mismatches.push(format!("schema: {why}"));
    }
    if !mismatches.is_empty() {
        return Ok((
            json!({"command": "verify", "mismatches": mismatches}),
            false,
        ));
    }
    let offset = crate::api::user_id_offset(api)?;

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
                mismatches.push(format!("user {} ({}): not on the app", u.id, u.username));
            }
            Some(a) if !same_user(u, a) => {
                users.different += 1;
                mismatches.push(format!(
                    "user {} ({}): differs on the app",
                    u.id, u.username
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
                    mismatches.push(format!(
                        "user {} ({}): made on the app, not on legacy",
                        a.id, a.username
                    ));
                }
                Some(l) if !same_user(l, a) => {
                    users.different += 1;
                    mismatches.push(format!("user {} ({}): differs on legacy", a.id, a.username));
                }
                Some(_) => {}
            }
        }
    }

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
                mismatches.push(format!(
                    "file {} ({}): not on the app",
                    f.file_id, f.file_name
                ));
            }
            Some((a, imported)) => {
                if let Some(what) = file_difference(f, a, *imported) {
                    files.different += 1;
                    mismatches.push(format!("file {}: {what}", f.file_id));
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
        mismatches.push(format!("file {id}: imported, but legacy no longer has it"));
    }

    if opts.both_ways {
        for (id, (a, _)) in app_files
            .iter()
            .filter(|(id, (_, imported))| !*imported && !legacy_file_ids.contains(id.as_str()))
        {
            files.missing += 1;
            mismatches.push(format!(
                "file {id} ({}): made on the app, not on legacy",
                a.file_name
            ));
        }
    }

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
    mismatches.extend(checks.into_iter().flatten());

    // Lineage.
    let legacy_edges = read_all(|after| legacy.edges(after, 1000), &mut mismatches)?;
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
            mismatches.push(format!(
                "relationship {} -[{}]- {}: not on the app",
                e.parent_id, e.relationship, e.child_id
            ));
        }
        expected.insert(e);
    }
    for e in app_edges.difference(&expected) {
        edges.extra += 1;
        mismatches.push(format!(
            "relationship {} -[{}]- {}: on the app only",
            e.parent_id, e.relationship, e.child_id
        ));
    }

    // Dead letters: files the app's queue consumer gave up on (stored bytes that
    // are not the recorded ones, or every retry failed). Each is data at risk
    // until an operator has handled and cleared it, so it fails the run.
    let dead = api.get("/api/admin/dead-letters")?;
    for letter in dead["dead_letters"].as_array().into_iter().flatten() {
        mismatches.push(format!(
            "dead letter {}: file {} {}: {} (handle it, then DELETE /api/admin/dead-letters/{})",
            letter["id"],
            letter["file_id"].as_str().unwrap_or("?"),
            letter["reason"].as_str().unwrap_or("?"),
            letter["detail"].as_str().unwrap_or(""),
            letter["id"],
        ));
    }

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
        "warnings": warnings,
    });
    Ok((report, ok))
}

/// Every row of a table, page by page; unreadable rows become mismatches.
fn read_all<T>(
    mut page: impl FnMut(i64) -> Result<Page<T>, String>,
    mismatches: &mut Vec<String>,
) -> Result<Vec<T>, String> {
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let p = page(after)?;
        rows.extend(p.rows);
        mismatches.extend(p.unreadable.into_iter().map(|(i, e)| format!("{i}: {e}")));
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
    let served = api.download(&a.file_id).and_then(|found| {
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
