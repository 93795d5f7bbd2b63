//! Self-managed webhook certificates: a CA and a serving certificate kept in a Secret
//! (`kubernetes.io/tls` plus `ca.crt` and `ca.key`), and the CA put into the webhook
//! configuration's `caBundle`. Where the chart uses cert-manager instead, none of
//! this runs.
//!
//! The CA lives 10 years and the serving certificate 1 year; either is replaced 30
//! days before it expires. A new serving certificate is signed by the CA already in
//! the Secret, so `caBundle` does not change and connections keep verifying while
//! replicas pick the new certificate up one by one.

use std::net::IpAddr;
use std::time::SystemTime;

use jiff::{SignedDuration, Timestamp, ToSpan};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::tls::CertStore;
use crate::rules::naming::labels;

/// The field manager of the operator's writes.
pub const FIELD_MANAGER: &str = "akp-operator";

/// Keys of the Secret: the `kubernetes.io/tls` pair, the CA certificate, and the CA
/// key (to sign the next serving certificate with the same CA).
pub const TLS_CRT: &str = "tls.crt";
/// The serving key.
pub const TLS_KEY: &str = "tls.key";
/// The CA certificate, the `caBundle`.
pub const CA_CRT: &str = "ca.crt";
/// The CA key.
pub const CA_KEY: &str = "ca.key";

/// Common name of the self-managed CA; a Secret whose CA has another is replaced.
const CA_COMMON_NAME: &str = "akp-operator-webhook-ca";
/// Renew this long before a certificate expires.
const RENEW_BEFORE: SignedDuration = SignedDuration::from_hours(30 * 24);
/// Writes lost to another replica before giving up.
const MAX_ATTEMPTS: usize = 4;

/// Why the certificates could not be ensured.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Reading or writing the Secret or the webhook configuration failed.
    #[error("{action} failed: {source}")]
    Kube {
        /// What was attempted.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Generating a key or a certificate failed.
    #[error("generating the {what} failed: {source}")]
    Generate {
        /// Which certificate.
        what: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// A requested DNS name is not valid in a certificate.
    #[error("{0:?} is not a valid DNS name for a certificate")]
    DnsName(String),
    /// No DNS name was given.
    #[error("a serving certificate needs at least one DNS name or IP address")]
    NoNames,
    /// The date arithmetic left the supported range.
    #[error("computing a certificate validity failed: {0}")]
    Time(#[from] jiff::Error),
    /// Other replicas kept winning the race to write the Secret.
    #[error("the Secret {0} kept changing under us; giving up after {MAX_ATTEMPTS} attempts")]
    Contended(String),
    /// The webhook configuration does not exist.
    #[error("ValidatingWebhookConfiguration {0} does not exist")]
    NoConfiguration(String),
    /// The mutating webhook configuration does not exist.
    #[error("MutatingWebhookConfiguration {0} does not exist")]
    NoMutatingConfiguration(String),
    /// The certificate could not be loaded for serving.
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
}

/// A CA and a serving certificate it signed, all PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ServingCert {
    /// The CA certificate: the webhook configuration's `caBundle`.
    pub ca_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// The serving certificate's private key.
    pub key_pem: String,
}

impl std::fmt::Debug for ServingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServingCert")
            .field("ca_pem", &self.ca_pem)
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// The whole content of the Secret.
struct Material {
    serving: ServingCert,
    ca_key_pem: String,
}

/// What to do with the Secret found.
enum Plan {
    /// Everything is valid for more than 30 days: use it.
    Keep(ServingCert),
    /// The CA is good, the serving certificate is not: sign a new one with the CA.
    NewServingCert { ca_pem: String, ca_key_pem: String },
    /// Nothing usable: a new CA and serving certificate.
    NewCa,
}

/// Returns the serving certificate of the Secret `namespace/secret_name`, creating
/// or renewing it as needed, valid for `dns_names` (IP addresses allowed).
pub async fn ensure_serving_cert(
    client: &Client,
    namespace: &str,
    secret_name: &str,
    dns_names: &[String],
) -> Result<ServingCert, CertError> {
    ensure_serving_cert_at(client, namespace, secret_name, dns_names, SystemTime::now()).await
}

/// [`ensure_serving_cert`] as if the time were `now` (tests of renewal). A `SystemTime`
/// so that callers need no date crate.
///
/// Several replicas may run this at once: the Secret is created with a plain create
/// and replaced with a server-side apply that carries the resourceVersion read, so
/// only one write wins; a loser (409) reads again and takes the winner's certificate.
pub async fn ensure_serving_cert_at(
    client: &Client,
    namespace: &str,
    secret_name: &str,
    dns_names: &[String],
    now: SystemTime,
) -> Result<ServingCert, CertError> {
    let now = Timestamp::try_from(now)?;
    if dns_names.is_empty() {
        return Err(CertError::NoNames);
    }
    let api = Api::<Secret>::namespaced(client.clone(), namespace);
    let what = format!("{namespace}/{secret_name}");
    for _ in 0..MAX_ATTEMPTS {
        let existing = api
            .get_opt(secret_name)
            .await
            .map_err(|source| CertError::Kube {
                action: format!("reading Secret {what}"),
                source,
            })?;
        let (material, reason) = match plan(existing.as_ref(), dns_names, now) {
            Plan::Keep(serving) => return Ok(serving),
            Plan::NewServingCert { ca_pem, ca_key_pem } => {
                let issuer = Issuer::new(ca_params(now)?, key_from_pem(&ca_key_pem, "CA")?);
                let (cert_pem, key_pem) = serving_cert(&issuer, dns_names, now)?;
                let material = Material {
                    serving: ServingCert {
                        ca_pem,
                        cert_pem,
                        key_pem,
                    },
                    ca_key_pem,
                };
                (material, "serving certificate renewed with the existing CA")
            }
            Plan::NewCa => (
                new_material(dns_names, now)?,
                "new CA and serving certificate",
            ),
        };
        let written = match &existing {
            None => {
                let params = PostParams {
                    field_manager: Some(FIELD_MANAGER.to_owned()),
                    ..PostParams::default()
                };
                api.create(&params, &secret(secret_name, namespace, &material, None))
                    .await
            }
            Some(current) => {
                let body = secret(
                    secret_name,
                    namespace,
                    &material,
                    current.metadata.resource_version.clone(),
                );
                api.patch(
                    secret_name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&body),
                )
                .await
            }
        };
        match written {
            Ok(_) => {
                tracing::info!(secret = %what, "webhook certificate written: {reason}");
                return Ok(material.serving);
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                tracing::info!(secret = %what, "another replica wrote the certificate first; reading it");
            }
            Err(source) => {
                return Err(CertError::Kube {
                    action: format!("writing Secret {what}"),
                    source,
                });
            }
        }
    }
    Err(CertError::Contended(what))
}

