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

    /// An element of fixed size: tag, key, NUL, value. One growth of the buffer, then copies
    /// into it: cheaper than a push per part, each checking the capacity.
    #[inline(always)]
    fn element<const N: usize>(&mut self, tag: u8, key: &'static str, value: [u8; N]) {
        debug_assert!(!key.as_bytes().contains(&0));
        let k = key.len();
        let at = self.buf.len();
        self.buf.resize(at + k + 2 + N, 0);
        let out = &mut self.buf[at..];
        out[0] = tag;
        out[1..1 + k].copy_from_slice(key.as_bytes());
        out[k + 2..].copy_from_slice(&value);
    }

    /// An ObjectId element (BSON type 0x07).
    #[inline(always)]
    pub fn object_id(&mut self, key: &'static str, bytes: [u8; 12]) {
        self.element(0x07, key, bytes);
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
        debug_assert!(!key.as_bytes().contains(&0));
        // As `element`: the zero fill leaves the NULs in place.
        let (k, v) = (key.len(), value.len());
        let at = self.buf.len();
        self.buf.resize(at + k + v + 7, 0);
        let out = &mut self.buf[at..];
        out[0] = 0x02;
        out[1..1 + k].copy_from_slice(key.as_bytes());
        out[k + 2..k + 6].copy_from_slice(&((v + 1) as i32).to_le_bytes());
        out[k + 6..k + 6 + v].copy_from_slice(value);
    }

    /// [`Self::ascii`] of the first `len` bytes of `value`: the whole array is copied (a fixed
    /// size, no call to `memcpy`) and the element cut back to its length.
    #[inline(always)]
    pub fn ascii_in<const N: usize>(&mut self, key: &'static str, value: &[u8; N], len: usize) {
        debug_assert!(len <= N && value[..len].is_ascii() && !value[..len].contains(&0));
        debug_assert!(!key.as_bytes().contains(&0));
        let k = key.len();
        let at = self.buf.len();
        self.buf.resize(at + k + N + 7, 0);
        let out = &mut self.buf[at..];
        out[0] = 0x02;
        out[1..1 + k].copy_from_slice(key.as_bytes());
        out[k + 1] = 0;
        out[k + 2..k + 6].copy_from_slice(&((len + 1) as i32).to_le_bytes());
        out[k + 6..k + 6 + N].copy_from_slice(value);
        out[k + 6 + len] = 0;
        self.buf.truncate(at + k + len + 7);
    }

    /// A 32-bit integer element (BSON type 0x10).
    #[inline(always)]
    pub fn int32(&mut self, key: &'static str, value: i32) {
        self.element(0x10, key, value.to_le_bytes());
    }

    /// A 64-bit integer element (BSON type 0x12).
    #[inline(always)]
    pub fn int64(&mut self, key: &'static str, value: i64) {
        self.element(0x12, key, value.to_le_bytes());
    }

    /// A double element (BSON type 0x01).
    #[inline(always)]
    pub fn double(&mut self, key: &'static str, value: f64) {
        self.element(0x01, key, value.to_le_bytes());
    }

    /// A UTC datetime element in milliseconds since the epoch (BSON type 0x09).
    #[inline(always)]
    pub fn datetime(&mut self, key: &'static str, millis: i64) {
        self.element(0x09, key, millis.to_le_bytes());
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

/// Writes `value` as decimal digits filling `out`, leading zeros included.
pub fn write_digits(out: &mut [u8], mut value: u64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
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
