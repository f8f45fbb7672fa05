//! A cell's global identity as records carry it, `MCC-MNC-ECI`: formatted into a fixed buffer
//! on the hot path (every mobile call writes one to three) and read back.

use super::Eci;

/// A cell's global id as records carry it: `MCC-MNC-ECI`, the ECI in decimal.
pub fn ecgi(operator_code: &str, eci: Eci) -> String {
    String::from_utf8_lossy(Ecgi::new(operator_code, eci).bytes()).into_owned()
}

/// An ECGI (`MCC-MNC-ECI`) in a fixed buffer: the text and its length.
pub struct Ecgi([u8; 17], usize);

impl Ecgi {
    /// `eci` of the operator `code` (`MCC-MNC`, 7 bytes).
    #[inline]
    pub fn new(code: &str, eci: Eci) -> Self {
        let mut b = [0u8; 17];
        let n = code.len().min(7);
        for (to, from) in b.iter_mut().zip(&code.as_bytes()[..n]) {
            *to = *from;
        }
        b[n] = b'-';
        // The digits written from the last one back, two at a time, straight into the buffer.
        let len = n + 2 + eci.checked_ilog10().unwrap_or(0) as usize;
        let (mut v, mut end) = (eci as usize, len);
        while v >= 100 {
            b[end - 2..end].copy_from_slice(&PAIRS[v % 100]);
            (v, end) = (v / 100, end - 2);
        }
        if v >= 10 {
            b[end - 2..end].copy_from_slice(&PAIRS[v]);
        } else {
            b[end - 1] = b'0' + v as u8;
        }
        Self(b, len)
    }

    /// The bytes of the text.
    pub fn bytes(&self) -> &[u8] {
        &self.0[..self.1]
    }

    /// The whole buffer and the text's length, for writers that copy a fixed size.
    #[inline]
    pub fn buffer(&self) -> ([u8; 17], usize) {
        (self.0, self.1)
    }
}

/// "00" to "99", for writing decimal digits two at a time.
const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// The ECI of an ECGI of `operator_code`, if it is one.
pub fn eci_of(operator_code: &str, ecgi: &str) -> Option<Eci> {
    let rest = ecgi.strip_prefix(operator_code)?.strip_prefix('-')?;
    rest.parse().ok()
}
