//! Throwaway certificates: a CA, serving certificates, client certificates and a
//! service-account key, all ECDSA P-256.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SigningKey,
};

/// Common name of the throwaway CA; the client certificates write it as their issuer.
const CA_COMMON_NAME: &str = "akp-test-ca";

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug)]
pub(crate) struct CertPair {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The certificate authority of one control plane plus its service-account key.
pub(crate) struct Pki {
    ca: Issuer<'static, KeyPair>,
    /// The CA's common name, written as the issuer of the client certificates.
    common_name: &'static str,
    pub ca_cert_pem: String,
    pub ca_key_pem: String,
    pub sa_key_pem: String,
    pub sa_pub_pem: String,
}

impl Pki {
    pub fn new() -> Result<Self> {
        Self::with_common_name(CA_COMMON_NAME)
    }

    /// A CA named `common_name` (e.g. a second CA only for one kind of client).
    pub fn with_common_name(common_name: &'static str) -> Result<Self> {
        let key = KeyPair::generate().context("generating the CA key")?;
        let mut params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).context("self-signing the CA")?;
        let ca_key_pem = key.serialize_pem();
        let sa = KeyPair::generate().context("generating the service-account key")?;
        Ok(Self {
            ca_cert_pem: cert.pem(),
            ca_key_pem,
            ca: Issuer::new(params, key),
            common_name,
            sa_key_pem: sa.serialize_pem(),
            sa_pub_pem: sa.public_key_pem(),
        })
    }

    /// A TLS server certificate for the given DNS names and IP addresses.
    pub fn serving_cert(&self, dns_names: &[&str], ips: &[IpAddr]) -> Result<CertPair> {
        let key = KeyPair::generate().context("generating a serving key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let cn = dns_names.first().copied().unwrap_or("akp-test-serving");
        params.distinguished_name.push(DnType::CommonName, cn);
        for name in dns_names {
            let name = (*name)
                .try_into()
                .with_context(|| format!("invalid DNS name {name:?}"))?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        for ip in ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.ca)
            .context("signing a serving certificate")?;
        Ok(CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A TLS client certificate with CN=`user` and one O per group, which the
    /// apiserver maps to that user name and those groups.
    ///
    /// rcgen keeps one value per attribute type, so it cannot write several O
    /// attributes; this certificate is therefore assembled in DER by hand (a
    /// fixed, small structure) and signed with the CA key.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<CertPair> {
        let key = KeyPair::generate().context("generating a client key")?;
        let mut subject = vec![(OID_COMMON_NAME, user)];
        subject.extend(groups.iter().map(|g| (OID_ORGANIZATION, *g)));

        let mut extensions = Vec::new();
        // keyUsage (critical): digitalSignature.
        extensions.extend(extension(OID_KEY_USAGE, true, &tlv(0x03, &[0x07, 0x80])));
        // extendedKeyUsage: clientAuth.
        extensions.extend(extension(
            OID_EXT_KEY_USAGE,
            false,
            &tlv(0x30, OID_CLIENT_AUTH),
        ));

        let tbs = tlv(
            0x30,
            &[
                tlv(0xa0, &tlv(0x02, &[0x02])), // version v3
                tlv(0x02, &random_serial()),
                tlv(0x30, OID_ECDSA_WITH_SHA256),
                name(&[(OID_COMMON_NAME, self.common_name)]),
                tlv(
                    0x30,
                    &[tlv(0x17, b"200101000000Z"), tlv(0x17, b"491231235959Z")].concat(),
                ),
                name(&subject),
                key.subject_public_key_info(),
                tlv(0xa3, &tlv(0x30, &extensions)),
            ]
            .concat(),
        );
        let signature = self
            .ca
            .key()
            .sign(&tbs)
            .context("signing a client certificate")?;
        let mut bits = vec![0u8]; // no unused bits
        bits.extend(signature);
        let der = tlv(
            0x30,
            &[tbs, tlv(0x30, OID_ECDSA_WITH_SHA256), tlv(0x03, &bits)].concat(),
        );
        Ok(CertPair {
            cert_pem: pem("CERTIFICATE", &der),
            key_pem: key.serialize_pem(),
        })
    }
}

// DER encodings (tag 0x06 included) of the object identifiers used above.
const OID_COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03]; // 2.5.4.3
const OID_ORGANIZATION: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x0a]; // 2.5.4.10
const OID_KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0f]; // 2.5.29.15
const OID_EXT_KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x25]; // 2.5.29.37
// 1.3.6.1.5.5.7.3.2
const OID_CLIENT_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
// 1.2.840.10045.4.3.2
const OID_ECDSA_WITH_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];

/// One DER tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// An X.509 Name with one attribute per RDN, values as UTF8String (as rcgen writes them,
/// so the issuer written here matches the CA's subject byte for byte).
fn name(attrs: &[(&[u8], &str)]) -> Vec<u8> {
    let rdns: Vec<u8> = attrs
        .iter()
        .flat_map(|(oid, value)| {
            tlv(
                0x31,
                &tlv(0x30, &[oid.to_vec(), tlv(0x0c, value.as_bytes())].concat()),
            )
        })
        .collect();
    tlv(0x30, &rdns)
}

fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut content = oid.to_vec();
    if critical {
        content.extend(tlv(0x01, &[0xff]));
    }
    content.extend(tlv(0x04, value));
    tlv(0x30, &content)
}

/// A positive 16-byte serial number; uniqueness is all that matters here, and
/// `RandomState` is randomly seeded per instance.
fn random_serial() -> Vec<u8> {
    let mut serial = Vec::with_capacity(16);
    for _ in 0..2 {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::UNIX_EPOCH
                .elapsed()
                .map_or(0, |d| d.as_nanos()),
        );
        serial.extend(h.finish().to_be_bytes());
    }
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0u8; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = tlv(0x04, &[0u8; 300]);
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn client_cert_is_pem() -> Result<()> {
        let pki = Pki::new()?;
        let pair = pki.client_cert("alice", &["g1", "g2", "g3"])?;
        assert!(pair.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pair.key_pem.contains("PRIVATE KEY"));
        Ok(())
    }
}
