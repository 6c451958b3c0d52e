//! Connecting to the registry, target and rehearsal databases, with TLS as libpq does it.
//!
//! A URL's `sslmode` is honoured with all of libpq's values, which tokio-postgres alone does
//! not: `disable`; `allow` and `prefer` (TLS when the server offers it); `require` (TLS, the
//! certificate not checked, unless a root certificate is given, as in libpq); `verify-ca`
//! (the chain checked against the root certificates); `verify-full` (also the host name).
//! Root certificates come from the URL's `sslrootcert` (a PEM file, or `system` for the
//! machine's bundle), else from the configured default (`--tls-root-cert`), else from
//! `~/.postgresql/root.crt` when it exists. TLS is rustls with the ring provider. Unix
//! sockets never use TLS (PostgreSQL does not offer it there).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::error::StoreError;

/// Files tried for `sslrootcert=system`, as distributions place their CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// TLS defaults for every database connection the registry makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Root certificates (PEM) for URLs that name none with `sslrootcert`.
    pub root_cert: Option<PathBuf>,
}

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// How long a pool waits: to make a connection, and for a free one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolTimeouts {
    /// To connect (and to check a pooled connection before reuse).
    pub connect: Duration,
    /// For a connection to come free when all are in use.
    pub wait: Duration,
}

/// A database to connect to: the parsed settings and the TLS connector for them.
#[derive(Clone)]
pub struct Endpoint {
    /// tokio-postgres's settings (with `sslmode` mapped onto what it knows).
    pub config: tokio_postgres::Config,
    /// The TLS connector honouring the URL's `sslmode`.
    pub tls: MakeRustls,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("user", &self.config.get_user())
            .field("hosts", &self.config.get_hosts())
            .field("tls", &self.tls.mode)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Parses `url` (a `postgresql://` URL or libpq's `key=value` form) with `defaults` for
    /// TLS. `what` names the database in errors ("registry database URL", "target \"prod\"").
    pub fn parse(url: &str, defaults: &TlsSettings, what: &str) -> Result<Self, StoreError> {
        let (rest, ssl_mode, root_cert) = take_tls_parameters(url);
        let mut config: tokio_postgres::Config =
            rest.parse().map_err(|e| StoreError::Invalid(format!("{what}: {e}")))?;
        let mode = match ssl_mode.as_deref() {
            None | Some("prefer" | "allow") => Mode::Prefer,
            Some("disable") => Mode::Disable,
            Some("require") => Mode::Require,
            Some("verify-ca") => Mode::VerifyCa,
            Some("verify-full") => Mode::VerifyFull,
            Some(other) => {
                return Err(StoreError::Invalid(format!(
                    "{what}: sslmode={other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )));
            }
        };
        let unix_only = !config.get_hosts().is_empty() && config.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)));
        let mode = if unix_only { Mode::Disable } else { mode };
        config.ssl_mode(match mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        });
        let roots = match root_cert.map(PathBuf::from).or_else(|| defaults.root_cert.clone()).or_else(default_root_file)
        {
            Some(path) => Some(load_roots(&path).map_err(|e| StoreError::Invalid(format!("{what}: {e}")))?),
            None => None,
        };
        if matches!(mode, Mode::VerifyCa | Mode::VerifyFull) && roots.is_none() {
            return Err(StoreError::Invalid(format!(
                "{what}: sslmode={} needs root certificates: add sslrootcert=<file> (or sslrootcert=system) to the \
                 URL, or give --tls-root-cert",
                if mode == Mode::VerifyCa { "verify-ca" } else { "verify-full" }
            )));
        }
        let tls = MakeRustls::new(mode, roots).map_err(|e| StoreError::Invalid(format!("{what}: TLS: {e}")))?;
        Ok(Self { config, tls })
    }

    /// Sets the connect timeout and TCP keepalives, so a database that stops answering is
    /// noticed instead of waited on forever.
    #[must_use]
    pub fn bounded(mut self, connect_timeout: Duration) -> Self {
        self.config.connect_timeout(connect_timeout);
        self.config.keepalives(true);
        self.config.keepalives_idle(Duration::from_secs(30));
        self.config.keepalives_interval(Duration::from_secs(10));
        self.config.keepalives_retries(3);
        self
    }

    /// A pool of up to `size` connections to this database, made on demand (none at once,
    /// so a database that is down does not stop the caller from starting). `options` are
    /// the server settings every connection starts with (`-c name=value ...`). A pooled
    /// connection is checked before it is handed out: one the server closed (a restart)
    /// is replaced instead of failing a call.
    pub fn pool(
        &self,
        application_name: &str,
        options: Option<&str>,
        size: usize,
        timeouts: PoolTimeouts,
    ) -> Result<Pool, StoreError> {
        let mut config = self.config.clone();
        config.application_name(application_name);
        if let Some(options) = options {
            config.options(options);
        }
        let manager =
            Manager::from_config(config, self.tls.clone(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        Pool::builder(manager)
            .max_size(size.max(1))
            .wait_timeout(Some(timeouts.wait))
            .create_timeout(Some(timeouts.connect))
            .recycle_timeout(Some(timeouts.connect))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Invalid(format!("{application_name} connection pool: {e}")))
    }

    /// Connects and drives the connection on a task of its own.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, StoreError> {
        let (client, connection) = self.config.connect(self.tls.clone()).await?;
        tokio::spawn(async move {
            // The connection ends with the client; its error, if any, surfaces on the client.
            let _ = connection.await;
        });
        Ok(client)
    }
}