/// Sets `caBundle` to `ca_pem` on every webhook of the ValidatingWebhookConfiguration
/// `name`. Writes nothing when they all have it already.
pub async fn patch_ca_bundle(client: &Client, name: &str, ca_pem: &str) -> Result<(), CertError> {
    patch_bundle(
        &Api::<ValidatingWebhookConfiguration>::all(client.clone()),
        "ValidatingWebhookConfiguration",
        name,
        ca_pem,
        |c| bundles(c.webhooks, |w| (w.name, w.client_config.ca_bundle)),
    )
    .await
    .map_err(|e| e.unwrap_or_else(|| CertError::NoConfiguration(name.to_owned())))
}

/// Sets `caBundle` to `ca_pem` on every webhook of the MutatingWebhookConfiguration
/// `name` (the Pod placement webhook). Writes nothing when they all have it already.
pub async fn patch_mutating_ca_bundle(
    client: &Client,
    name: &str,
    ca_pem: &str,
) -> Result<(), CertError> {
    patch_bundle(
        &Api::<MutatingWebhookConfiguration>::all(client.clone()),
        "MutatingWebhookConfiguration",
        name,
        ca_pem,
        |c| bundles(c.webhooks, |w| (w.name, w.client_config.ca_bundle)),
    )
    .await
    .map_err(|e| e.unwrap_or_else(|| CertError::NoMutatingConfiguration(name.to_owned())))
}

/// The common part of the two: `Err(None)` when the configuration does not exist.
/// Each webhook's name and `caBundle`, of either kind of configuration.
fn bundles<W>(
    webhooks: Option<Vec<W>>,
    of: impl Fn(W) -> (String, Option<ByteString>),
) -> Vec<(String, Option<ByteString>)> {
    webhooks.unwrap_or_default().into_iter().map(of).collect()
}

