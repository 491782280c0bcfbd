//! Stable client keys and their percentage buckets.
//!
//! A client lands in one of 100 buckets; the rollout sends buckets below the
//! percentage to the app. Because the bucket never depends on the percentage,
//! raising it only moves clients legacy → app and lowering it only moves the top
//! buckets back.

use std::hash::Hasher;
use std::net::{IpAddr, Ipv6Addr};

use fnv::FnvHasher;

/// Number of buckets; a bucket is a whole percent of the traffic.
pub const BUCKETS: u8 = 100;

/// Key shared by every client whose address is missing or unreadable, so that
/// they still get one consistent (if collective) routing instead of a random one.
pub const UNKNOWN_CLIENT_KEY: &str = "unknown";

/// Turns `CF-Connecting-IP` into the key a client is bucketed by.
///
/// IPv6 clients usually own a whole /64 and rotate addresses inside it (privacy
/// extensions), so they are keyed by that /64 (`2001:db8:1:2::/64`) to keep them
/// on one side. An IPv4-mapped IPv6 address is the IPv4 client it stands for.
pub fn client_key(ip: Option<&str>) -> String {
    let Some(parsed) = ip.and_then(|raw| raw.trim().parse::<IpAddr>().ok()) else {
        return UNKNOWN_CLIENT_KEY.to_string();
    };
    match parsed {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !(u128::from(u64::MAX));
                format!("{}/64", Ipv6Addr::from(prefix))
            }
        },
    }
}

/// FNV-1a 64 of the raw bytes, written directly so that no `Hash` impl adds a
/// length prefix or terminator: the value must match every other FNV-1a
/// implementation (scripts, the operator CLI) that predicts a client's bucket.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hasher = FnvHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

/// The client's bucket (0..=99), independent of the percentage so that rollout
/// changes are monotonic.
pub fn bucket_of(client_key: &str) -> u8 {
    // The remainder is < 100, so the narrowing is lossless.
    (fnv1a64(client_key.as_bytes()) % u64::from(BUCKETS)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        // Vectors from the FNV reference (draft-eastlake-fnv, test suite).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn bucket_is_fnv_mod_100() {
        assert_eq!(bucket_of(""), (0xcbf2_9ce4_8422_2325u64 % 100) as u8);
        assert_eq!(bucket_of("a"), (0xaf63_dc4c_8601_ec8cu64 % 100) as u8);
        for i in 0..1000 {
            assert!(bucket_of(&format!("10.0.{}.{}", i / 256, i % 256)) < 100);
        }
    }

    #[test]
    fn ipv4_key_is_the_address_also_when_mapped_into_ipv6() {
        for (ip, key) in [
            ("203.0.113.7", "203.0.113.7"),
            (" 203.0.113.7 ", "203.0.113.7"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("::ffff:c000:0201", "192.0.2.1"),
        ] {
            assert_eq!(client_key(Some(ip)), key, "{ip}");
        }
    }

    #[test]
    fn ipv6_same_64_shares_a_key() {
        let a = client_key(Some("2001:db8:1:2::1"));
        let b = client_key(Some("2001:0db8:0001:0002:abcd:ef01:2345:6789"));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_eq!(bucket_of(&a), bucket_of(&b));
    }

    #[test]
    fn ipv6_different_64_differ() {
        let a = client_key(Some("2001:db8:1:2::1"));
        let b = client_key(Some("2001:db8:1:3::1"));
        assert_ne!(a, b);
        assert_eq!(b, "2001:db8:1:3::/64");
    }

    #[test]
    fn unreadable_or_missing_ip_is_unknown() {
        for ip in [
            None,
            Some(""),
            Some("not-an-ip"),
            Some("256.1.1.1"),
            Some("203.0.113.7, 10.0.0.1"),
        ] {
            assert_eq!(client_key(ip), UNKNOWN_CLIENT_KEY, "{ip:?}");
        }
    }
}
