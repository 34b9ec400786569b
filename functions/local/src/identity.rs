//! Who is calling. On AWS the HTTP API's JWT authorizer verifies the bearer token (signature
//! against the issuer's keys, `iss`, `aud`, `exp`, `nbf`, `iat`) and the handlers take the caller
//! from its `sub`. Locally this module plays both parts: a development issuer whose Ed25519 key
//! lives in the data dir mints tokens, and every request's token is verified the same way.
//! Unsigned `dev:<user>` tokens are accepted only in development mode.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The signing key's file in the data dir (PKCS#8, PEM).
pub const KEY_FILE: &str = "dev-issuer.key";
pub const DEFAULT_ISSUER: &str = "reserveplace-local-dev";
pub const DEFAULT_AUDIENCE: &str = "reserveplace";
/// Clock skew tolerated on `exp`, `nbf` and `iat`: the runtime and the minting shell share a
/// clock, so a little is enough.
pub const LEEWAY_SECS: u64 = 30;
/// Longest lifetime `mint` grants.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;
const PEM_LABEL: &str = "PRIVATE KEY";

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an Ed25519 private key in PKCS#8 PEM", path.display())]
    BadKey { path: PathBuf },
    #[error("cannot generate a signing key")]
    KeyGeneration,
    #[error("invalid subject: {0}")]
    Subject(&'static str),
    #[error("ttl must be 1..={MAX_TTL_SECS} seconds")]
    Ttl,
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// Why a presented token is refused; the text is the 401's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("development tokens ('dev:<user>') are accepted only in development mode (--dev)")]
    DevTokenOutsideDevMode,
    #[error("invalid development token: {0}")]
    DevUser(&'static str),
    #[error("the token is not a JWT of this issuer (kid does not match its key)")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("invalid sub claim: {0}")]
    Subject(&'static str),
}

/// Ids become parts of store keys, where `#` separates components.
pub fn check_user_id(user: &str) -> Result<(), &'static str> {
    if user.is_empty() {
        Err("empty")
    } else if user.len() > 128 {
        Err("longer than 128 bytes")
    } else if user.contains('#') || user.chars().any(char::is_control) {
        Err("contains '#' or a control character")
    } else if let Some(why) = reserveplace_domain::text::subject_problem(user) {
        Err(why)
    } else {
        Ok(())
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// Only what verification needs beyond what `Validation` checks.
#[derive(Debug, Deserialize)]
struct Verified {
    sub: String,
    #[serde(default)]
    iat: Option<f64>,
}

/// A token and when it expires (seconds since the epoch).
#[derive(Debug, Clone)]
pub struct Minted {
    pub token: String,
    pub expires_at: u64,
}

/// The development issuer: its key, names and the matching verification rules.
pub struct Issuer {
    issuer: String,
    audience: String,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
    validation: Validation,
}

impl Issuer {
    /// Reads `<data_dir>/dev-issuer.key`, creating it on first use (readable by its owner only).
    pub fn load_or_create(
        data_dir: &Path,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, IssuerError> {
        let path = data_dir.join(KEY_FILE);
        let pkcs8 = match read_key(&path)? {
            Some(k) => k,
            None => {
                create_key(&path)?;
                read_key(&path)?.ok_or(IssuerError::BadKey { path: path.clone() })?
            }
        };
        Self::from_pkcs8(&pkcs8, issuer, audience).ok_or(IssuerError::BadKey { path })
    }

    fn from_pkcs8(pkcs8: &[u8], issuer: &str, audience: &str) -> Option<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).ok()?;
        let decoding = DecodingKey::from_ed_der(pair.public_key().as_ref());
        let mut jwk = Jwk::from_decoding_key(&decoding, Some(Algorithm::EdDSA)).ok()?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).ok()?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
        // Only EdDSA: a token naming another algorithm (none, HS256 keyed with the public key…)
        // is refused before any signature check.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Some(Self {
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            kid,
            encoding: EncodingKey::from_ed_der(pkcs8),
            decoding,
            jwk,
            validation,
        })
    }

    /// A token for `sub`, valid for `ttl_secs` from now.
    pub fn mint(&self, sub: &str, ttl_secs: u64) -> Result<Minted, IssuerError> {
        check_user_id(sub).map_err(IssuerError::Subject)?;
        if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
            return Err(IssuerError::Ttl);
        }
        let now = now_secs();
        let claims = Claims {
            sub: sub.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| IssuerError::Sign(e.to_string()))?;
        Ok(Minted {
            token,
            expires_at: claims.exp,
        })
    }

    /// The caller a JWT names, if the authorizer on AWS would let it through.
    pub fn verify(&self, token: &str) -> Result<String, Rejected> {
        let header = jsonwebtoken::decode_header(token).map_err(reason)?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(Rejected::UnknownKey);
        }
        let data = jsonwebtoken::decode::<Verified>(token, &self.decoding, &self.validation)
            .map_err(reason)?;
        // The authorizer also refuses a token issued in the future; jsonwebtoken does not check it.
        if data
            .claims
            .iat
            .is_some_and(|iat| iat > (now_secs() + LEEWAY_SECS) as f64)
        {
            return Err(Rejected::Invalid(
                "the token was issued in the future (iat)".into(),
            ));
        }
        check_user_id(&data.claims.sub).map_err(Rejected::Subject)?;
        Ok(data.claims.sub)
    }

    /// The public key as a JSON Web Key Set, as an identity provider publishes it.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }
}

