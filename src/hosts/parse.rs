//! A lossless hosts-file parser (nom 8): every line keeps its exact bytes and its own line
//! ending, so printing the parse gives back the input for *any* byte string — invalid UTF-8, NUL
//! bytes, lone CR, a missing final newline, a BOM, tabs, zone ids, inline comments.

use std::net::IpAddr;

use nom::bytes::complete::{tag, take_till, take_while, take_while1};
use nom::combinator::opt;
use nom::{IResult, Parser};

pub const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The last line of a file without a final newline.
    None,
    Lf,
    CrLf,
}

impl Ending {
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Ending::None => b"",
            Ending::Lf => b"\n",
            Ending::CrLf => b"\r\n",
        }
    }
}

/// One line: `content` is `src[start..start + len]`, followed by `ending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub start: usize,
    pub len: usize,
    pub ending: Ending,
}

/// A parsed hosts file borrowing its source.
#[derive(Debug, Clone)]
pub struct Hosts<'a> {
    pub src: &'a [u8],
    pub lines: Vec<Line>,
}

/// Why a file cannot be handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "the file is UTF-16 encoded; hosts files are read as ASCII/UTF-8 by every resolver, so devenv will not edit it as it is. \
         `devenv hosts apply --convert` rewrites it as UTF-8 (nothing lost, a backup kept), or save it as UTF-8 in an editor"
    )]
    Utf16,
}

fn one_line(input: &[u8]) -> IResult<&[u8], (&[u8], bool)> {
    let (rest, content) = take_till(|c| c == b'\n')(input)?;
    let (rest, nl) = opt(tag(&b"\n"[..])).parse(rest)?;
    Ok((rest, (content, nl.is_some())))
}

/// Whether the bytes look like UTF-16 (a UTF-16 BOM, or NULs in alternate positions of ASCII text).
pub fn is_utf16(src: &[u8]) -> bool {
    if src.starts_with(b"\xFF\xFE") || src.starts_with(b"\xFE\xFF") {
        return true;
    }
    let head = &src[..src.len().min(512)];
    if head.len() < 8 {
        return false;
    }
    let zeros_even = head.iter().step_by(2).filter(|&&b| b == 0).count();
    let zeros_odd = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    let half = head.len() / 2;
    zeros_even * 10 >= half * 9 || zeros_odd * 10 >= half * 9
}

/// A UTF-16 file (either byte order, with or without a BOM) as UTF-8, character for character
/// (line ends as they were; a UTF-16 BOM becomes UTF-8's). `Err` names what cannot be converted
/// without loss: an odd number of bytes, a lone surrogate.
pub fn utf16_to_utf8(src: &[u8]) -> Result<Vec<u8>, String> {
    let (big_endian, bom, body) = if let Some(b) = src.strip_prefix(b"\xFF\xFE") {
        (false, true, b)
    } else if let Some(b) = src.strip_prefix(b"\xFE\xFF") {
        (true, true, b)
    } else {
        // no BOM: the NULs of ASCII text sit after each character (little-endian) or before it
        let head = &src[..src.len().min(512)];
        let zeros_even = head.iter().step_by(2).filter(|&&b| b == 0).count();
        let zeros_odd = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
        (zeros_even > zeros_odd, false, src)
    };
    if body.len() % 2 != 0 {
        return Err(format!(
            "{} bytes of UTF-16 is not a whole number of characters",
            body.len()
        ));
    }
    let units = body.chunks_exact(2).map(|c| {
        if big_endian {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    });
    let mut out = if bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    let mut buf = [0u8; 4];
    for (i, c) in char::decode_utf16(units).enumerate() {
        let c = c.map_err(|e| {
            format!(
                "a lone UTF-16 surrogate {:#06x} at character {}: it has no UTF-8 form",
                e.unpaired_surrogate(),
                i + 1
            )
        })?;
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    Ok(out)
}

pub fn parse(src: &[u8]) -> Result<Hosts<'_>, ParseError> {
    if is_utf16(src) {
        return Err(ParseError::Utf16);
    }
    Ok(parse_lossless(src))
}

/// Splits into lines without any check (every input is accepted).
pub fn parse_lossless(src: &[u8]) -> Hosts<'_> {
    let mut lines = Vec::with_capacity(src.len() / 24 + 1);
    let mut rest = src;
    while !rest.is_empty() {
        let start = src.len() - rest.len();
        let (next, (content, nl)) = one_line(rest).expect("take_till and opt cannot fail");
        let (len, ending) = match (nl, content.last()) {
            (true, Some(b'\r')) => (content.len() - 1, Ending::CrLf),
            (true, _) => (content.len(), Ending::Lf),
            (false, _) => (content.len(), Ending::None),
        };
        lines.push(Line { start, len, ending });
        rest = next;
    }
    Hosts { src, lines }
}

