//! A minimal BSON document writer for the hot path.
//!
//! Building documents through `bson::Document` or serde costs several allocations and a tree walk per
//! document; writing the bytes straight into one pre-sized buffer is several times cheaper, and the
//! database shares our CPU, so every cycle saved here is a cycle it can spend inserting.

use bson::RawDocumentBuf;

/// Appends typed elements to a BSON document in place.
///
/// Keys are `&'static str` constants of ours and never contain NUL; string values must not either
/// (checked in debug builds).
pub struct DocWriter {
    buf: Vec<u8>,
}

impl DocWriter {
    /// A writer whose buffer will not need to grow for documents up to `capacity` bytes.
    #[inline(always)]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::reusing(Vec::new(), capacity)
    }

    /// A writer into `buf`, emptied: the buffer of a document already sent, so writing the next
    /// one costs no allocation (and no `free` of the old one).
    #[inline(always)]
    pub fn reusing(mut buf: Vec<u8>, capacity: usize) -> Self {
        buf.clear();
        buf.reserve(capacity);
        buf.extend_from_slice(&[0, 0, 0, 0]);
        Self { buf }
    }

    #[inline(always)]
    fn key(&mut self, tag: u8, key: &'static str) {
        debug_assert!(!key.as_bytes().contains(&0));
        self.buf.push(tag);
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.push(0);
    }

    /// An ObjectId element (BSON type 0x07).
    #[inline(always)]
    pub fn object_id(&mut self, key: &'static str, bytes: [u8; 12]) {
        self.key(0x07, key);
        self.buf.extend_from_slice(&bytes);
    }

    /// A UTF-8 string element (BSON type 0x02).
    #[inline(always)]
    pub fn string(&mut self, key: &'static str, value: &str) {
        self.text(key, value.as_bytes());
    }

    /// A string element from ASCII bytes the generator formatted itself (digits, hex, `+`, `-`):
    /// no `&str` needs to be checked into being for each document (checked in debug builds).
    #[inline(always)]
    pub fn ascii(&mut self, key: &'static str, value: &[u8]) {
        debug_assert!(value.is_ascii());
        self.text(key, value);
    }

    #[inline(always)]
    fn text(&mut self, key: &'static str, value: &[u8]) {
        debug_assert!(!value.contains(&0));
        self.key(0x02, key);
        self.buf
            .extend_from_slice(&((value.len() + 1) as i32).to_le_bytes());
        self.buf.extend_from_slice(value);
        self.buf.push(0);
    }

    /// A 32-bit integer element (BSON type 0x10).
    #[inline(always)]
    pub fn int32(&mut self, key: &'static str, value: i32) {
        self.key(0x10, key);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A double element (BSON type 0x01).
    #[inline(always)]
    pub fn double(&mut self, key: &'static str, value: f64) {
        self.key(0x01, key);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A UTC datetime element in milliseconds since the epoch (BSON type 0x09).
    #[inline(always)]
    pub fn datetime(&mut self, key: &'static str, millis: i64) {
        self.key(0x09, key);
        self.buf.extend_from_slice(&millis.to_le_bytes());
    }

    /// Closes the document and hands it over in the form the driver inserts without re-encoding.
    #[inline(always)]
    pub fn finish(mut self) -> RawDocumentBuf {
        self.buf.push(0);
        let len = self.buf.len() as i32;
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        RawDocumentBuf::from_bytes(self.buf).expect("DocWriter produces a well-formed document")
    }
}

/// A generated document as relaxed Extended JSON (`{"$oid": …}`, `{"$date": "…"}`), the form
/// `mongoexport` writes: what previews and dry runs show, and what `mongoimport` restores with
/// its types.
pub fn to_extended_json(doc: &RawDocumentBuf) -> serde_json::Value {
    match doc.to_document() {
        Ok(d) => bson::Bson::Document(d).into_relaxed_extjson(),
        // Generated documents are always well formed; a broken one shows as null, not a panic.
        Err(_) => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{DateTime, Document, doc, oid::ObjectId};

    #[test]
    fn writes_what_the_bson_crate_reads() {
        let oid = ObjectId::new();
        let mut w = DocWriter::with_capacity(8);
        w.object_id("_id", oid.bytes());
        w.string("s", "héllo");
        w.int32("i", -7);
        w.double("d", 1.5);
        w.datetime("t", 1_700_000_000_123);
        let raw = w.finish();
        let parsed: Document = raw.to_document().unwrap();
        let expected = doc! {
            "_id": oid,
            "s": "héllo",
            "i": -7,
            "d": 1.5,
            "t": DateTime::from_millis(1_700_000_000_123),
        };
        assert_eq!(parsed, expected);
        // Byte-for-byte what the reference encoder writes.
        assert_eq!(raw.as_bytes(), bson::to_vec(&expected).unwrap());
    }
}
