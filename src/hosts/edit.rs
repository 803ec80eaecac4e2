//! A change to a file expressed against its current bytes: keep a head, insert, keep a tail.
//! Writing an edit streams the pieces straight from the original buffer, so a 100,000-line hosts
//! file is never copied in memory to change a few lines at its end.

/// New content = `src[..keep_head]` + `insert` + `src[tail_from..]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub keep_head: usize,
    pub insert: Vec<u8>,
    pub tail_from: usize,
}

impl Edit {
    /// Replace everything with `content`.
    pub fn replace_all(src: &[u8], content: Vec<u8>) -> Edit {
        Edit {
            keep_head: 0,
            insert: content,
            tail_from: src.len(),
        }
    }

    /// No change at all.
    pub fn none(src: &[u8]) -> Edit {
        Edit {
            keep_head: src.len(),
            insert: Vec::new(),
            tail_from: src.len(),
        }
    }

    pub fn pieces<'a>(&'a self, src: &'a [u8]) -> [&'a [u8]; 3] {
        [&src[..self.keep_head], &self.insert, &src[self.tail_from..]]
    }

    pub fn len(&self, src: &[u8]) -> usize {
        self.keep_head + self.insert.len() + (src.len() - self.tail_from)
    }

    pub fn is_empty(&self, src: &[u8]) -> bool {
        self.len(src) == 0
    }

    /// Whether the edit leaves `src` exactly as it is.
    pub fn is_noop(&self, src: &[u8]) -> bool {
        self.tail_from == self.keep_head + self.insert.len()
            && src.get(self.keep_head..self.tail_from) == Some(self.insert.as_slice())
    }

    pub fn materialize(&self, src: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len(src));
        for p in self.pieces(src) {
            v.extend_from_slice(p);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_and_noop() {
        let src = b"hello world";
        let e = Edit {
            keep_head: 6,
            insert: b"there ".to_vec(),
            tail_from: 6,
        };
        assert_eq!(e.materialize(src), b"hello there world");
        assert!(!e.is_noop(src));
        assert!(Edit::none(src).is_noop(src));
        assert!(Edit::replace_all(src, src.to_vec()).is_noop(src));
        let same_bytes_reinserted = Edit {
            keep_head: 2,
            insert: b"ll".to_vec(),
            tail_from: 4,
        };
        assert!(same_bytes_reinserted.is_noop(src));
        assert_eq!(Edit::replace_all(src, vec![]).len(src), 0);
    }
}