impl<'a> Hosts<'a> {
    pub fn content(&self, i: usize) -> &'a [u8] {
        let l = self.lines[i];
        let c = &self.src[l.start..l.start + l.len];
        if i == 0 {
            c.strip_prefix(BOM).unwrap_or(c)
        } else {
            c
        }
    }

    /// The line's bytes including its ending, exactly as in the file.
    pub fn raw(&self, i: usize) -> &'a [u8] {
        let l = self.lines[i];
        &self.src[l.start..l.start + l.len + l.ending.bytes().len()]
    }

    /// The file again, byte for byte.
    pub fn print(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.src.len());
        for i in 0..self.lines.len() {
            out.extend_from_slice(self.raw(i));
        }
        out
    }

    /// The most common line ending (CRLF files stay CRLF); `default` when there is none.
    pub fn dominant_ending(&self, default: Ending) -> Ending {
        let crlf = self
            .lines
            .iter()
            .filter(|l| l.ending == Ending::CrLf)
            .count();
        let lf = self.lines.iter().filter(|l| l.ending == Ending::Lf).count();
        match (crlf, lf) {
            (0, 0) => default,
            (c, l) if c > l => Ending::CrLf,
            _ => Ending::Lf,
        }
    }

    /// Whether line `i` is a comment line whose text (after `#`, trimmed) equals `text`.
    pub fn is_marker(&self, i: usize, text: &str) -> bool {
        trim(self.content(i)) == text.as_bytes()
    }

    /// The address and names of line `i`, if it is an entry.
    pub fn entry(&self, i: usize) -> Option<Entry<'a>> {
        entry(self.content(i))
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| !is_space(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| !is_space(c))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// The lines of `src` one by one, without collecting them (for scans of large files).
pub fn lines(src: &[u8]) -> impl Iterator<Item = Line> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= src.len() {
            return None;
        }
        let start = pos;
        let l = match memchr::memchr(b'\n', &src[start..]) {
            Some(i) if i > 0 && src[start + i - 1] == b'\r' => Line {
                start,
                len: i - 1,
                ending: Ending::CrLf,
            },
            Some(i) => Line {
                start,
                len: i,
                ending: Ending::Lf,
            },
            None => Line {
                start,
                len: src.len() - start,
                ending: Ending::None,
            },
        };
        pos = l.end();
        Some(l)
    })
}

impl Line {
    /// Offset just past the line's ending.
    pub fn end(&self) -> usize {
        self.start + self.len + self.ending.bytes().len()
    }

    /// The content, without a BOM on the first line.
    pub fn content<'a>(&self, src: &'a [u8]) -> &'a [u8] {
        let c = &src[self.start..self.start + self.len];
        if self.start == 0 {
            c.strip_prefix(BOM).unwrap_or(c)
        } else {
            c
        }
    }
}

/// The line that contains byte `pos`.
pub fn line_at(src: &[u8], pos: usize) -> Line {
    let start = memchr::memrchr(b'\n', &src[..pos]).map_or(0, |i| i + 1);
    let mut it = lines(&src[start..]);
    let l = it.next().expect("pos is inside src");
    Line {
        start: start + l.start,
        ..l
    }
}

/// 1-based line number of byte `pos`.
pub fn line_number(src: &[u8], pos: usize) -> usize {
    memchr::memchr_iter(b'\n', &src[..pos]).count() + 1
}

/// The most common line ending of `src`, counted without splitting it into lines.
pub fn dominant_ending_of(src: &[u8], default: Ending) -> Ending {
    let lf_total = memchr::memchr_iter(b'\n', src).count();
    let crlf = memchr::memmem::find_iter(src, b"\r\n").count();
    match (crlf, lf_total - crlf) {
        (0, 0) => default,
        (c, l) if c > l => Ending::CrLf,
        _ => Ending::Lf,
    }
}

/// The line's content trimmed of blanks equals `text` (marker lines).
pub fn is_marker_line(src: &[u8], l: &Line, text: &str) -> bool {
    trim(l.content(src)) == text.as_bytes()
}

/// The first token and the following names of a line, without allocating and without checking
/// that the first token is an address (callers check with [`parse_ip`] only when a name matters).
pub fn entry_tokens(content: &[u8]) -> Option<(&[u8], impl Iterator<Item = &[u8]>)> {
    let content = match memchr::memchr(b'#', content) {
        Some(i) => &content[..i],
        None => content,
    };
    let mut toks = content
        .split(|&c| is_space(c) || c == b',')
        .filter(|t| !t.is_empty());
    let first = toks.next()?;
    Some((first, toks))
}

/// An address line: `ADDRESS NAME...  # comment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub address: &'a [u8],
    pub ip: IpAddr,
    pub names: Vec<&'a [u8]>,
}

