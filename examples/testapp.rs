//! A tiny web app for devenv's end-to-end tests (built into a container image offline):
//! `GET /` serves a page whose script opens `wss://<host>/ws`, sends a message, and writes the
//! echo into the page; `/ws` is a WebSocket echo; `/healthz` answers ok. Standard library only.
//!
//! Usage: testapp [PORT]   (default 8000)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>devenv e2e</title></head>
<body>
<p id="status">loading</p>
<script>
  const ws = new WebSocket(`wss://${location.host}/ws`);
  ws.onopen = () => ws.send("ping-through-wss");
  ws.onmessage = (e) => {
    const p = document.createElement("p");
    p.id = "marker";
    p.textContent = "WSS-ECHO-OK:" + e.data;
    document.body.appendChild(p);
    document.getElementById("status").textContent = "done";
  };
  ws.onerror = () => { document.getElementById("status").textContent = "websocket error"; };
</script>
</body></html>
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
    match (path.as_str(), key) {
        ("/ws", Some(k)) => websocket(s, reader, &k),
        ("/healthz", _) => respond(&mut s, "200 OK", "text/plain", "ok\n"),
        ("/", _) => respond(&mut s, "200 OK", "text/html; charset=utf-8", PAGE),
        _ => respond(&mut s, "404 Not Found", "text/plain", "not found\n"),
    }
}

fn respond(s: &mut TcpStream, status: &str, ctype: &str, body: &str) -> std::io::Result<()> {
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn websocket(mut s: TcpStream, mut r: BufReader<TcpStream>, key: &str) -> std::io::Result<()> {
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
            0x1 | 0x2 => frame(&mut s, opcode, &payload)?,
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
