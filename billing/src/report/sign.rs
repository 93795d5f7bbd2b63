//! Integrity of a report (R-BIL-02): the artifacts, a manifest with the SHA-256 of each,
//! and an Ed25519 signature of the manifest's bytes; [`verify_dir`] checks all three.
//!
//! Ed25519 signatures are deterministic (RFC 8032), so the same content and key give
//! the same bundle byte for byte. The key is the 32-byte seed, from a Secret or a file,
//! raw or as 64 hex digits.

use std::collections::BTreeSet;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::report::html::to_html;
use crate::report::words::Lang;
use crate::report::{ReportDocument, ReportError, csv::to_csv, to_json};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The signature's file name: hex of the 64-byte Ed25519 signature of `manifest.json`.
pub const SIGNATURE: &str = "manifest.json.sig";
/// The manifest format identifier.
pub const MANIFEST_FORMAT: &str = "akp.egov.kz/billing-manifest/v1";

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Neither 32 raw bytes nor 64 hex digits.
    #[error("an Ed25519 key is 32 bytes, raw or as 64 hex digits; got {0} bytes")]
    Length(usize),
    /// Bad hex.
    #[error("the key is not valid hex: {0}")]
    Hex(String),
    /// Not a valid public key point.
    #[error("not a valid Ed25519 public key: {0}")]
    Public(String),
}

/// Why signing or writing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Rendering an artifact failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Writing the manifest failed.
    #[error("cannot write the manifest: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing files failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest is not the expected JSON.
    #[error("manifest.json is not a billing manifest: {0}")]
    Manifest(String),
    /// The signature file is malformed.
    #[error("manifest.json.sig is not a hex Ed25519 signature")]
    SignatureFormat,
    /// The signature does not match the manifest and key.
    #[error("the signature of manifest.json does not verify with the given public key")]
    BadSignature,
    /// An artifact's hash differs from the manifest.
    #[error("{path} was changed: its SHA-256 is {actual}, the manifest says {expected}")]
    Tampered {
        /// The file.
        path: String,
        /// From the manifest.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// An artifact path that is not a plain file name.
    #[error("the manifest names {0:?}, which is not a plain file name")]
    Path(String),
}

/// One file of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactFile {
    /// File name.
    pub path: String,
    /// json, csv, html-kk, html-ru.
    pub format: String,
    /// Content.
    pub bytes: Vec<u8>,
}

/// An artifact as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestEntry {
    /// File name.
    pub path: String,
    /// Format.
    pub format: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// The report's name.
    pub report: String,
    /// The month.
    pub period: String,
    /// The report it corrects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
    /// Generation time.
    pub generated_at: String,
    /// Totals per currency.
    pub totals: std::collections::BTreeMap<String, String>,
    /// `ed25519`.
    pub algorithm: String,
    /// The signer's public key, hex.
    pub public_key: String,
    /// The artifacts.
    pub artifacts: Vec<ManifestEntry>,
}

/// A signed bundle: artifacts, manifest bytes and signature hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The report's name.
    pub report: String,
    /// Artifacts.
    pub artifacts: Vec<ArtifactFile>,
    /// The manifest as written.
    pub manifest: Vec<u8>,
    /// The signature, lowercase hex, with a final newline.
    pub signature: Vec<u8>,
}

impl Bundle {
    /// SHA-256 of the manifest bytes, hex: identifies this exact bundle.
    pub fn manifest_sha256(&self) -> String {
        sha256_hex(&self.manifest)
    }

    /// Every file of the bundle, artifacts then manifest and signature.
    pub fn files(&self) -> Vec<(&str, &[u8])> {
        let mut out: Vec<(&str, &[u8])> = self
            .artifacts
            .iter()
            .map(|a| (a.path.as_str(), a.bytes.as_slice()))
            .collect();
        out.push((MANIFEST, &self.manifest));
        out.push((SIGNATURE, &self.signature));
        out
    }
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn key_bytes(bytes: &[u8]) -> Result<[u8; 32], KeyError> {
    if bytes.len() == 32 {
        let mut out = [0u8; 32];
        out.copy_from_slice(bytes);
        return Ok(out);
    }
    let text = std::str::from_utf8(bytes).map(str::trim).unwrap_or("");
    if text.len() == 64 {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|e| KeyError::Hex(e.to_string()))?;
        return Ok(out);
    }
    Err(KeyError::Length(bytes.len()))
}

/// The signing key from a Secret's or file's bytes: the 32-byte seed, raw or hex.
pub fn signing_key_from_bytes(bytes: &[u8]) -> Result<SigningKey, KeyError> {
    Ok(SigningKey::from_bytes(&key_bytes(bytes)?))
}

/// The public key from 32 raw bytes or 64 hex digits.
pub fn verifying_key_from_bytes(bytes: &[u8]) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&key_bytes(bytes)?).map_err(|e| KeyError::Public(e.to_string()))
}

/// Renders every artifact of a report: JSON, CSV, HTML in Kazakh and Russian.
pub fn render(doc: &ReportDocument) -> Result<Vec<ArtifactFile>, ReportError> {
    let mut out = vec![
        ArtifactFile {
            path: "report.json".into(),
            format: "json".into(),
            bytes: to_json(doc)?,
        },
        ArtifactFile {
            path: "report.csv".into(),
            format: "csv".into(),
            bytes: to_csv(doc)?,
        },
    ];
    for lang in Lang::ALL {
        out.push(ArtifactFile {
            path: format!("report.{}.html", lang.code()),
            format: format!("html-{}", lang.code()),
            bytes: to_html(doc, lang)?,
        });
    }
    Ok(out)
}