/// Splits `sslmode` and `sslrootcert` off a URL or `key=value` string, since
/// tokio-postgres rejects the verify modes and knows no root certificates.
fn take_tls_parameters(url: &str) -> (String, Option<String>, Option<String>) {
    let mut ssl_mode = None;
    let mut root_cert = None;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), None, None);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("sslmode", value)) => ssl_mode = Some(percent_decode(value)),
                Some(("sslrootcert", value)) => root_cert = Some(percent_decode(value)),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        return (rest, ssl_mode, root_cert);
    }
    let mut kept = Vec::new();
    for word in url.split_whitespace() {
        match word.split_once('=') {
            Some(("sslmode", value)) => ssl_mode = Some(value.trim_matches('\'').to_owned()),
            Some(("sslrootcert", value)) => root_cert = Some(value.trim_matches('\'').to_owned()),
            _ => kept.push(word),
        }
    }
    (kept.join(" "), ssl_mode, root_cert)
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// libpq's default root certificate file, when it exists.
fn default_root_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = Path::new(&home).join(".postgresql/root.crt");
    path.is_file().then_some(path)
}

/// Reads PEM root certificates from `path` (or the system bundle for `system`).
fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let path = if path == Path::new("system") {
        SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()).ok_or_else(|| {
            format!("sslrootcert=system: no CA bundle found (looked at {})", SYSTEM_BUNDLES.join(", "))
        })?
    } else {
        path
    };
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read root certificates from {}: {e}", path.display()))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| format!("{}: not a PEM certificate file: {e}", path.display()))?;
        roots.add(certificate).map_err(|e| format!("{}: unusable certificate: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(roots)
}

/// The TLS connector handed to tokio-postgres: rustls with the verification `sslmode` asks
/// for.
#[derive(Clone)]
pub struct MakeRustls {
    mode: Mode,
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    fn new(mode: Mode, roots: Option<RootCertStore>) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
            (Mode::VerifyFull, Some(roots)) => {
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| rustls::Error::General(e.to_string()))?
            }
            (_, Some(roots)) => Arc::new(ChainOnly {
                inner: WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| rustls::Error::General(e.to_string()))?,
            }),
            (_, None) => Arc::new(Unverified { provider: provider.clone() }),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Self { mode, config: Arc::new(config) })
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, io::Error> {
        // tokio-postgres asks for a connector even for a Unix socket (domain ""), where TLS
        // is never used: a bad name is an error only if a handshake is attempted.
        let name = ServerName::try_from(domain.to_owned()).map_err(|e| format!("TLS server name {domain:?}: {e}"));
        Ok(RustlsConnect { connector: tokio_rustls::TlsConnector::from(self.config.clone()), name })
    }
}

/// One TLS handshake to come.
pub struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: Result<ServerName<'static>, String>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let name = self.name.map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
            self.connector.connect(name, stream).await.map(RustlsStream)
        })
    }
}

/// A TLS stream to PostgreSQL.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// `require` and `prefer` without root certificates: encryption without authentication of
/// the server, as libpq does. The handshake's signatures are still checked.
#[derive(Debug)]
struct Unverified {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` (and `require` with root certificates): the chain must lead to a trusted
/// root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_urls() {
        let (rest, mode, root) =
            take_tls_parameters("postgresql://u@db/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fca.pem");
        assert_eq!(rest, "postgresql://u@db/app?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/ca.pem"));
        let (rest, mode, _) = take_tls_parameters("host=db user=u sslmode=require");
        assert_eq!((rest.as_str(), mode.as_deref()), ("host=db user=u", Some("require")));
        assert_eq!(take_tls_parameters("postgresql://u@db/app").0, "postgresql://u@db/app");
    }

    #[test]
    fn modes_are_checked() {
        let defaults = TlsSettings::default();
        let bad = Endpoint::parse("postgresql://u@db/app?sslmode=sometimes", &defaults, "test URL");
        assert!(matches!(bad, Err(StoreError::Invalid(ref m)) if m.contains("sslmode")), "{bad:?}");
        let verify = Endpoint::parse("postgresql://u@db/app?sslmode=verify-full", &defaults, "test URL");
        if default_root_file().is_none() {
            assert!(matches!(verify, Err(StoreError::Invalid(ref m)) if m.contains("root certificates")), "{verify:?}");
        }
        let socket = Endpoint::parse("postgresql://u@%2Ftmp%2Fs/app?sslmode=require", &defaults, "test URL");
        assert_eq!(socket.map(|e| e.config.get_ssl_mode()).ok(), Some(SslMode::Disable), "no TLS on a socket");
        let missing = Endpoint::parse("postgresql://u@db/app?sslrootcert=/nonexistent.pem", &defaults, "test URL");
        assert!(matches!(missing, Err(StoreError::Invalid(ref m)) if m.contains("nonexistent")), "{missing:?}");
    }
}
