//! Who is calling: the platform operator (admin token), or a member of one tenant through an
//! API key (`kb_<id>_<secret>`, only the secret's SHA-256 is stored) or a JWT bearer token
//! (HS256 or RS256, from a configured key or a JWKS file). The tenant always comes from the
//! credential, never from the request.

use crate::config::Config;
use crate::store::{Role, User};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// The platform operator: tenant lifecycle only, no tenant's content.
    Platform,
    Member(Member),
}

/// A user of one tenant, with what this credential lets them do.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub user: User,
    /// The lesser of the user's role and the key's scope.
    pub role: Role,
    /// `key:<id>` or `jwt`, for the audit log.
    pub via: String,
}

impl Member {
    pub fn tenant(&self) -> &str {
        &self.user.tenant
    }
}

/// A credential, as parsed from `Authorization: Bearer …` (or `X-Api-Key`).
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    ApiKey {
        id: String,
        secret: String,
    },
    Jwt(String),
    /// Anything else: compared with the admin token.
    Opaque(String),
}

impl Credential {
    pub fn parse(token: &str) -> Self {
        if let Some(rest) = token.strip_prefix("kb_")
            && let Some((id, secret)) = rest.split_once('_')
        {
            return Self::ApiKey { id: id.to_owned(), secret: secret.to_owned() };
        }
        if token.split('.').count() == 3 {
            return Self::Jwt(token.to_owned());
        }
        Self::Opaque(token.to_owned())
    }
}

/// SHA-256 hex of a secret. API key secrets are 256 random bits, so a fast hash is enough: no
/// dictionary to search.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two hashes without an early exit on the first differing byte.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The claims a tenant-kb token carries.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The tenant id.
    pub tenant: String,
}

/// Verifies bearer JWTs against the configured key(s).
pub struct JwtVerifier {
    keys: Vec<(Option<String>, DecodingKey, Algorithm)>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("keys", &self.keys.len()).finish()
    }
}

/// Why a token was not accepted (never shown in detail to the client: all are a plain 401).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("jwt: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("jwt key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("no key for this token's kid")]
    UnknownKid,
}

impl JwtVerifier {
    /// `None` when no JWT key is configured (API keys only).
    pub fn from_config(c: &Config) -> Result<Option<Self>, AuthError> {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| AuthError::KeyFile { path: p.display().to_string(), reason: e.to_string() })
        };
        let mut keys = Vec::new();
        if let Some(secret) = &c.jwt_hs256_secret {
            keys.push((None, DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256));
        }
        if let Some(path) = &c.jwt_rs256_public_key {
            keys.push((None, DecodingKey::from_rsa_pem(&read(path)?)?, Algorithm::RS256));
        }
        if let Some(path) = &c.jwks_file {
            let set: JwkSet = serde_json::from_slice(&read(path)?)
                .map_err(|e| AuthError::KeyFile { path: path.display().to_string(), reason: e.to_string() })?;
            for jwk in &set.keys {
                let alg = match jwk.common.key_algorithm {
                    Some(jsonwebtoken::jwk::KeyAlgorithm::HS256) => Algorithm::HS256,
                    _ => Algorithm::RS256,
                };
                keys.push((jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)?, alg));
            }
        }
        Ok((!keys.is_empty()).then(|| Self { keys, issuer: c.jwt_issuer.clone(), audience: c.jwt_audience.clone() }))
    }

    /// The claims of a valid, unexpired token signed by one of the keys.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)?;
        let mut last = AuthError::UnknownKid;
        for (kid, key, alg) in &self.keys {
            if *alg != header.alg || (kid.is_some() && header.kid.is_some() && kid != &header.kid) {
                continue;
            }
            let mut v = Validation::new(*alg);
            v.set_required_spec_claims(&["exp", "sub"]);
            v.leeway = 30;
            if let Some(iss) = &self.issuer {
                v.set_issuer(&[iss]);
            }
            match &self.audience {
                Some(aud) => v.set_audience(&[aud]),
                // Production note: with no audience configured a token minted for another
                // service of the same issuer is accepted; set `jwt_audience` in production.
                None => v.validate_aud = false,
            }
            match jsonwebtoken::decode::<Claims>(token, key, &v) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = e.into(),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_parse_by_shape() {
        assert_eq!(
            Credential::parse("kb_ab12_s3cret"),
            Credential::ApiKey { id: "ab12".into(), secret: "s3cret".into() }
        );
        assert!(matches!(Credential::parse("a.b.c"), Credential::Jwt(_)));
        assert!(matches!(Credential::parse("plain"), Credential::Opaque(_)));
        assert!(same_hash(&hash_secret("x"), &hash_secret("x")));
        assert!(!same_hash(&hash_secret("x"), &hash_secret("y")));
    }
}
