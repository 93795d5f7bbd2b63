//! Billing's Prometheus client over HTTPS with authentication: a real Prometheus
//! (the Debian package's binary) serving TLS with a certificate of a private CA and
//! requiring basic auth (`--web.config.file`), queried by
//! `akp_billing::metering::prom::Prometheus::from_config` as the daemon builds it from
//! `prometheus.caFile` / `basicAuth` (the chart's `billing.prometheusAuth`). Prometheus
//! has no bearer-token authentication of its own (that is a proxy's, in front of it),
//! so the bearer token is checked on the wire: a listener reads the request's
//! `Authorization` header, and a rotated token file is sent at the next query.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use akp_billing::metering::config::{BasicAuth, PrometheusConfig};
use akp_billing::metering::prom::{PromError, Prometheus};
use akp_test_support::{free_port, setpriv_command};
use anyhow::{Context, Result, bail};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType,
};

/// A bcrypt hash (cost 12) of PASSWORD, as Prometheus' web config wants it.
const PASSWORD: &str = "s3cret-pass";
const PASSWORD_BCRYPT: &str = "$2b$12$5FYFTYpPLvuFubeMb/Nz2uMYwYeMUtwF5blSyE9ksv1ZrmgjSdz5y";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A CA and a serving certificate for 127.0.0.1 it signs: (CA PEM, cert PEM, key PEM).
fn pki() -> Result<(String, String, String)> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
        .subject_alt_names
        .push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    let cert = params.signed_by(&key, &issuer)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

fn config(url: &str, ca: Option<&Path>, auth: Option<(&str, &Path)>) -> PrometheusConfig {
    PrometheusConfig {
        url: url.to_owned(),
        ca_file: ca.map(Path::to_path_buf),
        basic_auth: auth.map(|(username, password)| BasicAuth {
            username: username.to_owned(),
            password_file: password.to_path_buf(),
        }),
        ..PrometheusConfig::default()
    }
}

/// Starts Prometheus with TLS and basic auth; returns it and its https URL.
fn start_prometheus(dir: &Path, cert: &str, key: &str) -> Result<(Killed, String)> {
    std::fs::write(dir.join("server.crt"), cert)?;
    std::fs::write(dir.join("server.key"), key)?;
    std::fs::write(
        dir.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  akp: {PASSWORD_BCRYPT}\n",
            dir.join("server.crt").display(),
            dir.join("server.key").display()
        ),
    )?;
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 1h\n",
    )?;
    let port = free_port()?;
    let log = std::fs::File::create(dir.join("prometheus.log"))?;
    let child = setpriv_command("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--web.config.file={}",
            dir.join("web.yml").display()
        ))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting prometheus (the Debian package)")?;
    Ok((Killed(child), format!("https://127.0.0.1:{port}")))
}

#[tokio::test]
async fn billing_queries_prometheus_over_tls_with_its_ca_and_basic_auth() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (ca, cert, key) = pki()?;
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, &ca)?;
    let password = dir.path().join("password");
    std::fs::write(&password, format!("{PASSWORD}\n"))?;
    let (mut prom, url) = start_prometheus(dir.path(), &cert, &key)?;
    let timeout = Duration::from_secs(10);
    let client = Prometheus::from_config(
        &config(&url, Some(&ca_file), Some(("akp", &password))),
        timeout,
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client.ready().await {
        if let Some(status) = prom.0.try_wait()? {
            bail!(
                "prometheus exited ({status}): {}",
                std::fs::read_to_string(dir.path().join("prometheus.log"))?
            );
        }
        if Instant::now() > deadline {
            bail!("Prometheus over TLS with basic auth not ready in 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let now = jiff::Timestamp::now().as_second();
    let series = client.query("vector(42)", now).await?;
    assert_eq!(series.len(), 1, "{series:?}");

    // Without the CA the certificate is refused: nothing is sent.
    let no_ca = Prometheus::from_config(&config(&url, None, Some(("akp", &password))), timeout)?;
    let err = no_ca.query("vector(1)", now).await.expect_err("no CA");
    assert!(matches!(err, PromError::Unreachable { .. }), "{err}");
    // Without credentials, or with a wrong password, Prometheus answers 401.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-password")?;
    for (what, auth) in [
        ("no auth", None),
        ("wrong password", Some(("akp", wrong.as_path()))),
    ] {
        let client = Prometheus::from_config(&config(&url, Some(&ca_file), auth), timeout)?;
        let err = client.query("vector(1)", now).await.expect_err(what);
        assert!(err.to_string().contains("401"), "{what}: {err}");
    }
    // A CA file that holds no certificate is refused at start, naming the field.
    let empty = dir.path().join("empty.crt");
    std::fs::write(&empty, "")?;
    let err = Prometheus::from_config(&config(&url, Some(&empty), None), timeout)
        .expect_err("an empty CA file");
    assert!(err.to_string().contains("prometheus.caFile"), "{err}");
    Ok(())
}

/// Answers one HTTP request with an empty vector; returns the request's head.
fn answer_once(listener: &TcpListener) -> Result<String> {
    let (mut stream, _) = listener.accept()?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test]
async fn billing_sends_the_bearer_token_of_the_file_read_at_each_query() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let token: PathBuf = dir.path().join("token");
    std::fs::write(&token, "first-token\n")?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let url = format!("http://{}", listener.local_addr()?);
    let client = Prometheus::from_config(
        &PrometheusConfig {
            url,
            bearer_token_file: Some(token.clone()),
            ..PrometheusConfig::default()
        },
        Duration::from_secs(10),
    )?;
    let server = std::thread::spawn(move || -> Result<Vec<String>> {
        Ok(vec![answer_once(&listener)?, answer_once(&listener)?])
    });
    client.query("up", 1).await?;
    // A rotated token (a projected ServiceAccount token, a renewed Secret).
    std::fs::write(&token, "second-token")?;
    client.query("up", 1).await?;
    let heads = server
        .join()
        .map_err(|_| anyhow::anyhow!("server panicked"))??;
    let auth = |head: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix("authorization: "))
            .map(str::to_owned)
    };
    assert_eq!(
        auth(&heads[0]).as_deref(),
        Some("Bearer first-token"),
        "{}",
        heads[0]
    );
    assert_eq!(
        auth(&heads[1]).as_deref(),
        Some("Bearer second-token"),
        "{}",
        heads[1]
    );
    // A token and basic auth at once are refused, naming both.
    let err = Prometheus::from_config(
        &PrometheusConfig {
            bearer_token_file: Some(token.clone()),
            basic_auth: Some(BasicAuth {
                username: "u".into(),
                password_file: token,
            }),
            ..PrometheusConfig::default()
        },
        Duration::from_secs(1),
    )
    .expect_err("both");
    assert!(err.to_string().contains("prometheus.basicAuth"), "{err}");
    Ok(())
}
