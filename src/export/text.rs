//! BSON values as relaxed Extended JSON and as CSV cells, written straight from the raw bytes.

use bson::{RawBsonRef, RawDocument};

/// A document as one relaxed Extended JSON object (no line end).
pub fn json_document(doc: &RawDocument, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, element) in doc.iter().enumerate() {
        let Ok((key, value)) = element else { continue };
        if i > 0 {
            out.push(b',');
        }
        json_string(key, out);
        out.push(b':');
        json_value(value, out);
    }
    out.push(b'}');
}

/// One value in relaxed Extended JSON, as `bson`'s `into_relaxed_extjson` (and `mongoexport`)
/// write it; the types a generator does not produce go through `bson` itself.
pub fn json_value(value: RawBsonRef, out: &mut Vec<u8>) {
    match value {
        RawBsonRef::String(s) => json_string(s, out),
        RawBsonRef::Int32(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        RawBsonRef::Int64(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        RawBsonRef::Double(f) if f.is_finite() => double(f, out),
        RawBsonRef::ObjectId(oid) => {
            out.extend_from_slice(b"{\"$oid\":\"");
            hex(&oid.bytes(), out);
            out.extend_from_slice(b"\"}");
        }
        RawBsonRef::DateTime(dt) if (0..=MAX_ISO_MILLIS).contains(&dt.timestamp_millis()) => {
            out.extend_from_slice(b"{\"$date\":\"");
            iso_date(dt.timestamp_millis(), out);
            out.extend_from_slice(b"\"}");
        }
        other => match bson::Bson::try_from(other) {
            Ok(b) => out.extend_from_slice(b.into_relaxed_extjson().to_string().as_bytes()),
            Err(_) => out.extend_from_slice(b"null"),
        },
    }
}

/// One value as a CSV cell in the form mongoimport's typed columns parse.
pub fn csv_value(value: RawBsonRef, out: &mut Vec<u8>) {
    match value {
        RawBsonRef::String(s) if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) => {
            out.push(b'"');
            for b in s.bytes() {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        RawBsonRef::String(s) => out.extend_from_slice(s.as_bytes()),
        RawBsonRef::Int32(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        RawBsonRef::Int64(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        RawBsonRef::Double(f) if f.is_finite() => double(f, out),
        RawBsonRef::DateTime(dt) if (0..=MAX_ISO_MILLIS).contains(&dt.timestamp_millis()) => {
            iso_date(dt.timestamp_millis(), out)
        }
        RawBsonRef::ObjectId(oid) => hex(&oid.bytes(), out),
        _ => {}
    }
}

/// 9999-12-31T23:59:59.999Z: relaxed Extended JSON writes dates up to it as ISO strings.
const MAX_ISO_MILLIS: i64 = 253_402_300_799_999;

/// A finite double, always with a fraction or exponent, so it reads back as a double.
fn double(f: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
}

fn hex(bytes: &[u8; 12], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 24];
    for (i, b) in bytes.iter().enumerate() {
        text[2 * i] = DIGITS[(b >> 4) as usize];
        text[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    out.extend_from_slice(&text);
}

/// A JSON string, escaped as RFC 8259 requires.
fn json_string(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    // Nearly every string needs no escape: one scan, one copy.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// `millis` since the epoch (0 to [`MAX_ISO_MILLIS`]) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn iso_date(millis: i64, out: &mut Vec<u8>) {
    let days = millis.div_euclid(86_400_000);
    let ms_of_day = millis.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    let mut text = *b"0000-00-00T00:00:00.000Z";
    digits(year, &mut text[0..4]);
    digits(month, &mut text[5..7]);
    digits(day, &mut text[8..10]);
    digits(h, &mut text[11..13]);
    digits(m, &mut text[14..16]);
    digits(s, &mut text[17..19]);
    digits(ms, &mut text[20..23]);
    out.extend_from_slice(&text);
}

/// `n` (non-negative) in decimal digits filling `slots`, zero-padded.
fn digits(mut n: i64, slots: &mut [u8]) {
    for slot in slots.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}