async fn patch_bundle<K>(
    api: &Api<K>,
    kind: &str,
    name: &str,
    ca_pem: &str,
    bundles: impl Fn(K) -> Vec<(String, Option<ByteString>)>,
) -> Result<(), Option<CertError>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let current = api
        .get_opt(name)
        .await
        .map_err(|source| CertError::Kube {
            action: format!("reading {kind} {name}"),
            source,
        })?
        .ok_or(None)?;
    let bundle = ByteString(ca_pem.as_bytes().to_vec());
    let webhooks = bundles(current);
    if webhooks.iter().all(|(_, b)| b.as_ref() == Some(&bundle)) {
        return Ok(());
    }
    // A strategic merge patch merges webhooks by name: no index to race on, and no
    // claim on fields the chart (or Helm) owns.
    let patch = serde_json::json!({
        "webhooks": webhooks
            .iter()
            .map(|(hook, _)| serde_json::json!({"name": hook, "clientConfig": {"caBundle": bundle}}))
            .collect::<Vec<_>>()
    });
    api.patch(
        name,
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        },
        &Patch::Strategic(&patch),
    )
    .await
    .map_err(|source| CertError::Kube {
        action: format!("patching the caBundle of {kind} {name}"),
        source,
    })?;
    tracing::info!(configuration = name, kind, "webhook caBundle updated");
    Ok(())
}

/// The self-managed certificate of one deployment: where it is kept, the names it
/// serves, and the configuration that must trust it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfManagedCerts {
    /// The operator's namespace.
    pub namespace: String,
    /// The Secret that holds the certificates.
    pub secret_name: String,
    /// DNS names (e.g. `akp-operator-webhook.akp-system.svc`) and IP addresses.
    pub dns_names: Vec<String>,
    /// The ValidatingWebhookConfiguration whose `caBundle` is kept, and the
    /// MutatingWebhookConfiguration of the same name (Pod placement), if it exists.
    pub configuration: String,
}

impl SelfManagedCerts {
    /// Ensures the certificate, serves it from `store` and puts its CA into the
    /// configurations. Run at start and periodically (daily is plenty with 30 days of
    /// margin); a no-op when nothing changed.
    pub async fn refresh(
        &self,
        client: &Client,
        store: &CertStore,
    ) -> Result<ServingCert, CertError> {
        let serving =
            ensure_serving_cert(client, &self.namespace, &self.secret_name, &self.dns_names)
                .await?;
        store.replace(&serving.cert_pem, &serving.key_pem)?;
        patch_ca_bundle(client, &self.configuration, &serving.ca_pem).await?;
        // A deployment without the placement webhook has no mutating configuration.
        match patch_mutating_ca_bundle(client, &self.configuration, &serving.ca_pem).await {
            Ok(()) | Err(CertError::NoMutatingConfiguration(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(serving)
    }
}

/// Decides from the Secret found (if any) what to keep and what to make.
fn plan(secret: Option<&Secret>, dns_names: &[String], now: Timestamp) -> Plan {
    let Some(data) = secret.and_then(|s| s.data.as_ref()) else {
        return Plan::NewCa;
    };
    let text = |key: &str| {
        data.get(key)
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
            .filter(|s| !s.is_empty())
    };
    let (Some(ca_pem), Some(ca_key_pem)) = (text(CA_CRT), text(CA_KEY)) else {
        return Plan::NewCa;
    };
    let Some(ca_der) = pem_der(&ca_pem) else {
        return Plan::NewCa;
    };
    let Ok((_, ca)) = X509Certificate::from_der(&ca_der) else {
        return Plan::NewCa;
    };
    let ca_is_ours = ca.subject().iter().count() == 1
        && ca
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            == Some(CA_COMMON_NAME);
    if !ca_is_ours || !fresh(&ca, now) || !key_matches(&ca, &ca_key_pem) {
        return Plan::NewCa;
    }
    let serving_ok = match (text(TLS_CRT), text(TLS_KEY)) {
        (Some(cert_pem), Some(key_pem)) => {
            let ok = pem_der(&cert_pem).is_some_and(|der| {
                X509Certificate::from_der(&der).is_ok_and(|(_, cert)| {
                    fresh(&cert, now)
                        && key_matches(&cert, &key_pem)
                        && signed_by(&cert, &ca)
                        && covers(&cert, dns_names)
                })
            });
            ok.then_some((cert_pem, key_pem))
        }
        _ => None,
    };
    match serving_ok {
        Some((cert_pem, key_pem)) => Plan::Keep(ServingCert {
            ca_pem,
            cert_pem,
            key_pem,
        }),
        None => Plan::NewServingCert { ca_pem, ca_key_pem },
    }
}

/// Already valid at `now`, and for more than [`RENEW_BEFORE`] still.
fn fresh(cert: &X509Certificate<'_>, now: Timestamp) -> bool {
    let validity = cert.validity();
    let renew_at = validity
        .not_after
        .timestamp()
        .saturating_sub(RENEW_BEFORE.as_secs());
    validity.not_before.timestamp() <= now.as_second() && now.as_second() < renew_at
}

/// Issued by `ca`: every self-managed CA has the same subject, so the signature
/// decides.
fn signed_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == ca.subject().as_raw()
        && cert.verify_signature(Some(ca.public_key())).is_ok()
}

fn key_matches(cert: &X509Certificate<'_>, key_pem: &str) -> bool {
    KeyPair::from_pem(key_pem)
        .is_ok_and(|key| key.subject_public_key_info() == cert.public_key().raw)
}

/// Whether every requested name is among the certificate's subject alternative names.
fn covers(cert: &X509Certificate<'_>, names: &[String]) -> bool {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    names.iter().all(|name| {
        san.value.general_names.iter().any(|general| match general {
            GeneralName::DNSName(dns) => dns.eq_ignore_ascii_case(name),
            GeneralName::IPAddress(bytes) => name.parse::<IpAddr>().is_ok_and(|ip| match ip {
                IpAddr::V4(v4) => *bytes == v4.octets(),
                IpAddr::V6(v6) => *bytes == v6.octets(),
            }),
            _ => false,
        })
    })
}

