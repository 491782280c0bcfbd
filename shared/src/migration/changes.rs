//! Continuous replication's round plan. Each side keeps a change log (legacy:
//! triggers into `cutover_changes`; the app: triggers into D1's `changes`), and a
//! round reads both logs past their checkpoints before applying anything, so a
//! record changed on both sides since the last round is seen as such. The rule
//! for those (documented in docs/cutover.md):
//!
//! - a deletion wins over a change (the record is removed on both sides);
//! - a file changed on both sides is merged (its user tags are united, as every
//!   sync does), so both changes are applied;
//! - a user changed on both sides keeps the later change (ties: legacy's), and
//!   the other side's version is replaced;
//!
//! and every such case is reported as a conflict, never overwritten silently.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    User,
    File,
    Edge,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::File => "file",
            Kind::Edge => "edge",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }
}

/// One entry of a side's change log. `key` is the user id, the file id, or the
/// lineage row as `parent child relationship` (the app's orientation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub kind: Kind,
    pub key: String,
    pub op: Op,
    /// RFC 3339 UTC time of the change.
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Legacy,
    App,
}

/// A record changed on both sides since the last round, and what was kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub kind: Kind,
    pub key: String,
    pub legacy: Op,
    pub app: Op,
    /// Whose version both sides now have (`None`: merged).
    pub kept: Option<Side>,
}

impl Conflict {
    /// The report's sentence for it.
    pub fn describe(&self) -> String {
        let kept = match self.kept {
            Some(Side::Legacy) => "kept legacy's version",
            Some(Side::App) => "kept the app's version",
            None => "merged both (tags united)",
        };
        format!(
            "{} {}: changed on both sides since the last round ({} on legacy, {} on the app); {kept}",
            self.kind.name(),
            self.key,
            self.legacy.name(),
            self.app.name()
        )
    }
}

/// What a round applies: legacy's changes to the app, the app's to legacy, each
/// one per record (its latest), and the conflicts it resolved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub to_app: Vec<Change>,
    pub to_legacy: Vec<Change>,
    pub conflicts: Vec<Conflict>,
}

/// The latest change per record, in log order.
fn latest(changes: &[Change]) -> BTreeMap<(Kind, String), Change> {
    let mut last = BTreeMap::new();
    for c in changes {
        let key = (c.kind, c.key.clone());
        if last.get(&key).is_none_or(|old: &Change| old.seq < c.seq) {
            last.insert(key, c.clone());
        }
    }
    last
}

fn instant(at: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(at).ok()
}

/// Plans a round from the changes each side logged since its checkpoint.
pub fn plan(legacy: &[Change], app: &[Change]) -> Plan {
    let mut from_legacy = latest(legacy);
    let mut from_app = latest(app);
    let mut conflicts = Vec::new();
    let both: Vec<(Kind, String)> = from_legacy
        .keys()
        .filter(|k| from_app.contains_key(*k))
        .cloned()
        .collect();
    for key in both {
        let (l, a) = (&from_legacy[&key], &from_app[&key]);
        let kept = match (key.0, l.op, a.op) {
            // Gone on both sides, or the same lineage row made on both: nothing to do.
            (_, Op::Delete, Op::Delete) | (Kind::Edge, Op::Upsert, Op::Upsert) => {
                from_legacy.remove(&key);
                from_app.remove(&key);
                continue;
            }
            (_, Op::Delete, Op::Upsert) => Some(Side::Legacy),
            (_, Op::Upsert, Op::Delete) => Some(Side::App),
            (Kind::File, Op::Upsert, Op::Upsert) => None,
            (_, Op::Upsert, Op::Upsert) => {
                if instant(&a.at) > instant(&l.at) {
                    Some(Side::App)
                } else {
                    Some(Side::Legacy)
                }
            }
        };
        conflicts.push(Conflict {
            kind: key.0,
            key: key.1.clone(),
            legacy: l.op,
            app: a.op,
            kept,
        });
        match kept {
            Some(Side::Legacy) => {
                from_app.remove(&key);
            }
            Some(Side::App) => {
                from_legacy.remove(&key);
            }
            None => {}
        }
    }
    let in_order = |m: BTreeMap<(Kind, String), Change>| {
        let mut v: Vec<Change> = m.into_values().collect();
        v.sort_by_key(|c| c.seq);
        v
    };
    Plan {
        to_app: in_order(from_legacy),
        to_legacy: in_order(from_app),
        conflicts,
    }
}