fn token(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|c: u8| !is_space(c) && c != b'#' && c != b',')(input)
}

fn separators(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|c: u8| is_space(c) || c == b',')(input)
}

/// Parses the content of one line as an entry (None for comments, blanks and anything else).
pub fn entry(content: &[u8]) -> Option<Entry<'_>> {
    let (rest, _) = take_while::<_, _, nom::error::Error<&[u8]>>(is_space)(content).ok()?;
    let (mut rest, address) = token(rest).ok()?;
    let ip = parse_ip(address)?;
    let mut names = Vec::new();
    loop {
        let (r, _) = separators(rest).ok()?;
        if r.is_empty() || r[0] == b'#' {
            break;
        }
        let (r, name) = token(r).ok()?;
        names.push(name);
        rest = r;
    }
    Some(Entry { address, ip, names })
}

/// An IPv4 or IPv6 address, IPv6 with an optional zone id (`fe80::1%lo0`).
pub fn parse_ip(tok: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(tok).ok()?;
    let s = s.split('%').next()?;
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_awkward_files() {
        for src in [
            &b""[..],
            b"\n",
            b"\r\n",
            b"no newline",
            b"a\r\nb\nc",
            b"lone\rcr\n",
            b"\xEF\xBB\xBF127.0.0.1 localhost\r\n",
            b"nul\0byte\n\xff\xfe? not utf16 here\n",
            b"\r",
            b"\n\n\n",
        ] {
            assert_eq!(parse_lossless(src).print(), src, "{src:?}");
        }
    }

    #[test]
    fn entries() {
        let e = entry(b"  127.0.0.1\tlocalhost  foo.test # comment").unwrap();
        assert_eq!(e.address, b"127.0.0.1");
        assert_eq!(e.names, vec![&b"localhost"[..], b"foo.test"]);
        let e = entry(b"fe80::1%lo0\tlocalhost").unwrap();
        assert_eq!(e.ip, "fe80::1".parse::<IpAddr>().unwrap());
        let e = entry(b"127.0.0.1 a,b").unwrap();
        assert_eq!(e.names, vec![&b"a"[..], b"b"]);
        assert!(entry(b"# 127.0.0.1 x").is_none());
        assert!(entry(b"").is_none());
        assert!(entry(b"hello world").is_none());
        assert_eq!(entry(b"127.0.0.1#x").unwrap().names.len(), 0);
    }

    #[test]
    fn endings_and_bom() {
        let h = parse(b"\xEF\xBB\xBF# x\r\n1.2.3.4 a\r\nlast").unwrap();
        assert_eq!(h.lines.len(), 3);
        assert_eq!(h.content(0), b"# x");
        assert_eq!(h.lines[0].ending, Ending::CrLf);
        assert_eq!(h.lines[2].ending, Ending::None);
        assert_eq!(h.dominant_ending(Ending::Lf), Ending::CrLf);
    }

    #[test]
    fn utf16_converts_to_utf8_losslessly_in_either_byte_order() {
        let text = "# café\r\n127.0.0.1 localhost\r\n::1 localhost 😀\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(utf16_to_utf8(&le).unwrap(), text.as_bytes());
        assert_eq!(utf16_to_utf8(&be).unwrap(), text.as_bytes());
        let mut le_bom = b"\xFF\xFE".to_vec();
        le_bom.extend(&le);
        let mut want = b"\xEF\xBB\xBF".to_vec();
        want.extend(text.as_bytes());
        assert_eq!(utf16_to_utf8(&le_bom).unwrap(), want);
        let mut be_bom = b"\xFE\xFF".to_vec();
        be_bom.extend(&be);
        assert_eq!(utf16_to_utf8(&be_bom).unwrap(), want);
        // the result parses; what cannot convert is named
        assert!(parse(&utf16_to_utf8(&le).unwrap()).is_ok());
        assert!(
            utf16_to_utf8(b"\xFF\xFEa")
                .unwrap_err()
                .contains("whole number")
        );
        let lone: Vec<u8> = [0x41u16, 0xD800, 0x41]
            .iter()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let mut lone_bom = b"\xFF\xFE".to_vec();
        lone_bom.extend(lone);
        assert!(
            utf16_to_utf8(&lone_bom)
                .unwrap_err()
                .contains("0xd800 at character 2")
        );
    }

    #[test]
    fn utf16_is_refused() {
        let utf16: Vec<u8> = "127.0.0.1 localhost\r\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(parse(&utf16).unwrap_err(), ParseError::Utf16);
        let mut with_bom = b"\xFF\xFE".to_vec();
        with_bom.extend(&utf16);
        assert!(parse(&with_bom).is_err());
        assert!(parse(b"127.0.0.1 localhost\n").is_ok());
    }
}
