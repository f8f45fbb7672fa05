//! A version of each kind's rollups, bumped by every change to them, so readers on any replica can
//! tell "nothing changed since" with one point read instead of recomputing an answer.

use bson::{Document, doc};
use futures::TryStreamExt;

use crate::generate::Kind;
use crate::store::{DbError, Store};

/// The collection holding one `{_id: <kind>, v: <count of changes>}` document per kind.
pub const VERSIONS: &str = "rollup_versions";

/// Versions of the calls' and the metrics' rollups: equal versions mean equal rollups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DataVersion(pub [i64; 2]);

impl DataVersion {
    /// The part of this version `kind`'s rollups depend on (the other kind's part zero), so what
    /// was read from one kind stays valid while the other changes.
    pub fn only(self, kind: Kind) -> Self {
        let mut v = DataVersion::default();
        v.0[slot(kind)] = self.0[slot(kind)];
        v
    }
}

fn slot(kind: Kind) -> usize {
    match kind {
        Kind::Calls => 0,
        Kind::Metrics => 1,
    }
}

impl Store {
    /// Records that `kind`'s rollups changed. Called after the change landed, so a reader that sees
    /// the new version also sees the change.
    pub(crate) async fn bump_version(&self, kind: Kind) -> Result<(), DbError> {
        self.db()
            .collection::<Document>(VERSIONS)
            .update_one(
                doc! { "_id": kind.collection() },
                doc! { "$inc": { "v": 1_i64 } },
            )
            .upsert(true)
            .await?;
        Ok(())
    }

    /// The current versions of both kinds' rollups (one indexed read of two small documents).
    pub async fn data_version(&self) -> Result<DataVersion, DbError> {
        let ids = [Kind::Calls, Kind::Metrics].map(|k| k.collection());
        let docs: Vec<Document> = self
            .db()
            .collection::<Document>(VERSIONS)
            .find(doc! { "_id": { "$in": ids.to_vec() } })
            .await?
            .try_collect()
            .await?;
        let mut version = DataVersion::default();
        for d in docs {
            let kind = match d.get_str("_id") {
                Ok(id) if id == Kind::Calls.collection() => Kind::Calls,
                Ok(id) if id == Kind::Metrics.collection() => Kind::Metrics,
                _ => continue,
            };
            version.0[slot(kind)] = d.get_i64("v").unwrap_or_default();
        }
        Ok(version)
    }
}
