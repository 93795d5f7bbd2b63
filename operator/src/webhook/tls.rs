//! The serving certificate, replaceable while the server runs: rustls asks
//! [`CertStore`] for the certificate at every handshake, so a rotated certificate
//! (a renewed Secret, or files cert-manager rewrote) is used from the next
//! connection on, without a restart.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate PEM holds no certificate, or is malformed.
    #[error("the certificate PEM holds no valid certificate: {0}")]
    Certificate(String),
    /// The key PEM holds no private key, or is malformed.
    #[error("the key PEM holds no valid private key: {0}")]
    Key(String),
    /// rustls refused the pair, e.g. the key does not match the certificate.
    #[error("the certificate and key cannot serve TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// A PEM file could not be read.
    #[error("reading {path} failed: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The current serving certificate and key.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
}

impl CertStore {
    /// A store serving the certificate chain `cert_pem` (leaf first) with `key_pem`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        // ring explicitly: the process may link more than one provider, and then
        // rustls has no default.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = certified_key(cert_pem, key_pem, &provider)?;
        Ok(Self {
            current: RwLock::new(Arc::new(key)),
            provider,
        })
    }

    /// A store serving the PEM files at `cert_path` and `key_path`.
    pub fn from_files(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let (cert, key) = read_pair(cert_path, key_path)?;
        Self::from_pem(&cert, &key)
    }

    /// Serves `cert_pem` and `key_pem` from the next handshake on. On error the
    /// current certificate stays.
    pub fn replace(&self, cert_pem: &str, key_pem: &str) -> Result<(), TlsError> {
        let key = Arc::new(certified_key(cert_pem, key_pem, &self.provider)?);
        // A panic elsewhere while holding the lock cannot leave a half-written Arc.
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = key;
        Ok(())
    }

    /// Reloads the PEM files at `cert_path` and `key_path` (e.g. after cert-manager
    /// rewrote the mounted Secret).
    pub fn reload_files(&self, cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
        let (cert, key) = read_pair(cert_path, key_path)?;
        self.replace(&cert, &key)
    }

    /// The DER of the leaf certificate served now.
    pub fn leaf_der(&self) -> Vec<u8> {
        self.current()
            .cert
            .first()
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// A rustls server configuration that takes its certificate from this store:
    /// TLS 1.2 and 1.3, HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn certified_key(
    cert_pem: &str,
    key_pem: &str,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::Certificate("no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TlsError::Key(e.to_string()))?;
    Ok(CertifiedKey::from_der(chain, key, provider)?)
}

fn read_pair(cert_path: &Path, key_path: &Path) -> Result<(String, String), TlsError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| TlsError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    Ok((read(cert_path)?, read(key_path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn replace_swaps_the_served_certificate() {
        let (cert_a, key_a) = self_signed("a.example");
        let (cert_b, key_b) = self_signed("b.example");
        let store = CertStore::from_pem(&cert_a, &key_a).expect("store");
        let before = store.leaf_der();
        store.replace(&cert_b, &key_b).expect("replace");
        assert_ne!(store.leaf_der(), before);
    }

    #[test]
    fn a_mismatched_or_empty_pair_is_refused_and_the_old_one_stays() {
        let (cert_a, key_a) = self_signed("a.example");
        let (_, key_b) = self_signed("b.example");
        let store = CertStore::from_pem(&cert_a, &key_a).expect("store");
        let before = store.leaf_der();
        assert!(matches!(
            store.replace(&cert_a, &key_b),
            Err(TlsError::Rustls(_))
        ));
        assert!(matches!(
            store.replace("", &key_a),
            Err(TlsError::Certificate(_))
        ));
        assert!(matches!(store.replace(&cert_a, ""), Err(TlsError::Key(_))));
        assert_eq!(store.leaf_der(), before);
    }
}
