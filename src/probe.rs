//! Readiness probes: HTTPS and WSS requests through the proxy, to the profile's names as this
//! machine resolves them (so the hosts entries are part of what is checked), verified with the
//! profile's CA — what a browser will do, without a browser.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
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

/// How the probes find a name's addresses: the names a managed hosts file maps that this
/// machine's resolver does not read (`--hosts-file` on a copy), `*.localhost` on loopback as
/// browsers and curl resolve it (RFC 6761), and every other name as this machine resolves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// Name (lower case) → the addresses the managed file maps it to.
    pub mapped: std::collections::BTreeMap<String, Vec<IpAddr>>,
    /// The file they come from (for messages).
    pub source: Option<std::path::PathBuf>,
}

/// Whether browsers resolve `name` to loopback themselves (`localhost` and its subdomains).
pub fn is_localhost(name: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n == "localhost" || n.ends_with(".localhost")
}

impl Lookup {
    /// The addresses to try for `host:port`, in order; `system` resolves a name as this machine
    /// does.
    pub fn addrs(
        &self,
        host: &str,
        port: u16,
        system: &dyn Fn(&str) -> Result<Vec<IpAddr>, String>,
    ) -> Result<Vec<SocketAddr>, String> {
        let ips: Vec<IpAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
            vec![ip]
        } else if let Some(v) = self.mapped.get(&host.to_ascii_lowercase()) {
            v.clone()
        } else if is_localhost(host) {
            vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ]
        } else {
            system(host).map_err(|e| format!("{host} does not resolve: {e}"))?
        };
        if ips.is_empty() {
            return Err(format!("{host} does not resolve"));
        }
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }

    /// How this machine resolves a name (`to_socket_addrs`).
    pub fn system(host: &str) -> Result<Vec<IpAddr>, String> {
        let mut v: Vec<IpAddr> = Vec::new();
        for a in (host, 0).to_socket_addrs().map_err(|e| e.to_string())? {
            if !v.contains(&a.ip()) {
                v.push(a.ip());
            }
        }
        Ok(v)
    }
}

/// An I/O failure in words a user reads (never a bare `os error N`).
pub fn in_words(e: &std::io::Error, timeout: Duration) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "refused (nothing listens there)".into(),
        K::TimedOut | K::WouldBlock => format!("no answer within {} s", timeout.as_secs()),
        K::ConnectionReset => "the connection was reset by the other side".into(),
        K::ConnectionAborted => "the connection was aborted".into(),
        K::UnexpectedEof => "the connection was closed before an answer".into(),
        K::BrokenPipe => "the connection was closed while sending the request".into(),
        K::AddrNotAvailable => "the address is not available on this machine".into(),
        K::NetworkUnreachable | K::HostUnreachable => "unreachable from this machine".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// The outcome of one attempt: the HTTP status line's code.
pub fn probe_once(
    t: &Target,
    ca_pem: Option<&str>,
    timeout: Duration,
    lookup: &Lookup,
) -> Result<u16, String> {
    let addrs = lookup.addrs(&t.host, t.port, &Lookup::system)?;
    // every address the name has, in order, as a browser falls back from one to the next
    let mut why = Vec::new();
    for a in &addrs {
        match probe_addr(t, *a, ca_pem, timeout) {
            Ok(code) => return Ok(code),
            Err(e) if addrs.len() == 1 => return Err(e),
            Err(e) => why.push(format!("{a}: {e}")),
        }
    }
    Err(why.join("; "))
}

