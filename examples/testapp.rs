//! A tiny web app for devenv's end-to-end tests (built into a container image offline):
//! `GET /` serves a page whose script opens `wss://<host>/ws?id=ID`, sends a message, and writes
//! the echo into the page; `/ws` is a WebSocket echo; `/healthz` answers ok; `/whoami` names the
//! container that answered (its hostname). Standard library only.
//!
//! The page itself is finished only once its WebSocket has echoed (or after 15 s): headless
//! Chromium's `--dump-dom` prints at the load event, and a WebSocket does not hold that event, so
//! a page that ended at once could be printed before the echo arrived — a race in the
//! observation, not in what devenv deployed.
//!
//! Usage: testapp [PORT]   (default 8000)

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The ids whose WebSocket has echoed a message.
static ECHOED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
static ECHO: Condvar = Condvar::new();

fn query_id(path: &str) -> String {
    path.split_once("id=")
        .map(|(_, v)| v.split('&').next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// Waits (up to 15 s) until the WebSocket of `id` has echoed.
fn hold(id: &str) -> &'static str {
    let mut g = ECHOED.lock().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if g.get_or_insert_with(HashSet::new).contains(id) {
            drop(g);
            // the echo frame went out first; give it time to reach the page's handler
            std::thread::sleep(Duration::from_millis(200));
            return "echoed";
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return "no websocket echo within 15 s";
        }
        g = ECHO.wait_timeout(g, left).unwrap().0;
    }
}

/// The page up to the end of its script; `{ID}` is this load's id. The rest follows once the
/// WebSocket of that id has echoed.
const PAGE_HEAD: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>devenv e2e</title></head>
<body>
<p id="status">loading</p>
<script>
  const id = "{ID}";
  const t0 = performance.now();
  const say = (s) => { document.getElementById("status").textContent = s + " after " + Math.round(performance.now() - t0) + " ms"; };
  const ws = new WebSocket(`wss://${location.host}/ws?id=${id}`);
  ws.onopen = () => { say("open"); ws.send("ping-through-wss"); };
  ws.onmessage = (e) => {
    const p = document.createElement("p");
    p.id = "marker";
    p.textContent = "WSS-ECHO-OK:" + e.data;
    document.body.appendChild(p);
    say("done");
  };
  ws.onerror = () => say("websocket error");
  ws.onclose = (e) => { if (!document.getElementById("marker")) say("websocket closed (" + e.code + ")"); };
</script>
"#;

fn main() {
    let port = std::env::args().nth(1).unwrap_or_else(|| "8000".into());
    let listener = TcpListener::bind(format!("0.0.0.0:{port}")).expect("bind");
    eprintln!("testapp listening on {port}");
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = handle(conn);
        });
    }
}

fn handle(mut s: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(s.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut key = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("sec-websocket-key")
        {
            key = Some(v.trim().to_string());
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    eprintln!("{}", request.trim());
    let route = path.split('?').next().unwrap_or("/");
    match (route, key) {
        ("/ws", Some(k)) => websocket(s, reader, &k, &query_id(&path)),
        ("/healthz", _) => respond(&mut s, "200 OK", "text/plain", "ok\n"),
        // which task answered: a container's hostname is its id
        ("/whoami", _) => {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            respond(
                &mut s,
                "200 OK",
                "text/plain",
                &format!("{}\n", host.trim()),
            )
        }
        ("/", _) => page(&mut s),
        _ => respond(&mut s, "404 Not Found", "text/plain", "not found\n"),
    }
}

/// `/`: the page is sent up to its script, and finished only once its WebSocket has echoed (or
/// after 15 s), so a browser's load event — when `--dump-dom` prints — comes after the echo.
/// `X-Accel-Buffering: no` makes nginx pass the first part on at once.
fn page(s: &mut TcpStream) -> std::io::Result<()> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nX-Accel-Buffering: no\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{}",
        PAGE_HEAD.replace("{ID}", &id)
    )?;
    s.flush()?;
    let held = hold(&id);
    write!(s, "<p id=\"hold\">hold: {held}</p>\n</body></html>\n")
}

fn respond(s: &mut TcpStream, status: &str, ctype: &str, body: &str) -> std::io::Result<()> {
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn websocket(
    mut s: TcpStream,
    mut r: BufReader<TcpStream>,
    key: &str,
    id: &str,
) -> std::io::Result<()> {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
    );
    let accept = devenv::probe::base64(digest.as_ref());
    write!(
        s,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )?;
    loop {
        let mut h = [0u8; 2];
        r.read_exact(&mut h)?;
        let opcode = h[0] & 0x0f;
        let masked = h[1] & 0x80 != 0;
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            len = u64::from_be_bytes(b);
        }
        let mut mask = [0u8; 4];
        if masked {
            r.read_exact(&mut mask)?;
        }
        let mut payload = vec![0u8; len as usize];
        r.read_exact(&mut payload)?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        match opcode {
            0x8 => {
                s.write_all(&[0x88, 0])?;
                return Ok(());
            }
            0x9 => frame(&mut s, 0xA, &payload)?,
            0x1 | 0x2 => {
                frame(&mut s, opcode, &payload)?;
                ECHOED
                    .lock()
                    .unwrap()
                    .get_or_insert_with(HashSet::new)
                    .insert(id.to_string());
                ECHO.notify_all();
            }
            _ => {}
        }
    }
}

fn frame(s: &mut TcpStream, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n if n < 65536 => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    s.write_all(&f)
}
