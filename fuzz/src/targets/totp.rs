//! Second-factor codes as typed at sign-in (`accounts::totp::matching_step`) and base32 secrets.

use steward::accounts::totp::{base32_decode, base32_encode, code_at, matching_step, step_of};

/// One input of the `totp` target.
pub fn run(data: &[u8]) {
    // Any bytes survive base32 and back.
    assert_eq!(base32_decode(&base32_encode(data)).as_deref(), Some(data));
    let text = super::text(data);
    let _ = base32_decode(&text);

    // The first 8 bytes are a time, the rest a typed code; the secret is the demo's.
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let key = base32_decode(secret).expect("a base32 secret");
    let seconds = data.get(..8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default())).unwrap_or(0);
    let code = super::text(data.get(8..).unwrap_or_default());
    if let Some(step) = matching_step(secret, &code, seconds) {
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(code_at(&key, step), digits);
        assert!((step - step_of(seconds)).abs() <= 1);
    }
    // The code of this very step matches (or a neighbouring step's, when the two share a code).
    let now = step_of(seconds);
    let current = code_at(&key, now);
    let matched = matching_step(secret, &current, seconds).expect("the current code matches");
    assert!((matched - now).abs() <= 1 && code_at(&key, matched) == current);
    let _ = matching_step(&text, "123456", seconds);
}
