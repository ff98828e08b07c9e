//! Envelope encryption: one master key wraps a data key per tenant; each tenant's stored text
//! is sealed with its own data key (AES-256-GCM from aws-lc-rs, already in the dependency graph
//! through rustls). Destroying a tenant's wrapped key makes everything sealed with it unreadable
//! at once, wherever copies of the ciphertext went (backups included): crypto-shredding.
//!
//! Production note: the master key is a 32-byte file in the data folder (or `TENANT_KB_MASTER_KEY`);
//! a deployment keeps it in a KMS or HSM and asks it to wrap and unwrap data keys, so the key
//! never sits beside the data it protects.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use std::path::Path;

/// 32 secret bytes.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

/// Sealing failed or a ciphertext did not open (wrong key, altered bytes, shredded key).
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("a ciphertext did not open: altered, or sealed under another key")]
    Open,
    #[error("the system random source failed")]
    Random,
    #[error("master key: {0}")]
    MasterKey(String),
}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = [0u8; 32];
        SystemRandom::new().fill(&mut k).map_err(|_| CryptoError::Random)?;
        Ok(Self(k))
    }

    /// From 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(s.trim()).map_err(|e| CryptoError::MasterKey(format!("not hex: {e}")))?;
        let k: [u8; 32] =
            bytes.try_into().map_err(|_| CryptoError::MasterKey("expected 32 bytes (64 hex characters)".into()))?;
        Ok(Self(k))
    }

    /// The master key: `env_hex` if given, else `path`, created (mode 0600) on first use.
    pub fn master(env_hex: Option<&str>, path: &Path) -> Result<Self, CryptoError> {
        if let Some(h) = env_hex {
            return Self::from_hex(h);
        }
        match std::fs::read_to_string(path) {
            Ok(s) => Self::from_hex(&s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let k = Self::generate()?;
                write_private(path, &hex::encode(k.0)).map_err(|e| CryptoError::MasterKey(e.to_string()))?;
                Ok(k)
            }
            Err(e) => Err(CryptoError::MasterKey(format!("{}: {e}", path.display()))),
        }
    }

    /// `nonce ‖ ciphertext ‖ tag`; `context` is bound as associated data, so a ciphertext moved
    /// to another document or tenant does not open.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut out = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut out)
            .map_err(|_| CryptoError::Random)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        Ok(sealed)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
        let mut buf = ct.to_vec();
        let plain =
            self.aead().open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf).map_err(|_| CryptoError::Open)?;
        Ok(plain.to_vec())
    }

    /// Wraps a data key under this (master) key.
    pub fn wrap(&self, data_key: &Key, tenant: &str) -> Result<Vec<u8>, CryptoError> {
        self.seal(&data_key.0, &format!("tenant-kb/data-key/{tenant}"))
    }

    pub fn unwrap(&self, wrapped: &[u8], tenant: &str) -> Result<Key, CryptoError> {
        let raw = self.open(wrapped, &format!("tenant-kb/data-key/{tenant}"))?;
        Ok(Self(raw.try_into().map_err(|_| CryptoError::Open)?))
    }

    /// A key for another purpose, derived from this one (HMAC-SHA256 of the label), so one
    /// master secret yields independent keys for wrapping and for the audit chain.
    pub fn derive(&self, label: &str) -> Key {
        let tag =
            aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.0), label.as_bytes());
        Self(tag.as_ref().try_into().expect("HMAC-SHA256 is 32 bytes"))
    }

    /// HMAC-SHA256 of `data` under this key, as hex.
    pub fn mac_hex(&self, data: &[u8]) -> String {
        hex::encode(aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.0), data))
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte key is valid for AES-256"))
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// `n` random bytes as hex (API key secrets, ids).
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    SystemRandom::new().fill(&mut b).expect("the system random source works");
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_binds_context() {
        let k = Key::generate().unwrap();
        let sealed = k.seal(b"secret text", "acme/doc1").unwrap();
        assert_eq!(k.open(&sealed, "acme/doc1").unwrap(), b"secret text");
        assert!(k.open(&sealed, "globex/doc1").is_err(), "moved to another context");
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(k.open(&flipped, "acme/doc1").is_err(), "altered");
        assert!(Key::generate().unwrap().open(&sealed, "acme/doc1").is_err(), "another key");
        let master = Key::generate().unwrap();
        let wrapped = master.wrap(&k, "acme").unwrap();
        assert_eq!(master.unwrap(&wrapped, "acme").unwrap().0, k.0);
        assert!(master.unwrap(&wrapped, "globex").is_err());
    }
}
