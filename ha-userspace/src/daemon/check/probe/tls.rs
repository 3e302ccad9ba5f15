//! The TLS client of `SSL_GET`, built once from the top-level `SSL` block.
//!
//! keepalived loads the `SSL` block's files into an OpenSSL context but never asks it to
//! verify the server (no SSL_VERIFY_PEER): a health check tests that the service answers,
//! and real servers commonly present certificates for the virtual name, self-signed ones,
//! or expired ones. So certificates are accepted whatever they say, while the handshake
//! signatures are still checked against the certificate's key, so the TLS exchange itself
//! must be sound. `ca` is read to catch a bad path as keepalived does, then unused.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::model::lvs::ssl::SslConfig;

/// A TLS client configuration shared by every `SSL_GET` probe; cloning shares it.
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
}

impl TlsClient {
    /// The client for the configuration's `SSL` block (`None`: keepalived's "autogen"
    /// context, no client certificate). Fails when a named file cannot be read or parsed.
    pub fn new(ssl: Option<&SslConfig>) -> Result<TlsClient, String> {
        let provider = Arc::new(ring_provider());
        let verifier = Arc::new(AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let ssl = ssl.cloned().unwrap_or_default();
        if let Some(ca) = &ssl.ca {
            read_certs(ca, "ca")?;
        }
        let mut config = match (&ssl.certificate, &ssl.key) {
            (Some(cert_file), Some(key_file)) => {
                let chain = read_certs(cert_file, "certificate")?;
                let key = read_key(key_file, ssl.password.is_some())?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("SSL certificate {cert_file} and key {key_file}: {e}"))?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(f), None) | (None, Some(f)) => {
                // OpenSSL, in keepalived, loads one without the other and then offers no
                // client certificate; do the same, but say so.
                tracing::warn!(
                    "SSL: {f} is used only with both 'certificate' and 'key'; \
                     SSL_GET will not offer a client certificate"
                );
                builder.with_no_client_auth()
            }
        };
        // No ALPN: keepalived offers none, and the request is HTTP/1.x.
        config.alpn_protocols.clear();
        Ok(TlsClient {
            config: Arc::new(config),
        })
    }

    /// Runs the TLS handshake over `tcp`, naming the server `sni` when given (see
    /// [`server_name`]).
    pub(super) async fn connect(
        &self,
        tcp: TcpStream,
        sni: Option<&str>,
        ip: IpAddr,
    ) -> io::Result<TlsStream<TcpStream>> {
        TlsConnector::from(self.config.clone())
            .connect(server_name(sni, ip), tcp)
            .await
    }
}

/// rustls' ring provider, the one the crate is built with. rustls 0.23.48 deprecates it for
/// lacking post-quantum key exchange, which a health check does not need.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The name for the handshake: `sni` (the virtualhost, with `enable_sni`) when it is a DNS
/// name, otherwise the server's address, for which rustls sends no SNI extension (RFC 6066
/// §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName").
pub(super) fn server_name(sni: Option<&str>, ip: IpAddr) -> ServerName<'static> {
    if let Some(name) = sni {
        if let Ok(ServerName::DnsName(d)) = ServerName::try_from(name.to_string()) {
            return ServerName::DnsName(d);
        }
    }
    ServerName::IpAddress(ip.into())
}

fn read_certs(path: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("SSL {what} file {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "SSL {what} file {path}: no PEM certificate found (expected '-----BEGIN CERTIFICATE-----')"
        ));
    }
    Ok(certs)
}

fn read_key(path: &str, has_password: bool) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read(path).map_err(|e| format!("SSL key file {path}: {e}"))?;
    key_from_pem(&text, has_password).map_err(|e| format!("SSL key file {path}: {e}"))
}

/// The first unencrypted private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
fn key_from_pem(pem: &[u8], has_password: bool) -> Result<PrivateKeyDer<'static>, String> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(k) => Ok(k),
        Err(e) => {
            let encrypted = pem.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED");
            if encrypted {
                // rustls reads no encrypted keys, so the SSL block's `password` cannot be
                // used: the key must be decrypted once beforehand.
                let why = if has_password {
                    "the key is encrypted, and password-protected keys are not supported"
                } else {
                    "the key is encrypted"
                };
                Err(format!(
                    "{why}; decrypt it with 'openssl pkey -in KEY -out PLAIN_KEY' and name \
                     the plain key in 'key'"
                ))
            } else {
                Err(format!("no PEM private key found ({e})"))
            }
        }
    }
}

/// Accepts any server certificate (see the module comment) but checks the handshake
/// signatures with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use rustls::server::ServerConnection;
    use rustls::sign::{CertifiedKey, SingleCertAndKey};
    use rustls::{ClientConnection, ServerConfig, SupportedProtocolVersion};

    use super::*;
    use crate::test_support::TempDir;

    /// A self-signed P-256 certificate for "probe-test.invalid" and its key (openssl req -x509).
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBkDCCATegAwIBAgIUTjBAQh9K3UYmI63+rONIj84s5NowCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwScHJvYmUtdGVzdC5pbnZhbGlkMCAXDTI2MTIwNTA1MjY0M1oY
DzIxMjYxMTExMDUyNjQzWjAdMRswGQYDVQQDDBJwcm9iZS10ZXN0LmludmFsaWQw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATn02HtYYbmOYtyjYLLWAfDCkmkWwpy
OILlP1MhPFDpL/0BIzpg2KvwD/2VWAqPLeVFaqhc1I4SkL4AhYwz/f3So1MwUTAd
BgNVHQ4EFgQUoj5xRYCgIk/v/NnekgSNEg82X2gwHwYDVR0jBBgwFoAUoj5xRYCg
Ik/v/NnekgSNEg82X2gwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBE
AiAz2VlAh5n8zfEAka9fO/PWRE/Xpp/buquG5uQRh9uWjgIgea2EQKsZc/0Ngmz2
xC2wrGh5lwKebQMExMbwf2eTcjI=
-----END CERTIFICATE-----
";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkw08bFQVU7WudBiM
QLQ/MpzYsrrAyDcrDjRG9qExVPOhRANCAATn02HtYYbmOYtyjYLLWAfDCkmkWwpy
OILlP1MhPFDpL/0BIzpg2KvwD/2VWAqPLeVFaqhc1I4SkL4AhYwz/f3S
-----END PRIVATE KEY-----
";
    /// Another P-256 key, which does not match `CERT`.
    const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgt5WJqjj6dMJJfH1f
