//! What a run did, per table, with the items it could not do, printed at the end
//! (text on stderr, or JSON on stdout with `--json`); and the progress bar.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub conflict: u64,
    pub missing: u64,
    pub failed: u64,
}

impl Tally {
    pub fn count(&mut self, status: &str) {
        match status {
            "created" => self.created += 1,
            "updated" | "replaced" => self.updated += 1,
            "unchanged" => self.unchanged += 1,
            "deleted" => self.deleted += 1,
            "conflict" => self.conflict += 1,
            "missing" => self.missing += 1,
            _ => self.failed += 1,
        }
    }

    pub fn changes(&self) -> u64 {
        self.created + self.updated + self.deleted
    }

    fn done(&self) -> u64 {
        self.created
            + self.updated
            + self.unchanged
            + self.deleted
            + self.conflict
            + self.missing
            + self.failed
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub item: String,
    pub error: String,
}

pub struct Report {
    pub command: &'static str,
    pub users: Tally,
    pub files: Tally,
    pub relationships: Tally,
    /// Where the legacy side keeps lineage (its table, or the Neo4j era's metadata).
    pub lineage_source: Option<shared::migration::LineageSource>,
    pub bytes_sent: u64,
    pub problems: Vec<Problem>,
    /// Seconds each table took, for per-table rates.
    phases: Vec<(&'static str, f64)>,
    started: Instant,
    bar: ProgressBar,
}

impl Report {
    pub fn new(command: &'static str) -> Report {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} rows, {per_sec}, ETA {eta} {msg}",
            )
            .expect("a valid template"),
        );
        Report {
            command,
            users: Tally::default(),
            files: Tally::default(),
            relationships: Tally::default(),
            lineage_source: None,
            bytes_sent: 0,
            problems: Vec::new(),
            phases: Vec::new(),
            started: Instant::now(),
            bar,
        }
    }

    pub fn set_total_rows(&self, rows: u64) {
        self.bar.set_length(rows);
    }

    pub fn problem(&mut self, item: impl Into<String>, error: impl Into<String>) {
        let p = Problem {
            item: item.into(),
            error: error.into(),
        };
        self.bar.suspend(|| eprintln!("{}: {}", p.item, p.error));
        self.problems.push(p);
    }

    /// Moves the bar to what the tallies say is done.
    pub fn tick(&self) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_position(self.users.done() + self.files.done() + self.relationships.done());
        self.bar.set_message(format!(
            "{:.1} MB sent, {:.1} MB/s",
            self.bytes_sent as f64 / 1e6,
            self.bytes_sent as f64 / 1e6 / secs
        ));
    }

    /// Records that a table's phase, started at `since`, is over.
    pub fn phase_done(&mut self, table: &'static str, since: Instant) {
        self.phases.push((table, since.elapsed().as_secs_f64()));
    }

    pub fn changes(&self) -> u64 {
        self.users.changes() + self.files.changes() + self.relationships.changes()
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn to_json(&self) -> Value {
        let secs = self.elapsed().as_secs_f64().max(1e-3);
        // Each table's rate over its own phase (the whole run when not timed).
        let phase = |table: &str| {
            let timed: Vec<f64> = self
                .phases
                .iter()
                .filter(|(t, _)| *t == table)
                .map(|(_, s)| *s)
                .collect();
            if timed.is_empty() {
                secs
            } else {
                timed.iter().sum::<f64>().max(1e-3)
            }
        };
        let per_s = |n: f64, table: &str| (n / phase(table) * 10.0).round() / 10.0;
        json!({
            "command": self.command,
            "users": self.users,
            "files": self.files,
            "relationships": self.relationships,
            "lineage_source": self.lineage_source,
            "changes": self.changes(),
            "bytes_sent": self.bytes_sent,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "phase_seconds": self
                .phases
                .iter()
                .map(|(t, s)| json!({"table": t, "seconds": (s * 1000.0).round() / 1000.0}))
                .collect::<Vec<_>>(),
            "rates": {
                "users_per_s": per_s(self.users.done() as f64, "users"),
                "files_per_s": per_s(self.files.done() as f64, "files"),
                "mb_per_s": per_s(self.bytes_sent as f64 / 1e6, "files"),
            },
            "problems": self.problems,
        })
    }

    /// Ends the bar and prints the report.
    pub fn print(&self, as_json: bool) {
        self.bar.finish_and_clear();
        print_report(&self.to_json(), as_json);
    }
}

/// A report as JSON on stdout, or as indented text on stderr.
pub fn print_report(report: &Value, as_json: bool) {
    if as_json {
        println!("{report}");
    } else {
        eprintln!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_counts_in_its_column() {
        let mut t = Tally::default();
        for status in [
            "created",
            "updated",
            "replaced",
            "unchanged",
            "deleted",
            "conflict",
            "missing",
            "failed",
            "whatever",
        ] {
            t.count(status);
        }
        assert_eq!((t.created, t.updated, t.unchanged, t.deleted), (1, 2, 1, 1));
        assert_eq!((t.conflict, t.missing, t.failed), (1, 1, 2));
        assert_eq!(t.changes(), 4);
        assert_eq!(t.done(), 9);
    }

    #[test]
    fn the_report_holds_tallies_problems_and_rates_per_phase() {
        let mut report = Report::new("migrate");
        report.users.count("created");
        report.files.count("updated");
        report.relationships.count("deleted");
        report.bytes_sent = 2_000_000;
        report.problem("file f1", "missing from the media folder");
        report.phases.push(("users", 0.5));
        report.phases.push(("files", 2.0));
        let json = report.to_json();
        assert_eq!(json["command"], "migrate");
        assert_eq!(json["changes"], 3);
        assert_eq!(json["users"]["created"], 1);
        assert_eq!(
            json["problems"],
            json!([{"item": "file f1", "error": "missing from the media folder"}])
        );
        assert_eq!(json["rates"]["users_per_s"], 2.0);
        assert_eq!(json["rates"]["files_per_s"], 0.5);
        assert_eq!(json["rates"]["mb_per_s"], 1.0);
        assert_eq!(
            json["phase_seconds"],
            json!([{"table": "users", "seconds": 0.5}, {"table": "files", "seconds": 2.0}])
        );
    }
}
