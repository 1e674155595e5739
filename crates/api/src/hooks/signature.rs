//! Authenticity of webhook deliveries (SPEC §2): an HMAC-SHA256 of the raw body in a
//! `sha256=<hex>` header (Meta's `X-Hub-Signature-256`, our `X-Contacts-Signature`), or a
//! shared secret in a header (Telegram's `X-Telegram-Bot-Api-Secret-Token`). Comparisons are
//! constant-time. An empty secret verifies nothing: an unconfigured hook takes no delivery.

use contacts_core::contacts::access::{constant_time_eq, hash_token};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether `header` is `sha256=<hex HMAC-SHA256 of body keyed by secret>`.
pub fn hmac_sha256_matches(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(given) = header.and_then(|h| {
        let h = h.trim();
        h.get(..7)
            .filter(|p| p.eq_ignore_ascii_case("sha256="))
            .map(|_| &h[7..])
    }) else {
        return false;
    };
    let Some(given) = decode_hex(given) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).is_ok()
}

/// Whether a shared-secret header holds the expected secret. Both sides are hashed first, so
/// the comparison takes the same time whatever their lengths.
pub fn token_matches(expected: &str, given: Option<&str>) -> bool {
    match given {
        Some(given) if !expected.is_empty() => constant_time_eq(
            hash_token(expected).as_bytes(),
            hash_token(given.trim()).as_bytes(),
        ),
        _ => false,
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    const RFC4231_2: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn accepts_the_right_hmac_in_either_case() {
        let body = b"what do ya want for nothing?";
        assert!(hmac_sha256_matches(
            "Jefe",
            body,
            Some(&format!("sha256={RFC4231_2}"))
        ));
        assert!(hmac_sha256_matches(
            "Jefe",
            body,
            Some(&format!(" SHA256={} ", RFC4231_2.to_uppercase()))
        ));
    }

    #[test]
    fn refuses_anything_else() {
        let body = b"what do ya want for nothing?";
        let good = format!("sha256={RFC4231_2}");
        assert!(!hmac_sha256_matches(
            "Jefe",
            b"what do ya want for nothing!",
            Some(&good)
        ));
        assert!(!hmac_sha256_matches("jefe", body, Some(&good)));
        assert!(
            !hmac_sha256_matches("", body, Some(&good)),
            "empty secret = not configured"
        );
        assert!(!hmac_sha256_matches("Jefe", body, None));
        assert!(
            !hmac_sha256_matches("Jefe", body, Some(RFC4231_2)),
            "prefix needed"
        );
        assert!(!hmac_sha256_matches(
            "Jefe",
            body,
            Some(&good[..good.len() - 2])
        ));
        assert!(!hmac_sha256_matches(
            "Jefe",
            body,
            Some(&format!("sha1={RFC4231_2}"))
        ));
        assert!(!hmac_sha256_matches(
            "Jefe",
            body,
            Some(&good.replace('5', "g"))
        ));
        assert!(!hmac_sha256_matches("Jefe", body, Some("sha256=é")));
    }

    #[test]
    fn shared_secrets() {
        assert!(token_matches("s3cret", Some("s3cret")));
        assert!(!token_matches("s3cret", Some("s3cret2")));
        assert!(!token_matches("s3cret", None));
        assert!(
            !token_matches("", Some("")),
            "empty secret = not configured"
        );
    }
}