fn reason(e: jsonwebtoken::errors::Error) -> Rejected {
    let text = match e.kind() {
        ErrorKind::InvalidSignature => "bad signature".to_string(),
        ErrorKind::ExpiredSignature => "the token has expired (exp)".to_string(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_string(),
        ErrorKind::InvalidIssuer => "wrong issuer (iss)".to_string(),
        ErrorKind::InvalidAudience => "wrong audience (aud)".to_string(),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            "the token is not signed with EdDSA".to_string()
        }
        ErrorKind::MissingRequiredClaim(c) => format!("missing claim {c}"),
        ErrorKind::InvalidClaimFormat(c) => format!("malformed claim {c}"),
        _ => "not a well-formed JWT".to_string(),
    };
    Rejected::Invalid(text)
}

/// Turns the `Authorization` header into the caller.
pub struct Authenticator {
    issuer: Issuer,
    dev: bool,
}

impl Authenticator {
    pub fn new(issuer: Issuer, dev: bool) -> Self {
        Self { issuer, dev }
    }

    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    pub fn dev(&self) -> bool {
        self.dev
    }

    /// `Ok(None)` without the header: whether a route needs a caller is the handler's business.
    /// Like the authorizer, the `Bearer ` prefix is optional.
    pub fn caller(&self, authorization: Option<&[u8]>) -> Result<Option<String>, Rejected> {
        let Some(raw) = authorization else {
            return Ok(None);
        };
        let value = std::str::from_utf8(raw)
            .map_err(|_| Rejected::Invalid("not a well-formed JWT".into()))?
            .trim();
        let token = match value.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("bearer ") => value[7..].trim(),
            _ => value,
        };
        if let Some(user) = token.strip_prefix("dev:") {
            if !self.dev {
                return Err(Rejected::DevTokenOutsideDevMode);
            }
            check_user_id(user).map_err(Rejected::DevUser)?;
            return Ok(Some(user.to_string()));
        }
        self.issuer.verify(token).map(Some)
    }
}

