//! The guard that lets a contribution to a rollup document land at most once, even when its
//! request reaches the server long after it was sent.
//!
//! A contribution carries a token (an `_id` of its run, see [`crate::generate::RunId::object_id`]); the update that
//! adds it pushes the token to the document's `applied` list and is filtered on the token not being
//! there. A run's tokens cannot stay in those lists for ever (every batch pushes one), but pulling
//! them alone would reopen the door: a request held in a connection that went silent (a network
//! that dropped packets for a minute, then delivered what it held) can reach the server after its
//! run pulled its tokens, and would then be applied a second time (seen in a fault test: a job
//! batch counted twice in `/stats`).
//!
//! So tokens are retired, not forgotten: the update that pulls a run's tokens up to `last` also
//! raises the run's watermark in the document, `done.<run>` (the run's 8 leading `_id` bytes in
//! hex) to `last`, in the same atomic update. A token at or below its run's watermark counts as
//! applied. That is true only for tokens that can no longer be applied for the first time: a
//! finished job's (all of them), a live run's before its checkpoint less the seconds a rewrite may
//! cover. One small field per run that touched the document remains.

use bson::{Document, doc, oid::ObjectId};

/// The field under which a document keeps its runs' watermarks.
pub const WATERMARKS: &str = "done";

/// The watermark field of `token`'s run: `done.<hex of the run's 8 bytes>`.
fn watermark(token: ObjectId) -> String {
    let b = token.bytes();
    let mut key = String::with_capacity(WATERMARKS.len() + 17);
    key.push_str(WATERMARKS);
    key.push('.');
    for byte in &b[..8] {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// Filter of the documents that do not hold `token`'s contribution (neither listed nor under its
/// run's watermark): what a guarded update may change.
pub fn unapplied(token: ObjectId) -> Document {
    doc! {
        "applied": { "$ne": token },
        watermark(token): { "$not": { "$gte": token } },
    }
}

/// Filter of the documents that hold `token`'s contribution.
pub fn applied(token: ObjectId) -> Document {
    doc! { "$or": [
        { "applied": token },
        { watermark(token): { "$gte": token } },
    ] }
}

/// The update that retires the tokens `[first, last]` of one run (`first` and `last` share the
/// run's 8 leading bytes): pulled from `applied`, and held by the run's watermark instead.
pub fn retire(first: ObjectId, last: ObjectId) -> Document {
    debug_assert_eq!(first.bytes()[..8], last.bytes()[..8], "one run's tokens");
    doc! {
        "$pull": { "applied": { "$gte": first, "$lte": last } },
        "$max": { watermark(last): last },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::RunId;

    #[test]
    fn a_watermark_is_named_by_its_run_and_holds_that_runs_tokens_only() {
        let run = RunId::new(0x6543_2100, 0xdead_beef);
        let token = ObjectId::from_bytes(run.object_id(7));
        assert_eq!(watermark(token), "done.65432100deadbeef");
        let update = retire(ObjectId::from_bytes(run.object_id(0)), token);
        let max = update.get_document("$max").unwrap();
        assert_eq!(max.get_object_id("done.65432100deadbeef"), Ok(token));
        let other = ObjectId::from_bytes(RunId::new(0x6543_2100, 1).object_id(7));
        assert_eq!(watermark(other), "done.6543210000000001");
    }
}
