//! Holds on raising the traffic percentage. Each gate (an unhealthy replicator,
//! shadow comparisons that differ) may hold a raise; `force=true` goes past every
//! hold, and the audit trail says which.

/// Why one gate holds a raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The 409's message.
    pub refusal: String,
    /// What the audit trail adds when the raise is forced past it.
    pub forced: String,
}

/// `Err` with the refusals when something holds and the raise is not forced;
/// otherwise the note for the audit trail (`None` when nothing was held).
pub fn decide(holds: &[Hold], force: bool) -> Result<Option<String>, String> {
    if holds.is_empty() {
        return Ok(None);
    }
    let join = |f: fn(&Hold) -> &str| holds.iter().map(f).collect::<Vec<_>>().join("; ");
    if force {
        Ok(Some(join(|h| &h.forced)))
    } else {
        Err(join(|h| &h.refusal))
    }
}

/// The audit reason with the note of a forced raise added.
pub fn with_note(reason: Option<String>, note: Option<String>) -> Option<String> {
    match (reason, note) {
        (Some(r), Some(n)) => Some(format!("{r} ({n})")),
        (r, n) => r.or(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(n: u8) -> Hold {
        Hold {
            refusal: format!("held {n}"),
            forced: format!("forced past {n}"),
        }
    }

    #[test]
    fn holds_refuse_unless_forced() {
        assert_eq!(decide(&[], false), Ok(None));
        assert_eq!(
            decide(&[hold(1), hold(2)], false),
            Err("held 1; held 2".into())
        );
        assert_eq!(
            decide(&[hold(1), hold(2)], true),
            Ok(Some("forced past 1; forced past 2".into()))
        );
    }

    #[test]
    fn notes_join_the_reason() {
        assert_eq!(
            with_note(Some("drill".into()), Some("forced".into())).as_deref(),
            Some("drill (forced)")
        );
        assert_eq!(
            with_note(None, Some("forced".into())).as_deref(),
            Some("forced")
        );
        assert_eq!(with_note(Some("r".into()), None).as_deref(), Some("r"));
        assert_eq!(with_note(None, None), None);
    }
}
