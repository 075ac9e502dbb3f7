//! Sites signing their own users in (`POST /api/session/identify`): the per-site secrets, and
//! the check of a site's identity token, an HS256 JWT in compact form.
//!
//! Hand-made on purpose: only HS256 is accepted, so a general JWT library would mostly add ways
//! to get it wrong (`alg: none`, key confusion). The token is
//! `b64url(header) "." b64url(claims) "." b64url(HMAC-SHA256(secret, b64url(header) "." b64url(claims)))`,
//! base64url without padding; the header must say `"alg": "HS256"`; the claims need `iss` (a
//! configured site id), `sub` (the site's user id, 1-128 characters) and `exp` (seconds since the
//! epoch), and may carry `name`, `iat` and `nbf`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use shared::contacts::MAX_NICK_CHARS;
use std::collections::BTreeMap;
use std::fmt;

/// Clock skew forgiven on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: i64 = 30;
/// Longest accepted token; real ones are a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest `sub`, in characters.
pub const MAX_SUB_CHARS: usize = 128;
/// Longest site id, in characters.
pub const MAX_SITE_ID_CHARS: usize = 64;
/// Shortest secret, in bytes (the HMAC-SHA256 key should carry 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// A site's secret. Its `Debug` prints `***`, so it cannot reach a log through a `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct SiteSecret(Vec<u8>);

impl SiteSecret {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SiteSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The sites that may sign their users in, by site id (`--site-keys SITE=SECRET,...`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteKeys(BTreeMap<String, SiteSecret>);

/// Why a `--site-keys` value was refused. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SiteKeysError {
    #[error("entry {0} is not SITE_ID=SECRET")]
    NotAPair(usize),
    #[error("entry {0}: the site id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    BadSiteId(usize),
    #[error("site {0:?}: the secret must be at least 32 bytes")]
    ShortSecret(String),
    #[error("site {0:?} is given twice")]
    Duplicate(String),
}

impl SiteKeys {
    /// Parses `SITE_ID=SECRET` pairs separated by commas (spaces around a pair are dropped, empty
    /// entries skipped, so an empty string means no sites). The secret is everything after the
    /// first `=`, taken as bytes.
    pub fn parse(text: &str) -> Result<Self, SiteKeysError> {
        let mut keys = BTreeMap::new();
        for (index, entry) in text.split(',').map(str::trim).enumerate() {
            let position = index + 1;
            if entry.is_empty() {
                continue;
            }
            let (site, secret) = entry
                .split_once('=')
                .ok_or(SiteKeysError::NotAPair(position))?;
            if !is_site_id(site) {
                return Err(SiteKeysError::BadSiteId(position));
            }
            if secret.len() < MIN_SECRET_BYTES {
                return Err(SiteKeysError::ShortSecret(site.to_owned()));
            }
            let secret = SiteSecret(secret.as_bytes().to_vec());
            if keys.insert(site.to_owned(), secret).is_some() {
                return Err(SiteKeysError::Duplicate(site.to_owned()));
            }
        }
        Ok(Self(keys))
    }

    /// The secret of `site`, when it is configured.
    pub fn secret(&self, site: &str) -> Option<&SiteSecret> {
        self.0.get(site)
    }

