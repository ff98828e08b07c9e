use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Lowercase hex SHA-256 of some bytes: the project's content hash.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Identity of a document: the SHA-256 of its original bytes.
///
/// Content addressing is what makes ingestion idempotent: the same file uploaded twice, under any
/// name, has the same id and is recognised instead of indexed again.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocId(String);

/// A string that is not a valid id.
#[derive(Debug, thiserror::Error)]
#[error("invalid id {0:?}: expected hex digits (64 for a document, 16 for a chunk)")]
pub struct IdError(String);

impl DocId {
    /// The id of a document whose original bytes are `bytes`.
    pub fn from_content(bytes: &[u8]) -> Self {
        Self(sha256_hex(bytes))
    }

    /// The hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short prefix for logs and progress output.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl TryFrom<String> for DocId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s))
        } else {
            Err(IdError(s))
        }
    }
}

impl std::str::FromStr for DocId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::try_from(s.to_owned())
    }
}

impl From<DocId> for String {
    fn from(id: DocId) -> String {
        id.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({})", self.short())
    }
}

/// Identity of a chunk: derived from its document id and its ordinal, so re-chunking the same
/// document with the same settings yields the same ids (and an upsert replaces, never duplicates).
///
/// 63 bits, because Qdrant point ids and tantivy fast fields both take them without conversion.
/// In JSON it is a 16-digit hex string: JavaScript numbers cannot hold 63 bits exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Debug)]
#[serde(try_from = "String", into = "String")]
pub struct ChunkId(u64);

impl ChunkId {
    /// The id of chunk number `ordinal` of document `doc`, under chunking settings `settings_tag`
    /// (different settings give different chunks, so they must not share ids).
    pub fn derive(doc: &DocId, settings_tag: &str, ordinal: usize) -> Self {
        let mut h = Sha256::new();
        h.update(doc.as_str().as_bytes());
        h.update([0]);
        h.update(settings_tag.as_bytes());
        h.update([0]);
        h.update((ordinal as u64).to_le_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Self(u64::from_le_bytes(first) >> 1)
    }

    /// Wrap a raw id read back from an index.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw value stored in an index.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<ChunkId> for String {
    fn from(id: ChunkId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for ChunkId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl std::str::FromStr for ChunkId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        match u64::from_str_radix(s, 16) {
            Ok(v) if s.len() == 16 => Ok(Self(v)),
            _ => Err(IdError(s.to_owned())),
        }
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_json_roundtrip(id: ChunkId) -> ChunkId {
        let json = serde_json::to_string(&id).unwrap();
        assert!(json.starts_with('"'), "a string in JSON: {json}");
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn doc_id_is_content_addressed_and_validated() {
        let a = DocId::from_content(b"hello");
        assert_eq!(a, DocId::from_content(b"hello"));
        assert_ne!(a, DocId::from_content(b"hello!"));
        assert_eq!(a.as_str().parse::<DocId>().unwrap(), a);
        assert!("not-a-hash".parse::<DocId>().is_err());
        assert!("A".repeat(64).parse::<DocId>().is_err(), "uppercase is rejected");
    }

    #[test]
    fn chunk_ids_depend_on_doc_settings_and_ordinal() {
        let d = DocId::from_content(b"x");
        let a = ChunkId::derive(&d, "cl100k:500:50", 0);
        assert_eq!(a, ChunkId::derive(&d, "cl100k:500:50", 0));
        assert_ne!(a, ChunkId::derive(&d, "cl100k:500:50", 1));
        assert_ne!(a, ChunkId::derive(&d, "cl100k:300:30", 0));
        assert!(a.get() < (1 << 63));
        assert_eq!(a.to_string().parse::<ChunkId>().unwrap(), a);
        assert_eq!(serde_json_roundtrip(a), a);
    }
}
