//! Ids in restate-server's text form, so that tools written for restate-server (its CLI
//! among them) read the engine's ids: a prefix (`inv_`, `dp_`), a version digit (`1`), then
//! fixed-width base62 numbers (digits `0-9a-zA-Z`, most significant first, each number taken
//! in big-endian byte order as restate-server does on the machines it runs on).

const DIGITS: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Characters of a base62 `u64` and `u128`.
const U64_WIDTH: usize = 11;
const U128_WIDTH: usize = 22;

fn push_base62(mut value: u128, width: usize, out: &mut String) {
    let mut digits = Vec::with_capacity(width);
    while value > 0 {
        digits.push(DIGITS[(value % 62) as usize]);
        value /= 62;
    }
    out.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
    out.extend(digits.iter().rev().map(|d| *d as char));
}

/// The 16 bytes of a new invocation: a 128-bit number, little-endian, whose top 48 bits are
/// the milliseconds since the Unix epoch and whose other 80 bits are random.
///
/// Ids made close in time are close in the engine's indexes (the invocations' ids, the journal
/// keyed by invocation id): a new invocation's rows go to the few pages recent invocations
/// touched, not to a random page of an index that may hold millions. With random ids every
/// call dirtied pages of its own, each written whole to the WAL at the next commit.
pub(crate) fn new_invocation_raw() -> [u8; 16] {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let random = uuid::Uuid::new_v4().as_u128() & ((1u128 << 80) - 1);
    ((millis << 80) | random).to_le_bytes()
}

/// The seed of a new invocation's deterministic random generator (`ctx.rand()`).
pub(crate) fn random_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// An invocation id for the 16 bytes `raw` of an invocation (see [`new_invocation_raw`]):
/// `inv_1`, the partition key (here the high 8 bytes of `raw`, so that the id begins with the
/// time it was made), the invocation's 16 bytes; 38 characters in all.
pub(crate) fn invocation_id(raw: &[u8; 16]) -> String {
    let mut id = String::with_capacity(38);
    id.push_str("inv_1");
    let mut key = [0u8; 8];
    key.copy_from_slice(&raw[8..]);
    push_base62(u128::from(u64::from_le_bytes(key)), U64_WIDTH, &mut id);
    push_base62(u128::from_le_bytes(*raw), U128_WIDTH, &mut id);
    id
}

/// Every id an invocation with the 16 bytes `raw` may have in a file of this engine, the
/// current form first: the engine's ids took the partition key from the low 8 bytes before they
/// began with their time, and were `inv_` and 32 hex digits before that. Looking an
/// invocation up by these ids uses the id index, where its bytes have none.
pub(crate) fn ids_of_raw(raw: &[u8]) -> Vec<String> {
    let Ok(raw) = <[u8; 16]>::try_from(raw) else {
        return Vec::new();
    };
    let mut low_key = String::with_capacity(38);
    low_key.push_str("inv_1");
    let mut key = [0u8; 8];
    key.copy_from_slice(&raw[..8]);
    push_base62(u128::from(u64::from_le_bytes(key)), U64_WIDTH, &mut low_key);
    push_base62(u128::from_le_bytes(raw), U128_WIDTH, &mut low_key);
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    vec![invocation_id(&raw), low_key, format!("inv_{hex}")]
}

/// A deployment id (`dp_1` and 22 base62 digits) for a 128-bit value.
pub(crate) fn deployment_id(value: u128) -> String {
    let mut id = String::with_capacity(26);
    id.push_str("dp_1");
    push_base62(value.swap_bytes(), U128_WIDTH, &mut id);
    id
}

/// Whether `id` has the form of an invocation id: restate-server's (`inv_1` and 33 base62
/// digits), or the engine's earlier one (`inv_` and 32 hex digits, files written before).
pub(crate) fn is_invocation_id(id: &str) -> bool {
    match id.strip_prefix("inv_") {
        Some(rest) if rest.len() == 32 => rest.bytes().all(|b| b.is_ascii_hexdigit()),
        Some(rest) if rest.len() == 1 + U64_WIDTH + U128_WIDTH => {
            rest.starts_with('1') && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let id = invocation_id(&[0; 16]);
        assert_eq!(id, format!("inv_1{}", "0".repeat(33)));
        let id = invocation_id(&[0xff; 16]);
        assert_eq!(id.len(), 38);
        assert!(is_invocation_id(&id), "{id}");
        // The largest u64 and u128 fill their widths exactly.
        assert_eq!(&id[5..16], "lYGhA16ahyf");
        assert_eq!(&id[16..], "7N42dgm5tFLK9N8MT7fHC7");
        assert!(is_invocation_id("inv_0123456789abcdef0123456789ABCDEF"));
        assert!(!is_invocation_id("inv_0123"));
        assert!(!is_invocation_id("inc_1ll4Nz6jmUXk3wy04unz4iMk0ppnE5iwTb"));
        assert_eq!(deployment_id(0), format!("dp_1{}", "0".repeat(22)));
    }

    fn base62_value(digits: &str) -> u128 {
        digits.bytes().fold(0, |v, d| {
            v * 62 + DIGITS.iter().position(|x| *x == d).unwrap() as u128
        })
    }

    /// An id begins with the time it was made: the partition key of a later id is larger, and
    /// ids made in one burst share their leading characters (and so their index pages).
    #[test]
    fn new_ids_begin_with_their_time() {
        let first = invocation_id(&new_invocation_raw());
        let burst: Vec<String> = (0..1000)
            .map(|_| invocation_id(&new_invocation_raw()))
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let later = invocation_id(&new_invocation_raw());
        // The partition key's top 48 bits are the milliseconds; the rest is random.
        let key = |id: &str| base62_value(&id[5..16]) >> 16;
        assert!(key(&later) > key(&first), "{first} then {later}");
        for id in &burst {
            assert!(is_invocation_id(id), "{id}");
            assert!(key(id) >= key(&first) && key(id) <= key(&later), "{id}");
            assert_eq!(id[..9], first[..9], "{id} and {first}");
        }
        let distinct: std::collections::HashSet<_> = burst.iter().collect();
        assert_eq!(distinct.len(), burst.len());
    }
}
