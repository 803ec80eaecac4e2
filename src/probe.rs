//! Readiness probes: HTTPS and WSS requests through the proxy, to the profile's names as this
//! machine resolves them (so the hosts entries are part of what is checked), verified with the
//! profile's CA — what a browser will do, without a browser.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};

/// A parsed probe URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub websocket: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Target, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL"))?;
    let (tls, websocket, default_port) = match scheme {
        "https" => (true, false, 443),
        "http" => (false, false, 80),
        "wss" => (true, true, 443),
        "ws" => (false, true, 80),
        s => {
            return Err(format!(
                "`{url}`: unsupported scheme `{s}` (use http, https, ws or wss)"
            ));
        }
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.trim_matches(['[', ']']).to_string(),
            p.parse().map_err(|_| format!("`{url}`: bad port `{p}`"))?,
        ),
        _ => (authority.trim_matches(['[', ']']).to_string(), default_port),
    };
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    Ok(Target {
        tls,
        websocket,
        host,
        port,
        path,
    })
}

/// The outcome of one attempt: the HTTP status line's code.
pub fn probe_once(t: &Target, ca_pem: Option<&str>, timeout: Duration) -> Result<u16, String> {
    let addr = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| format!("{} does not resolve: {e}", t.host))?
        .next()
        .ok_or_else(|| format!("{} does not resolve", t.host))?;
    let tcp =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_read_timeout(Some(timeout)).ok();
    tcp.set_write_timeout(Some(timeout)).ok();
    let key = crate::hash::random_bytes(16);
    let key_b64 = base64(&key);
    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: devenv-probe\r\n",
        t.path, t.host
    );
    if t.websocket {
        req.push_str(&format!(
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key_b64}\r\nOrigin: https://{}\r\n\r\n",
            t.host
        ));
    } else {
        req.push_str("Connection: close\r\n\r\n");
    }
    let head = if t.tls {
        let config = client_config(ca_pem)?;
        let name = ServerName::try_from(t.host.clone()).map_err(|e| format!("{}: {e}", t.host))?;
        let conn =
            rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        s.write_all(req.as_bytes()).map_err(tls_error)?;
        read_head(&mut s).map_err(tls_error)?
    } else {
        let mut s = tcp;
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        read_head(&mut s).map_err(|e| e.to_string())?
    };
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "not an HTTP response: {}",
                head.lines().next().unwrap_or("")
            )
        })?;
    if t.websocket && code == 101 {
        let want = base64(
            ring::digest::digest(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                format!("{key_b64}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
            )
            .as_ref(),
        );
        let got = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("sec-websocket-accept")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        if got != want {
            return Err("the WebSocket upgrade answered with a wrong Sec-WebSocket-Accept".into());
        }
    }
    Ok(code)
}

fn tls_error(e: std::io::Error) -> String {
    let s = e.to_string();
    if s.contains("UnknownIssuer") {
        "certificate not issued by the profile's CA (UnknownIssuer)".into()
    } else if s.contains("NotValidForName") {
        "certificate not valid for this name".into()
    } else {
        s
    }
}

fn client_config(ca_pem: Option<&str>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        let (_, p) =
            x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| format!("CA: {e}"))?;
        roots
            .add(CertificateDer::from(p.contents))
            .map_err(|e| format!("CA: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn read_head<R: Read>(s: &mut R) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        let n = s.read(&mut b)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&b[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// What a published port serves, found by talking to it: a TLS handshake, else an HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Served {
    Https,
    Http,
    /// It accepts connections but speaks neither (a database, a cache).
    Tcp,
    /// Nothing accepts connections there.
    Closed,
    /// The name does not resolve on this machine (nothing was asked).
    Unresolved,
}

impl Served {
    pub fn scheme(self) -> &'static str {
        match self {
            Served::Https => "https",
            Served::Http => "http",
            Served::Tcp => "tcp",
            Served::Closed => "closed",
            Served::Unresolved => "unresolved",
        }
    }
}

/// A verifier that accepts any certificate: only to learn whether a port speaks TLS at all,
/// never to trust what it says.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What `addr` serves (`name` for SNI and the Host header).
pub fn serves(name: &str, addr: std::net::SocketAddr, timeout: Duration) -> Served {
    let connect = || {
        let s = TcpStream::connect_timeout(&addr, timeout).ok()?;
        s.set_read_timeout(Some(timeout)).ok();
        s.set_write_timeout(Some(timeout)).ok();
        Some(s)
    };
    let Some(mut tcp) = connect() else {
        return Served::Closed;
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = (|| -> Option<bool> {
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider.clone())))
            .with_no_client_auth();
        let sni = ServerName::try_from(name.to_string())
            .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a name"));
        let mut conn = rustls::ClientConnection::new(Arc::new(config), sni).ok()?;
        while conn.is_handshaking() {
            match conn.complete_io(&mut tcp) {
                Ok(_) => {}
                Err(e) => {
                    // an alert is TLS speaking; garbage or a closed connection is not
                    let tls_alert = e
                        .get_ref()
                        .and_then(|i| i.downcast_ref::<rustls::Error>())
                        .is_some_and(|r| matches!(r, rustls::Error::AlertReceived(_)));
                    return Some(tls_alert);
                }
            }
        }
        Some(true)
    })()
    .unwrap_or(false);
    if tls {
        return Served::Https;
    }
    let Some(mut tcp) = connect() else {
        return Served::Closed;
    };
    let req = format!("HEAD / HTTP/1.0\r\nHost: {name}\r\nUser-Agent: devenv-probe\r\n\r\n");
    if tcp.write_all(req.as_bytes()).is_err() {
        return Served::Tcp;
    }
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < 5 {
        match tcp.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if buf[..got].starts_with(b"HTTP/") {
        Served::Http
    } else {
        Served::Tcp
    }
}

/// Whether `code` is what the probe expects.
pub fn accepted(t: &Target, expect: Option<u16>, code: u16) -> bool {
    match expect {
        Some(e) => code == e,
        None if t.websocket => code == 101,
        None => (200..400).contains(&code),
    }
}

/// Retries a probe until it answers as expected or `patience` runs out.
pub fn wait(
    url: &str,
    expect: Option<u16>,
    ca_pem: Option<&str>,
    patience: Duration,
) -> Result<(u16, Duration), String> {
    let t = parse_url(url)?;
    let start = Instant::now();
    loop {
        let last = match probe_once(&t, ca_pem, Duration::from_secs(3)) {
            Ok(code) if accepted(&t, expect, code) => return Ok((code, start.elapsed())),
            Ok(code) => format!("answered {code}"),
            Err(e) => e,
        };
        // a name that does not resolve will not start resolving by itself: a moment for a
        // resolver cache that lags behind a hosts edit, then the reason
        if last.contains(" does not resolve") && start.elapsed() >= Duration::from_secs(2) {
            return Err(last);
        }
        if start.elapsed() >= patience {
            return Err(last);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("https://myblog.test/healthz").unwrap(),
            Target {
                tls: true,
                websocket: false,
                host: "myblog.test".into(),
                port: 443,
                path: "/healthz".into()
            }
        );
        let t = parse_url("wss://myblog.test:8443").unwrap();
        assert!(t.websocket && t.tls && t.port == 8443 && t.path == "/");
        assert_eq!(parse_url("http://[::1]:8080/x").unwrap().host, "::1");
        assert!(parse_url("ftp://x/").is_err());
    }

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
