//! The app's blue/green slots: which Worker serves app traffic (`DEPLOYMENT_KV`
//! `current_version`), and the slot a beta token may be pinned to.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Blue,
    Green,
}

impl Slot {
    /// Reads `current_version`: unset or unknown means blue.
    pub fn from_stored(raw: Option<&str>) -> Slot {
        raw.and_then(|r| r.trim().parse().ok())
            .unwrap_or(Slot::Blue)
    }

    /// As named in the admin API, `DEPLOYMENT_KV` and beta tokens.
    pub fn name(self) -> &'static str {
        match self {
            Slot::Blue => "blue",
            Slot::Green => "green",
        }
    }

    /// The metrics branch and `X-Served-By` value of this slot.
    pub fn branch(self) -> &'static str {
        match self {
            Slot::Blue => "app-blue",
            Slot::Green => "app-green",
        }
    }

    /// The gateway's service binding of this slot's Worker.
    pub fn binding(self) -> &'static str {
        match self {
            Slot::Blue => "APP_BLUE",
            Slot::Green => "APP_GREEN",
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::Blue => Slot::Green,
            Slot::Green => Slot::Blue,
        }
    }
}

impl FromStr for Slot {
    type Err = String;

    /// Exactly `blue` or `green`.
    fn from_str(s: &str) -> Result<Slot, String> {
        match s {
            "blue" => Ok(Slot::Blue),
            "green" => Ok(Slot::Green),
            _ => Err("version must be blue or green".into()),
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for slot in [Slot::Blue, Slot::Green] {
            assert_eq!(slot.name().parse::<Slot>(), Ok(slot));
            assert_eq!(slot.other().other(), slot);
        }
        for bad in ["", "Blue", " green", "red", "blue\n"] {
            assert!(bad.parse::<Slot>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_stored_value_is_trimmed_and_anything_unknown_is_blue() {
        assert_eq!(Slot::from_stored(Some(" green\n")), Slot::Green);
        assert_eq!(Slot::from_stored(Some("purple")), Slot::Blue);
        assert_eq!(Slot::from_stored(None), Slot::Blue);
    }
}