/// The key of a lineage row in the change logs (the app's orientation).
pub fn edge_key(parent: &str, child: &str, relationship: &str) -> String {
    format!("{parent} {child} {relationship}")
}

/// `(parent, child, relationship)` of an edge key.
pub fn parse_edge_key(key: &str) -> Option<(&str, &str, &str)> {
    let mut parts = key.splitn(3, ' ');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: i64, kind: Kind, key: &str, op: Op, at: &str) -> Change {
        Change {
            seq,
            kind,
            key: key.into(),
            op,
            at: at.into(),
        }
    }

    const T1: &str = "2026-01-01T00:00:01Z";
    const T2: &str = "2026-01-01T00:00:02.500Z";

    #[test]
    fn changes_on_one_side_go_to_the_other_once_per_record_in_log_order() {
        let legacy = [
            change(5, Kind::File, "f1", Op::Upsert, T1),
            change(3, Kind::User, "7", Op::Upsert, T1),
            change(9, Kind::File, "f1", Op::Delete, T2),
        ];
        let p = plan(&legacy, &[]);
        assert_eq!(
            p.to_app,
            vec![
                change(3, Kind::User, "7", Op::Upsert, T1),
                change(9, Kind::File, "f1", Op::Delete, T2)
            ]
        );
        assert!(p.to_legacy.is_empty() && p.conflicts.is_empty());
    }

    /// Plans one record changed on both sides: whose version is kept, once the
    /// kept side's change, and only it, is seen going to the other side.
    fn kept(legacy: Change, app: Change) -> Option<Side> {
        let p = plan(std::slice::from_ref(&legacy), std::slice::from_ref(&app));
        let kept = p.conflicts[0].kept;
        let sent = match kept {
            Some(Side::Legacy) => (vec![legacy], vec![]),
            Some(Side::App) => (vec![], vec![app]),
            None => panic!("merged: {p:?}"),
        };
        assert_eq!((p.to_app, p.to_legacy), sent);
        kept
    }

    #[test]
    fn a_deletion_wins_over_a_change_on_the_other_side() {
        let file = |seq, op, at| change(seq, Kind::File, "f", op, at);
        let deleted_on_legacy = kept(file(1, Op::Delete, T1), file(4, Op::Upsert, T2));
        assert_eq!(deleted_on_legacy, Some(Side::Legacy));
        let deleted_on_the_app = kept(file(1, Op::Upsert, T2), file(4, Op::Delete, T1));
        assert_eq!(deleted_on_the_app, Some(Side::App));
    }

    #[test]
    fn a_user_changed_on_both_sides_keeps_the_later_change_and_ties_go_to_legacy() {
        let user = |seq, at| change(seq, Kind::User, "7", Op::Upsert, at);
        assert_eq!(kept(user(1, T1), user(2, T2)), Some(Side::App));
        let p = plan(&[user(1, T1)], &[user(2, T2)]);
        assert!(p.conflicts[0].describe().contains("kept the app's version"));
        // The same instant written otherwise is a tie.
        let tie = kept(user(1, T2), user(2, "2026-01-01T00:00:02.5Z"));
        assert_eq!(tie, Some(Side::Legacy));
    }

    #[test]
    fn a_file_changed_on_both_sides_is_merged_and_reported() {
        let p = plan(
            &[change(1, Kind::File, "f", Op::Upsert, T1)],
            &[change(2, Kind::File, "f", Op::Upsert, T2)],
        );
        assert_eq!((p.to_app.len(), p.to_legacy.len()), (1, 1));
        assert_eq!(p.conflicts[0].kept, None);
        assert_eq!(
            p.conflicts[0].describe(),
            "file f: changed on both sides since the last round (upsert on legacy, upsert on the app); merged both (tags united)"
        );
    }

    #[test]
    fn the_same_outcome_on_both_sides_is_no_conflict() {
        let key = edge_key("p", "c", "CUT_FROM");
        let p = plan(
            &[
                change(1, Kind::Edge, &key, Op::Upsert, T1),
                change(2, Kind::File, "f", Op::Delete, T1),
            ],
            &[
                change(8, Kind::Edge, &key, Op::Upsert, T2),
                change(9, Kind::File, "f", Op::Delete, T2),
            ],
        );
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn edge_keys_round_trip() {
        assert_eq!(
            parse_edge_key(&edge_key("a-1", "b_2", "CUT_TO")),
            Some(("a-1", "b_2", "CUT_TO"))
        );
        assert_eq!(parse_edge_key("a b"), None);
    }
}
