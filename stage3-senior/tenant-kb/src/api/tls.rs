//! TLS for the listener: rustls with the aws-lc-rs provider (the crypto library the service
//! already uses for its keys), TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN.

use crate::Config;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Error, ErrorKind};
use std::sync::Arc;

/// The TLS configuration, when both files are set; an error naming the file when one is
/// missing or unreadable, so a misconfigured server never falls back to plain HTTP.
pub(super) async fn load(c: &Config) -> std::io::Result<Option<RustlsConfig>> {
    let (cert, key) = match (&c.tls_cert, &c.tls_key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        _ => return Err(Error::new(ErrorKind::InvalidInput, "set both tls_cert and tls_key, or neither")),
    };
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::InvalidInput, format!("{what} {}: {e}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("tls_cert", cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("tls_cert", cert, &e))?;
    if chain.is_empty() {
        return Err(bad("tls_cert", cert, &"no certificate in the file"));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("tls_key", key, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| bad("tls_key", key, &e))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(RustlsConfig::from_config(Arc::new(server))))
}