fn read_key(path: &Path) -> Result<Option<Vec<u8>>, IssuerError> {
    match std::fs::read_to_string(path) {
        Ok(pem) => from_pem(&pem).map(Some).ok_or_else(|| IssuerError::BadKey {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IssuerError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes a fresh key next to `path` and links it into place, so concurrent first starts (the
/// runtime and a `token` command) agree on one key and nobody reads a half-written file.
fn create_key(path: &Path) -> Result<(), IssuerError> {
    let io = |source| IssuerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| IssuerError::KeyGeneration)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("key.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(to_pem(doc.as_ref()).as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        });
    let _ = std::fs::remove_file(&tmp);
    written.map_err(io)
}

fn to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {PEM_LABEL}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {PEM_LABEL}-----\n"));
    out
}

fn from_pem(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix(&format!("-----BEGIN {PEM_LABEL}-----"))?
        .strip_suffix(&format!("-----END {PEM_LABEL}-----"))?;
    let b64: String = body.split_whitespace().collect();
    STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "reserveplace-identity-{tag}-{}",
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    fn issuer(d: &Path) -> Issuer {
        Issuer::load_or_create(d, DEFAULT_ISSUER, DEFAULT_AUDIENCE).expect("issuer")
    }

    fn sign(i: &Issuer, claims: serde_json::Value) -> String {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(i.kid.clone());
        jsonwebtoken::encode(&h, &claims, &i.encoding).expect("sign")
    }

    #[test]
    fn a_minted_token_verifies_to_its_sub() {
        let d = dir("roundtrip");
        let i = issuer(&d);
        let m = i.mint("alice", 60).expect("mint");
        assert_eq!(i.verify(&m.token), Ok("alice".to_string()));
        assert!(m.expires_at >= now_secs() + 59);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn the_key_is_created_once_and_reused() {
        let d = dir("reuse");
        let a = issuer(&d);
        let b = issuer(&d);
        assert_eq!(a.kid, b.kid);
        let token = a.mint("bob", 60).expect("mint").token;
        assert_eq!(b.verify(&token), Ok("bob".to_string()));
        // Another data dir is another issuer: its tokens name a key this one does not have.
        let d2 = dir("other");
        assert_eq!(issuer(&d2).verify(&token), Err(Rejected::UnknownKey));
        let _ = std::fs::remove_dir_all(d);
        let _ = std::fs::remove_dir_all(d2);
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_key() {
        let d = dir("corrupt");
        std::fs::write(d.join(KEY_FILE), "garbage").expect("write");
        assert!(matches!(
            Issuer::load_or_create(&d, DEFAULT_ISSUER, DEFAULT_AUDIENCE),
            Err(IssuerError::BadKey { .. })
        ));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn claims_are_checked_like_the_authorizer_does() {
        let d = dir("claims");
        let i = issuer(&d);
        let t = now_secs() as i64;
        let ok = |c| i.verify(&sign(&i, c));
        let base = |exp: i64| serde_json::json!({"sub": "alice", "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE, "exp": exp});
        assert_eq!(ok(base(t + 60)), Ok("alice".into()));
        assert_eq!(ok(base(t - 10)), Ok("alice".into()), "within the leeway");
        assert!(ok(base(t - 120)).is_err(), "expired");
        let mut c = base(t + 60);
        c["iss"] = "other".into();
        assert!(ok(c).is_err(), "iss");
        let mut c = base(t + 60);
        c["aud"] = "other".into();
        assert!(ok(c).is_err(), "aud");
        let mut c = base(t + 600);
        c["nbf"] = (t + 300).into();
        assert!(ok(c).is_err(), "nbf");
        let mut c = base(t + 600);
        c["iat"] = (t + 300).into();
        assert!(ok(c).is_err(), "iat");
        let mut c = base(t + 60);
        c["sub"] = "a#b".into();
        assert!(matches!(ok(c), Err(Rejected::Subject(_))), "sub");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn dev_tokens_only_in_dev_mode() {
        let d = dir("dev");
        let dev = Authenticator::new(issuer(&d), true);
        let strict = Authenticator::new(issuer(&d), false);
        assert_eq!(
            dev.caller(Some(b"Bearer dev:alice")),
            Ok(Some("alice".into()))
        );
        assert_eq!(
            strict.caller(Some(b"Bearer dev:alice")),
            Err(Rejected::DevTokenOutsideDevMode)
        );
        assert!(dev.caller(Some(b"Bearer dev:")).is_err());
        assert_eq!(strict.caller(None), Ok(None));
        let token = strict.issuer().mint("carol", 60).expect("mint").token;
        for value in [format!("Bearer {token}"), format!("bearer {token}"), token] {
            assert_eq!(
                strict.caller(Some(value.as_bytes())),
                Ok(Some("carol".into()))
            );
        }
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn mint_refuses_what_verify_would() {
        let d = dir("mint");
        let i = issuer(&d);
        assert!(i.mint("", 60).is_err());
        assert!(i.mint("a#b", 60).is_err());
        assert!(i.mint("alice", 0).is_err());
        assert!(i.mint("alice", MAX_TTL_SECS + 1).is_err());
        let _ = std::fs::remove_dir_all(d);
    }
}