    /// The configured site ids, ascending.
    pub fn sites(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_site_id(site: &str) -> bool {
    !site.is_empty()
        && site.len() <= MAX_SITE_ID_CHARS
        && site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A site user whose token checked out.
#[derive(Clone, PartialEq, Eq)]
pub struct SiteIdentity {
    /// The site id (`iss`).
    pub site: String,
    /// The site's own id for the user (`sub`). Not for logs.
    pub external_id: String,
    /// The nick the site wants shown: `name` trimmed, cut to `MAX_NICK_CHARS` characters;
    /// `None` when absent or blank.
    pub name: Option<String>,
}

impl fmt::Debug for SiteIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteIdentity")
            .field("site", &self.site)
            .field("external_id", &"***")
            .field("name", &self.name.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Why a token was refused. The messages explain the rule broken, never echo the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the identity token is invalid: {0}")]
    Invalid(&'static str),
    #[error("the identity token has expired")]
    Expired,
}

fn invalid(why: &'static str) -> IdentityError {
    IdentityError::Invalid(why)
}

/// Checks a site's identity token at `now` (seconds since the epoch): its form, its header,
/// the site, the signature (in constant time), then the claims. Nothing in the token is trusted
/// before its signature is checked, except `iss`, which only picks the key.
pub fn verify_token(token: &str, keys: &SiteKeys, now: i64) -> Result<SiteIdentity, IdentityError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(invalid("it must be a JWT of at most 4096 characters"));
    }
    let mut parts = token.split('.');
    let (Some(header_part), Some(claims_part), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("a JWT has three parts separated by dots"));
    };
    let header = decode_json(header_part)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(invalid("the header's alg must be HS256"));
    }
    if header
        .get("typ")
        .is_some_and(|typ| !typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT")))
    {
        return Err(invalid("the header's typ, when given, must be JWT"));
    }
    if header.get("crit").is_some() {
        return Err(invalid("critical header extensions are not supported"));
    }
    let claims = decode_json(claims_part)?;
    let site = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(invalid("the claim iss (the site id) is missing"))?;
    let secret = keys
        .secret(site)
        .ok_or(invalid("the site (iss) is not configured on this server"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| invalid("the signature is not base64url without padding"))?;
    // What was signed: the first two parts as sent, with the dot between them.
    let signed = &token[..header_part.len() + 1 + claims_part.len()];
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| invalid("the site's key is unusable"))?;
    mac.update(signed.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| invalid("the signature does not match"))?;

    let exp = numeric_date(&claims, "exp")?.ok_or(invalid(
        "the claim exp (expiry, seconds since the epoch) is missing",
    ))?;
    if now > exp.saturating_add(LEEWAY_SECS) {
        return Err(IdentityError::Expired);
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")?
        && now.saturating_add(LEEWAY_SECS) < nbf
    {
        return Err(invalid("the token is not valid yet (nbf)"));
    }
    numeric_date(&claims, "iat")?;
    let external_id = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty() && sub.chars().count() <= MAX_SUB_CHARS)
        .ok_or(invalid(
            "the claim sub must be a string of 1 to 128 characters",
        ))?;
    let name = match claims.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => {
            let name = name.trim();
            (!name.is_empty()).then(|| name.chars().take(MAX_NICK_CHARS).collect())
        }
        Some(_) => return Err(invalid("the claim name, when given, must be a string")),
    };
    Ok(SiteIdentity {
        site: site.to_owned(),
        external_id: external_id.to_owned(),
        name,
    })
}

/// A base64url (no padding) JSON object.
fn decode_json(part: &str) -> Result<serde_json::Map<String, Value>, IdentityError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid("the header and claims must be base64url without padding"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(invalid("the header and claims must be JSON objects")),
    }
}