fn pem_der(pem: &str) -> Option<Vec<u8>> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .ok()
        .map(|(_, parsed)| parsed.contents)
}

fn key_from_pem(pem: &str, what: &'static str) -> Result<KeyPair, CertError> {
    KeyPair::from_pem(pem).map_err(|source| CertError::Generate { what, source })
}

/// A new CA and a serving certificate signed by it.
fn new_material(dns_names: &[String], now: Timestamp) -> Result<Material, CertError> {
    let generate = |source| CertError::Generate { what: "CA", source };
    let ca_key = KeyPair::generate().map_err(generate)?;
    let ca_key_pem = ca_key.serialize_pem();
    let params = ca_params(now)?;
    let ca_cert = params.self_signed(&ca_key).map_err(generate)?;
    let issuer = Issuer::new(params, ca_key);
    let (cert_pem, key_pem) = serving_cert(&issuer, dns_names, now)?;
    Ok(Material {
        serving: ServingCert {
            ca_pem: ca_cert.pem(),
            cert_pem,
            key_pem,
        },
        ca_key_pem,
    })
}

/// The CA's parameters; also what rebuilds the issuer from the stored CA key, so the
/// subject must not change between versions (a changed one replaces the CA).
fn ca_params(now: Timestamp) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, now, 10)?;
    Ok(params)
}