/// Renders, hashes and signs a report.
pub fn sign(doc: &ReportDocument, key: &SigningKey) -> Result<Bundle, SignError> {
    let artifacts = render(doc)?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        report: doc.name.clone(),
        period: doc.period.clone(),
        corrects: doc.corrects.clone(),
        generated_at: doc.generated_at.clone(),
        totals: [(doc.currency.clone(), doc.totals.billed.clone())]
            .into_iter()
            .collect(),
        algorithm: "ed25519".into(),
        public_key: hex::encode(key.verifying_key().as_bytes()),
        artifacts: artifacts
            .iter()
            .map(|a| ManifestEntry {
                path: a.path.clone(),
                format: a.format.clone(),
                sha256: sha256_hex(&a.bytes),
                bytes: a.bytes.len() as u64,
            })
            .collect(),
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    manifest_bytes.push(b'\n');
    let signature = key.sign(&manifest_bytes);
    let mut sig = hex::encode(signature.to_bytes()).into_bytes();
    sig.push(b'\n');
    Ok(Bundle {
        report: doc.name.clone(),
        artifacts,
        manifest: manifest_bytes,
        signature: sig,
    })
}

/// Writes a bundle's files into `dir` (created if needed), each to a temporary file
/// renamed over it, so that a reader (a receiver, a verification, a delivery) never
/// sees a file half written, even when the bundle is written again.
pub fn write_bundle(bundle: &Bundle, dir: &Path) -> Result<(), SignError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SignError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (name, bytes) in bundle.files() {
        let path = dir.join(name);
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(".{}.tmp", file.unwrap_or_default()));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
    }
    Ok(())
}

/// Verifies a manifest's bytes and signature with `public_key`.
pub fn verify_manifest(
    manifest: &[u8],
    signature_hex: &[u8],
    public_key: &VerifyingKey,
) -> Result<Manifest, VerifyError> {
    let text = std::str::from_utf8(signature_hex).map_err(|_| VerifyError::SignatureFormat)?;
    let mut raw = [0u8; 64];
    hex::decode_to_slice(text.trim(), &mut raw).map_err(|_| VerifyError::SignatureFormat)?;
    public_key
        .verify(manifest, &Signature::from_bytes(&raw))
        .map_err(|_| VerifyError::BadSignature)?;
    let parsed: Manifest =
        serde_json::from_slice(manifest).map_err(|e| VerifyError::Manifest(e.to_string()))?;
    if parsed.format != MANIFEST_FORMAT {
        return Err(VerifyError::Manifest(format!("format {:?}", parsed.format)));
    }
    Ok(parsed)
}

/// Verifies a report directory: the manifest's signature with `public_key`, then the
/// SHA-256 of every artifact it lists. Returns the manifest. This is what
/// `akp-billing verify <dir>` runs.
pub fn verify_dir(dir: &Path, public_key: &VerifyingKey) -> Result<Manifest, VerifyError> {
    verify_with(
        |name| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| VerifyError::Io {
                path: path.display().to_string(),
                source,
            })
        },
        public_key,
    )
}

/// [`verify_dir`] over any store of files: `read` returns a file's bytes by name (the
/// fuzz target verifies bundles held in memory).
pub fn verify_with(
    read: impl Fn(&str) -> Result<Vec<u8>, VerifyError>,
    public_key: &VerifyingKey,
) -> Result<Manifest, VerifyError> {
    let manifest = verify_manifest(&read(MANIFEST)?, &read(SIGNATURE)?, public_key)?;
    let mut seen = BTreeSet::new();
    for a in &manifest.artifacts {
        let plain = !a.path.is_empty()
            && !a.path.contains(['/', '\\'])
            && a.path != ".."
            && a.path != "."
            && seen.insert(a.path.clone());
        if !plain {
            return Err(VerifyError::Path(a.path.clone()));
        }
        let actual = sha256_hex(&read(&a.path)?);
        if actual != a.sha256 {
            return Err(VerifyError::Tampered {
                path: a.path.clone(),
                expected: a.sha256.clone(),
                actual,
            });
        }
    }
    Ok(manifest)
}

/// Why the `verify` command failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyCommandError {
    /// The public key file could not be read.
    #[error("cannot read the public key {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The key is malformed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Verification failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// `akp-billing verify <dir> --public-key <file>`: verifies a report directory with the
/// public key in `key_file` (32 raw bytes or 64 hex digits) and returns a one-line
/// summary. The binary's `main` calls this.
pub fn verify_command(dir: &Path, key_file: &Path) -> Result<String, VerifyCommandError> {
    let bytes = std::fs::read(key_file).map_err(|source| VerifyCommandError::KeyFile {
        path: key_file.display().to_string(),
        source,
    })?;
    let key = verifying_key_from_bytes(&bytes)?;
    let m = verify_dir(dir, &key)?;
    Ok(format!(
        "OK: report {} ({}), {} artifacts, signed by {}",
        m.report,
        m.period,
        m.artifacts.len(),
        m.public_key
    ))
}

/// The BillingReport status's `artifacts` for a bundle written under `dir`.
pub fn status_artifacts(bundle: &Bundle, dir: &Path) -> Vec<akp_crds::report::Artifact> {
    let mut out: Vec<akp_crds::report::Artifact> = bundle
        .artifacts
        .iter()
        .map(|a| akp_crds::report::Artifact {
            format: a.format.clone(),
            sha256: sha256_hex(&a.bytes),
            path: dir.join(&a.path).display().to_string(),
        })
        .collect();
    for (format, name, bytes) in [
        ("manifest", MANIFEST, &bundle.manifest),
        ("signature", SIGNATURE, &bundle.signature),
    ] {
        out.push(akp_crds::report::Artifact {
            format: format.to_string(),
            sha256: sha256_hex(bytes),
            path: dir.join(name).display().to_string(),
        });
    }
    out
}