fn probe_addr(
    t: &Target,
    addr: SocketAddr,
    ca_pem: Option<&str>,
    timeout: Duration,
) -> Result<u16, String> {
    let tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("connect {addr}: {}", in_words(&e, timeout)))?;
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
        s.write_all(req.as_bytes())
            .map_err(|e| tls_error(e, timeout))?;
        read_head(&mut s).map_err(|e| tls_error(e, timeout))?
    } else {
        let mut s = tcp;
        s.write_all(req.as_bytes())
            .map_err(|e| in_words(&e, timeout))?;
        read_head(&mut s).map_err(|e| in_words(&e, timeout))?
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

fn tls_error(e: std::io::Error, timeout: Duration) -> String {
    let s = e.to_string();
    if s.contains("UnknownIssuer") {
        "TLS error: the certificate is not issued by the profile's CA (UnknownIssuer)".into()
    } else if s.contains("NotValidForName") {
        "TLS error: the certificate is not valid for this name".into()
    } else if e
        .get_ref()
        .is_some_and(|i| i.downcast_ref::<rustls::Error>().is_some())
    {
        format!("TLS error: {s}")
    } else {
        in_words(&e, timeout)
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

/// What a port serves and, for HTTP(S), the status its `/` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub served: Served,
    pub status: Option<u16>,
}

impl From<Served> for Answer {
    fn from(served: Served) -> Answer {
        Answer {
            served,
            status: None,
        }
    }
}

/// The status code of an HTTP response head (`HTTP/1.1 502 Bad Gateway` → 502).
fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.starts_with("HTTP/")
        .then(|| line.split_whitespace().nth(1)?.parse().ok())
        .flatten()
}

/// Reads up to the end of an HTTP status line (or 64 bytes, or the timeout).
fn read_status_line<R: Read>(r: &mut R) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64];
    while buf.len() < 64 && !buf.contains(&b'\n') {
        match r.read(&mut chunk[..64 - buf.len()]) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

/// What `addr` serves (`name` for SNI and the Host header).
pub fn serves(name: &str, addr: std::net::SocketAddr, timeout: Duration) -> Answer {
    let connect = || {
        let s = TcpStream::connect_timeout(&addr, timeout).ok()?;
        s.set_read_timeout(Some(timeout)).ok();
        s.set_write_timeout(Some(timeout)).ok();
        Some(s)
    };
    let Some(mut tcp) = connect() else {
        return Served::Closed.into();
    };
    let req = format!("HEAD / HTTP/1.0\r\nHost: {name}\r\nUser-Agent: devenv-probe\r\n\r\n");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Some(status) when the port speaks TLS
    let tls = (|| -> Option<Option<u16>> {
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
                    return tls_alert.then_some(None);
                }
            }
        }
        let mut s = rustls::Stream::new(&mut conn, &mut tcp);
        if s.write_all(req.as_bytes()).is_err() {
            return Some(None);
        }
        Some(status_of(&read_status_line(&mut s)))
    })();
    if let Some(status) = tls {
        return Answer {
            served: Served::Https,
            status,
        };
    }
    let Some(mut tcp) = connect() else {
        return Served::Closed.into();
    };
    if tcp.write_all(req.as_bytes()).is_err() {
        return Served::Tcp.into();
    }
    let head = read_status_line(&mut tcp);
    if head.starts_with(b"HTTP/") {
        Answer {
            served: Served::Http,
            status: status_of(&head),
        }
    } else {
        Served::Tcp.into()
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
    lookup: &Lookup,
) -> Result<(u16, Duration), String> {
    let t = parse_url(url)?;
    let start = Instant::now();
    loop {
        let last = match probe_once(&t, ca_pem, Duration::from_secs(3), lookup) {
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
            return Err(format!(
                "{last} (still so after {} s)",
                start.elapsed().as_secs()
            ));
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
    fn status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 502 Bad Gateway\r\n"), Some(502));
        assert_eq!(status_of(b"HTTP/1.0 200 OK"), Some(200));
        assert_eq!(status_of(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(status_of(b""), None);
    }

    #[test]
    fn lookup_maps_names_localhost_and_the_rest() {
        let mut l = Lookup::default();
        l.mapped
            .insert("blog.test".into(), vec![IpAddr::from([127, 0, 0, 2])]);
        let never = |_: &str| -> Result<Vec<IpAddr>, String> { Err("not known".into()) };
        assert_eq!(
            l.addrs("Blog.Test", 443, &never).unwrap(),
            [SocketAddr::from(([127, 0, 0, 2], 443))]
        );
        let lh = l.addrs("myblog.localhost", 80, &never).unwrap();
        assert_eq!(lh.len(), 2);
        assert!(lh.iter().all(|a| a.ip().is_loopback()));
        assert!(is_localhost("localhost.") && !is_localhost("localhost.test"));
        let e = l.addrs("other.test", 80, &never).unwrap_err();
        assert_eq!(e, "other.test does not resolve: not known");
        assert_eq!(l.addrs("10.0.0.1", 80, &never).unwrap()[0].port(), 80);
    }

    #[test]
    fn io_errors_in_words() {
        use std::io::{Error, ErrorKind};
        let t = Duration::from_secs(3);
        assert_eq!(
            in_words(&Error::from(ErrorKind::WouldBlock), t),
            "no answer within 3 s"
        );
        assert_eq!(
            in_words(&Error::from(ErrorKind::ConnectionRefused), t),
            "refused (nothing listens there)"
        );
        assert!(!in_words(&Error::from_raw_os_error(11), t).contains("os error"));
        assert!(!in_words(&Error::from_raw_os_error(1), t).contains("os error"));
    }

    #[test]
    fn a_probe_tries_every_address_and_says_what_each_did() {
        // 127.0.0.2 refuses (the server listens on 127.0.0.1 only), then 127.0.0.1 answers 204
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut c, _) = server.accept().unwrap();
            let _ = read_status_line(&mut c);
            c.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        });
        let (other, this) = (IpAddr::from([127, 0, 0, 2]), IpAddr::from([127, 0, 0, 1]));
        let mut l = Lookup::default();
        l.mapped.insert("one.test".into(), vec![other]);
        l.mapped.insert("two.test".into(), vec![other, this]);
        let t = Duration::from_secs(3);
        let url = |host: &str| parse_url(&format!("http://{host}:{port}/")).unwrap();
        let e = probe_once(&url("one.test"), None, t, &l).unwrap_err();
        assert_eq!(
            e,
            format!("connect 127.0.0.2:{port}: refused (nothing listens there)")
        );
        assert_eq!(probe_once(&url("two.test"), None, t, &l), Ok(204));
        h.join().unwrap();
    }

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
