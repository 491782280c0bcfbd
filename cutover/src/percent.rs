//! Percent-encoding of the values the tool puts in a URL's path or query (a
//! reason, a beta token id, a username, a zone name).

/// `value` with every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`)
/// as `%XX`.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn only_unreserved_bytes_stay_as_they_are() {
        assert_eq!(encode("Az09-_.~"), "Az09-_.~");
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode(""), "");
    }
}