/// A NumericDate claim: seconds since the epoch (fractions are cut off); `None` when absent.
fn numeric_date(
    claims: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => match value.as_i64() {
            Some(seconds) => Ok(Some(seconds)),
            None => value
                .as_f64()
                .filter(|s| s.is_finite())
                .map(|s| Some(s as i64))
                .ok_or(invalid("exp, nbf and iat must be numbers of seconds")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn keys() -> SiteKeys {
        SiteKeys::parse(&format!("shop={SECRET}, blog.example={SECRET}xyz")).expect("valid keys")
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn sign_with(secret: &[u8], header: &Value, claims: &Value) -> String {
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(signed.as_bytes());
        format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
    }

    fn sign(claims: &Value) -> String {
        sign_with(
            SECRET.as_bytes(),
            &json!({"alg": "HS256", "typ": "JWT"}),
            claims,
        )
    }

    fn valid_claims() -> Value {
        json!({"iss": "shop", "sub": "user-17", "exp": NOW + 600, "name": "  Ada  "})
    }

    #[test]
    fn a_well_signed_token_names_the_site_and_its_user() {
        let identity = verify_token(&sign(&valid_claims()), &keys(), NOW).expect("valid");
        assert_eq!(identity.site, "shop");
        assert_eq!(identity.external_id, "user-17");
        assert_eq!(identity.name.as_deref(), Some("Ada"));
    }

    #[test]
    fn the_worked_example_of_docs_api_md_checks_out() {
        let keys = SiteKeys::parse("shop=0123456789abcdef0123456789abcdef").expect("valid");
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
            eyJpc3MiOiJzaG9wIiwic3ViIjoiY3VzdG9tZXItMTciLCJleHAiOjE5MDAwMDAwMDAsIm5hbWUiOiJBZGEifQ.\
            -ygwy8Fd7yobiCTwn-VOimni_nG7OH2cZs7v21hxYaE";
        let identity = verify_token(token, &keys, NOW).expect("the documented token is valid");
        assert_eq!(
            (identity.site.as_str(), identity.external_id.as_str()),
            ("shop", "customer-17")
        );
        assert_eq!(identity.name.as_deref(), Some("Ada"));
    }

    #[test]
    fn a_token_from_another_configured_site_needs_that_sites_secret() {
        let claims = json!({"iss": "blog.example", "sub": "7", "exp": NOW + 60});
        let header = json!({"alg": "HS256"});
        let right = sign_with(format!("{SECRET}xyz").as_bytes(), &header, &claims);
        assert!(verify_token(&right, &keys(), NOW).is_ok());
        let wrong = sign_with(SECRET.as_bytes(), &header, &claims);
        assert_eq!(
            verify_token(&wrong, &keys(), NOW),
            Err(invalid("the signature does not match"))
        );
    }

    #[test]
    fn a_changed_claim_breaks_the_signature() {
        let token = sign(&valid_claims());
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = json!({"iss": "shop", "sub": "admin", "exp": NOW + 600});
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(forged_claims.to_string().as_bytes()),
            parts[2]
        );
        assert!(matches!(
            verify_token(&forged, &keys(), NOW),
            Err(IdentityError::Invalid(_))
        ));
    }

    #[test]
    fn only_hs256_is_accepted() {
        for header in [
            json!({"alg": "none"}),
            json!({"alg": "HS512"}),
            json!({"alg": "hs256"}),
            json!({"alg": "RS256"}),
            json!({"typ": "JWT"}),
            json!({"alg": "HS256", "typ": "JOSE+JSON"}),
            json!({"alg": "HS256", "crit": ["exp"]}),
        ] {
            let token = sign_with(SECRET.as_bytes(), &header, &valid_claims());
            assert!(
                matches!(
                    verify_token(&token, &keys(), NOW),
                    Err(IdentityError::Invalid(_))
                ),
                "{header}"
            );
        }
        // `alg: none` with an empty signature, the classic attack.
        let unsigned = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(valid_claims().to_string().as_bytes())
        );
        assert!(verify_token(&unsigned, &keys(), NOW).is_err());
    }

    #[test]
    fn malformed_tokens_are_invalid() {
        let good = sign(&valid_claims());
        let parts: Vec<&str> = good.split('.').collect();
        let not_json = b64(b"not json");
        let array = b64(b"[1,2]");
        for token in [
            String::new(),
            "abc".to_owned(),
            format!("{}.{}", parts[0], parts[1]),
            format!("{good}.extra"),
            format!("{}.{}=.{}", parts[0], parts[1], parts[2]),
            format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
            format!("{}.{not_json}.{}", parts[0], parts[2]),
            format!("{}.{array}.{}", parts[0], parts[2]),
            format!("{}.{}.{}", parts[0], parts[1], "*not*base64*"),
            "x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(
                matches!(
                    verify_token(&token, &keys(), NOW),
                    Err(IdentityError::Invalid(_))
                ),
                "{token}"
            );
        }
    }

    #[test]
    fn claims_must_be_present_and_well_typed() {
        let mut bad = Vec::new();
        for missing in ["iss", "sub", "exp"] {
            let mut claims = valid_claims();
            claims.as_object_mut().expect("object").remove(missing);
            bad.push(claims);
        }
        bad.push(json!({"iss": "elsewhere", "sub": "1", "exp": NOW + 60}));
        bad.push(json!({"iss": "shop", "sub": "", "exp": NOW + 60}));
        bad.push(json!({"iss": "shop", "sub": "x".repeat(129), "exp": NOW + 60}));
        bad.push(json!({"iss": "shop", "sub": 42, "exp": NOW + 60}));
        bad.push(json!({"iss": "shop", "sub": "1", "exp": "tomorrow"}));
        bad.push(json!({"iss": "shop", "sub": "1", "exp": NOW + 60, "name": 5}));
        bad.push(json!({"iss": "shop", "sub": "1", "exp": NOW + 60, "iat": "now"}));
        bad.push(json!({"iss": "shop", "sub": "1", "exp": NOW + 600, "nbf": NOW + 60}));
        for claims in bad {
            assert!(
                matches!(
                    verify_token(&sign(&claims), &keys(), NOW),
                    Err(IdentityError::Invalid(_))
                ),
                "{claims}"
            );
        }
        let longest = json!({"iss": "shop", "sub": "é".repeat(128), "exp": NOW + 60});
        assert!(verify_token(&sign(&longest), &keys(), NOW).is_ok());
    }

    #[test]
    fn expiry_forgives_thirty_seconds_of_clock_skew() {
        let at = |exp: i64| {
            verify_token(
                &sign(&json!({"iss": "shop", "sub": "1", "exp": exp})),
                &keys(),
                NOW,
            )
        };
        assert!(at(NOW).is_ok());
        assert!(at(NOW - LEEWAY_SECS).is_ok());
        assert_eq!(at(NOW - LEEWAY_SECS - 1), Err(IdentityError::Expired));
        assert_eq!(at(NOW - 3600), Err(IdentityError::Expired));
        // A fractional NumericDate counts by its whole seconds.
        let fractional = json!({"iss": "shop", "sub": "1", "exp": (NOW - 10) as f64 + 0.5});
        assert!(verify_token(&sign(&fractional), &keys(), NOW).is_ok());
    }

    #[test]
    fn names_are_trimmed_cut_to_nick_length_and_blank_means_none() {
        let name_of = |name: Value| {
            let claims = json!({"iss": "shop", "sub": "1", "exp": NOW + 60, "name": name});
            verify_token(&sign(&claims), &keys(), NOW)
                .expect("valid")
                .name
        };
        assert_eq!(name_of(json!("   ")), None);
        assert_eq!(name_of(Value::Null), None);
        let long = name_of(json!("ü".repeat(300))).expect("a name");
        assert_eq!(long.chars().count(), MAX_NICK_CHARS);
    }

    #[test]
    fn site_keys_need_a_proper_id_and_a_long_secret_and_never_show_it() {
        assert!(SiteKeys::parse("").expect("empty is fine").is_empty());
        assert!(
            SiteKeys::parse(" , ")
                .expect("blank entries skipped")
                .is_empty()
        );
        let keys = SiteKeys::parse(&format!("a={SECRET}==, b-2.x_y={SECRET}")).expect("valid");
        assert_eq!(keys.sites().collect::<Vec<_>>(), ["a", "b-2.x_y"]);
        assert_eq!(
            keys.secret("a").map(SiteSecret::as_bytes),
            Some(format!("{SECRET}==").as_bytes())
        );
        let debug = format!("{keys:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(debug.contains("***"), "{debug}");

        assert_eq!(SiteKeys::parse("nosecret"), Err(SiteKeysError::NotAPair(1)));
        assert_eq!(
            SiteKeys::parse(&format!("a={SECRET},bad site={SECRET}")),
            Err(SiteKeysError::BadSiteId(2))
        );
        assert_eq!(
            SiteKeys::parse(&format!("={SECRET}")),
            Err(SiteKeysError::BadSiteId(1))
        );
        assert_eq!(
            SiteKeys::parse(&format!("{}={SECRET}", "s".repeat(65))),
            Err(SiteKeysError::BadSiteId(1))
        );
        let short = SiteKeys::parse("a=short-secret");
        assert_eq!(short, Err(SiteKeysError::ShortSecret("a".into())));
        let message = short.expect_err("refused").to_string();
        assert!(!message.contains("short-secret"), "{message}");
        assert_eq!(
            SiteKeys::parse(&format!("a={SECRET},a={SECRET}")),
            Err(SiteKeysError::Duplicate("a".into()))
        );
    }
}
