//! The serving certificate, replaceable while the server runs: rustls asks
//! [`CertStore`] for the certificate at every handshake, so a rotated certificate
//! (a renewed Secret, or files cert-manager rewrote) is used from the next
//! connection on, without a restart.
//!
//! [`ClientCa`] is the other direction: the CA whose client certificates the server
//! requires (mutual TLS), so that only the API server, which presents such a
//! certificate through its admission configuration, can make an admission call.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::UnixTime;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

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
    /// The client CA PEM holds no usable CA certificate.
    #[error("the client CA PEM holds no usable CA certificate: {0}")]
    ClientCa(String),
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
    /// TLS 1.2 and 1.3, HTTP/1.1. With `client_ca`, a client must present a
    /// certificate that CA signed, or the handshake fails.
    pub fn server_config(
        self: &Arc<Self>,
        client_ca: Option<Arc<ClientCa>>,
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
        let builder = match client_ca {
            Some(ca) => builder.with_client_cert_verifier(ca),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(self.clone());
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

/// The CA whose client certificates the webhook server requires (mutual TLS),
/// replaceable while the server runs like [`CertStore`]: each handshake asks the
/// current verifier.
///
/// Give the API server's webhook client certificate a CA of its own: the cluster CA
/// also signs users' and kubelets' client certificates, and every holder of one could
/// then call the webhook directly.
pub struct ClientCa {
    current: RwLock<Arc<dyn ClientCertVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for ClientCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCa").finish_non_exhaustive()
    }
}

impl ClientCa {
    /// Requires client certificates signed by one of the CA certificates in `ca_pem`.
    pub fn from_pem(ca_pem: &str) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = client_verifier(ca_pem, &provider)?;
        Ok(Self {
            current: RwLock::new(verifier),
            provider,
        })
    }

    /// Requires client certificates signed by a CA of the PEM file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, TlsError> {
        Self::from_pem(&read(path)?)
    }

    /// Trusts the CAs of `ca_pem` from the next handshake on; on error the current
    /// ones stay.
    pub fn replace(&self, ca_pem: &str) -> Result<(), TlsError> {
        let verifier = client_verifier(ca_pem, &self.provider)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = verifier;
        Ok(())
    }

    /// Reloads the PEM file at `path` (e.g. a rotated ConfigMap).
    pub fn reload_file(&self, path: &Path) -> Result<(), TlsError> {
        self.replace(&read(path)?)
    }

    fn current(&self) -> Arc<dyn ClientCertVerifier> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ClientCertVerifier for ClientCa {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No hints: they would have to change with a reload, and without them a client
    /// sends the one certificate it has (the API server has one per webhook host).
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current().supported_verify_schemes()
    }
}

fn client_verifier(
    ca_pem: &str,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| TlsError::ClientCa(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| TlsError::ClientCa(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(TlsError::ClientCa("no CERTIFICATE block".into()));
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::ClientCa(e.to_string()))
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
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

    #[test]
    fn a_client_ca_needs_a_ca_certificate() {
        assert!(matches!(ClientCa::from_pem(""), Err(TlsError::ClientCa(_))));
        let (cert, _) = self_signed("ca.example");
        let ca = ClientCa::from_pem(&cert).expect("client ca");
        assert!(ca.client_auth_mandatory());
        assert!(matches!(ca.replace("garbage"), Err(TlsError::ClientCa(_))));
    }
}