WiNL93QjEjD9EWBr+UQQI9ABAJKhRANCAATrE8C4xjM3fCLRrvRc3TRV0NFaWIeb
UPY9PI8zV2BpzE/5EmWQSi6P9jlQgjvMllyvwJvP5yt0pUO4fUb+uVh+
-----END PRIVATE KEY-----
";
    /// `KEY` encrypted with the password "secret" (openssl pkey -aes256).
    const ENCRYPTED_KEY: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgig+fr0i0rywICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEEBNXMcumL0EZ8FOWxGRn1EEgZDz
2i9GryHU7zJeGz+P3KUTYJ6yKGsW8d6pfjRlIysyKPde64H+qYrqhQ0e8lzc9+uR
IXxNlvBCwT3/In2JycMzqiDt7+Rj17LnvN+yWjI/F5AoWXtsNpkNJd4jdx0Vg4+o
ufwGNthZ5Aibu9YswREUKWeTDziCAr1IpsZMlNrUq1ykAOVBAix7LflVXMxqv1E=
-----END ENCRYPTED PRIVATE KEY-----
";

    fn server(key_pem: &str, version: &'static SupportedProtocolVersion) -> ServerConnection {
        let provider = Arc::new(ring_provider());
        let chain = vec![CertificateDer::from_pem_slice(CERT.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let signer = provider.key_provider.load_private_key(key).unwrap();
        let resolver = SingleCertAndKey::from(CertifiedKey::new(chain, signer));
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        ServerConnection::new(Arc::new(config)).unwrap()
    }

    /// Runs a handshake in memory; the server connection tells what the client sent.
    fn handshake(
        client: &TlsClient,
        name: ServerName<'static>,
        mut s: ServerConnection,
    ) -> Result<ServerConnection, rustls::Error> {
        let mut c = ClientConnection::new(client.config.clone(), name)?;
        for _ in 0..10 {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).unwrap();
            s.read_tls(&mut &buf[..]).unwrap();
            s.process_new_packets()?;
            buf.clear();
            s.write_tls(&mut buf).unwrap();
            c.read_tls(&mut &buf[..]).unwrap();
            c.process_new_packets()?;
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(s);
            }
        }
        panic!("handshake did not finish");
    }

    const VERSIONS: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS12, &rustls::version::TLS13];

    #[test]
    fn a_self_signed_server_is_accepted_and_no_sni_is_sent_for_an_address() {
        let client = TlsClient::new(None).unwrap();
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        for v in VERSIONS {
            let s = handshake(&client, server_name(None, ip), server(KEY, v)).unwrap();
            assert_eq!(s.server_name(), None);
            assert_eq!(s.alpn_protocol(), None);
        }
    }

    #[test]
    fn sni_is_the_virtualhost_when_it_is_a_dns_name() {
        let client = TlsClient::new(None).unwrap();
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let name = server_name(Some("www.example.com"), ip);
        let s = handshake(&client, name, server(KEY, &rustls::version::TLS13)).unwrap();
        assert_eq!(s.server_name(), Some("www.example.com"));
        for odd in ["192.0.2.7", "not a name", ""] {
            assert_eq!(server_name(Some(odd), ip), ServerName::IpAddress(ip.into()));
        }
    }

    #[test]
    fn a_server_signing_with_the_wrong_key_is_refused() {
        let client = TlsClient::new(None).unwrap();
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        for v in VERSIONS {
            let r = handshake(&client, server_name(None, ip), server(OTHER_KEY, v));
            assert!(r.is_err(), "{v:?} accepted a bad signature");
        }
    }

    #[test]
    fn ssl_block_files_load_or_say_what_is_wrong() {
        let dir = TempDir::new();
        let cert = dir.write("cert.pem", CERT).display().to_string();
        let key = dir.write("key.pem", KEY).display().to_string();
        let enc = dir.write("enc.pem", ENCRYPTED_KEY).display().to_string();
        let ssl = |c: Option<&str>, k: Option<&str>| SslConfig {
            certificate: c.map(str::to_string),
            key: k.map(str::to_string),
            ..SslConfig::default()
        };

        let t = TlsClient::new(Some(&ssl(Some(&cert), Some(&key)))).unwrap();
        assert!(t.config.client_auth_cert_resolver.has_certs());
        let t = TlsClient::new(Some(&ssl(Some(&cert), None))).unwrap();
        assert!(!t.config.client_auth_cert_resolver.has_certs());

        let e = TlsClient::new(Some(&ssl(Some(&cert), Some(&enc)))).unwrap_err();
        assert!(e.contains("encrypted") && e.contains(&enc), "{e}");
        let e = TlsClient::new(Some(&ssl(Some(&key), Some(&key)))).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let missing = dir.path().join("missing.pem").display().to_string();
        let e = TlsClient::new(Some(&SslConfig {
            ca: Some(missing.clone()),
            ..SslConfig::default()
        }))
        .unwrap_err();
        assert!(e.contains(&missing), "{e}");
    }
}