/// A serving certificate for `names` signed by `issuer`: `(cert_pem, key_pem)`.
fn serving_cert(
    issuer: &Issuer<'_, KeyPair>,
    names: &[String],
    now: Timestamp,
) -> Result<(String, String), CertError> {
    let generate = |source| CertError::Generate {
        what: "serving certificate",
        source,
    };
    let key = KeyPair::generate().map_err(generate)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    let first = names.first().ok_or(CertError::NoNames)?;
    params
        .distinguished_name
        .push(DnType::CommonName, first.as_str());
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                name.as_str()
                    .try_into()
                    .map_err(|_| CertError::DnsName(name.clone()))?,
            ),
        };
        params.subject_alt_names.push(san);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, now, 1)?;
    let cert = params.signed_by(&key, issuer).map_err(generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// From the day before `now` (clocks of other machines may lag) to `years` later, in
/// whole UTC days (what rcgen takes without the `time` crate): `(year, month, day)`
/// of the first and the last day.
fn validity_days(now: Timestamp, years: i16) -> Result<[(i32, u8, u8); 2], CertError> {
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    // Month and day are positive by construction.
    let ymd = |d: jiff::civil::Date| {
        (
            i32::from(d.year()),
            d.month().unsigned_abs(),
            d.day().unsigned_abs(),
        )
    };
    Ok([
        ymd(today.checked_sub(1.day())?),
        ymd(today.checked_add(years.years())?),
    ])
}

fn set_validity(
    params: &mut CertificateParams,
    now: Timestamp,
    years: i16,
) -> Result<(), CertError> {
    let [(y1, m1, d1), (y2, m2, d2)] = validity_days(now, years)?;
    params.not_before = rcgen::date_time_ymd(y1, m1, d1);
    params.not_after = rcgen::date_time_ymd(y2, m2, d2);
    Ok(())
}

fn secret(
    name: &str,
    namespace: &str,
    material: &Material,
    resource_version: Option<String>,
) -> Secret {
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some([(labels::MANAGED_BY.to_owned(), labels::OPERATOR.to_owned())].into()),
            // A precondition: the apply fails with 409 if another replica wrote since.
            resource_version,
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(
            [
                (TLS_CRT.to_owned(), bytes(&material.serving.cert_pem)),
                (TLS_KEY.to_owned(), bytes(&material.serving.key_pem)),
                (CA_CRT.to_owned(), bytes(&material.serving.ca_pem)),
                (CA_KEY.to_owned(), bytes(&material.ca_key_pem)),
            ]
            .into(),
        ),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec![
            "akp-operator-webhook.akp-system.svc".into(),
            "127.0.0.1".into(),
        ]
    }

    fn stored(material: &Material) -> Secret {
        secret("s", "ns", material, None)
    }

    fn parse(pem: &str) -> (i64, i64) {
        let der = pem_der(pem).expect("pem");
        let (_, cert) = X509Certificate::from_der(&der).expect("x509");
        (
            cert.validity().not_before.timestamp(),
            cert.validity().not_after.timestamp(),
        )
    }

    const DAY: i64 = 24 * 3600;

    #[test]
    fn a_new_ca_lives_ten_years_and_the_serving_cert_one() {
        let now = Timestamp::now();
        let material = new_material(&names(), now).expect("material");
        let (ca_from, ca_until) = parse(&material.serving.ca_pem);
        let (from, until) = parse(&material.serving.cert_pem);
        assert!(ca_from <= now.as_second() && from <= now.as_second());
        assert!((ca_until - now.as_second()) / DAY >= 3650 - 1);
        assert!((until - now.as_second()) / DAY >= 364);
        assert!((until - now.as_second()) / DAY <= 366);
        // The serving certificate chains to the CA and carries both names.
        assert!(matches!(
            plan(Some(&stored(&material)), &names(), now),
            Plan::Keep(_)
        ));
    }

    #[test]
    fn renewal_reuses_a_good_ca_and_replaces_an_expiring_serving_cert() {
        let now = Timestamp::now();
        let material = new_material(&names(), now).expect("material");
        let secret = stored(&material);
        let later = now + SignedDuration::from_hours(340 * 24);
        match plan(Some(&secret), &names(), later) {
            Plan::NewServingCert { ca_pem, .. } => assert_eq!(ca_pem, material.serving.ca_pem),
            _ => panic!("expected a new serving certificate with the same CA"),
        }
        let near_ca_end = now + SignedDuration::from_hours((3650 - 20) * 24);
        assert!(matches!(
            plan(Some(&secret), &names(), near_ca_end),
            Plan::NewCa
        ));
        // A name the certificate lacks also needs a new serving certificate.
        let more = [names(), vec!["other.example".into()]].concat();
        assert!(matches!(
            plan(Some(&secret), &more, now),
            Plan::NewServingCert { .. }
        ));
    }

    #[test]
    fn an_empty_foreign_or_broken_secret_gets_a_new_ca() {
        let now = Timestamp::now();
        assert!(matches!(plan(None, &names(), now), Plan::NewCa));
        assert!(matches!(
            plan(Some(&Secret::default()), &names(), now),
            Plan::NewCa
        ));
        let a = new_material(&names(), now).expect("a");
        let b = new_material(&names(), now).expect("b");
        // A CA key that does not belong to the CA certificate.
        let mixed = Material {
            serving: a.serving.clone(),
            ca_key_pem: b.ca_key_pem.clone(),
        };
        assert!(matches!(
            plan(Some(&stored(&mixed)), &names(), now),
            Plan::NewCa
        ));
        // A serving certificate of another CA is replaced, the CA kept.
        let foreign_leaf = Material {
            serving: ServingCert {
                ca_pem: a.serving.ca_pem.clone(),
                cert_pem: b.serving.cert_pem.clone(),
                key_pem: b.serving.key_pem.clone(),
            },
            ca_key_pem: a.ca_key_pem.clone(),
        };
        assert!(matches!(
            plan(Some(&stored(&foreign_leaf)), &names(), now),
            Plan::NewServingCert { .. }
        ));
    }

    #[test]
    fn a_renewed_serving_cert_verifies_against_the_old_ca() {
        let now = Timestamp::now();
        let material = new_material(&names(), now).expect("material");
        let issuer = Issuer::new(
            ca_params(now).expect("params"),
            KeyPair::from_pem(&material.ca_key_pem).expect("key"),
        );
        let (cert_pem, _) = serving_cert(&issuer, &names(), now).expect("renewed");
        let ca_der = pem_der(&material.serving.ca_pem).expect("ca");
        let cert_der = pem_der(&cert_pem).expect("cert");
        let (_, ca) = X509Certificate::from_der(&ca_der).expect("ca x509");
        let (_, cert) = X509Certificate::from_der(&cert_der).expect("cert x509");
        assert_eq!(cert.issuer().as_raw(), ca.subject().as_raw());
        cert.verify_signature(Some(ca.public_key()))
            .expect("signed by the stored CA");
    }
}
