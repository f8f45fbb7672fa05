//! A version of each kind's rollups, bumped by every change to them, so readers on any replica can
//! tell "nothing changed since" with one point read instead of recomputing an answer.

use bson::{Document, doc};
use futures::TryStreamExt;

use crate::generate::Kind;
use crate::store::{DbError, Store};

/// The collection holding one `{_id: <kind>, v: <count of changes>}` document per kind.
pub const VERSIONS: &str = "rollup_versions";

/// Versions of every kind's rollups (at [`Kind::index`]): equal versions mean equal rollups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DataVersion(pub [i64; Kind::ALL.len()]);

impl DataVersion {
    /// The part of this version `kind`'s rollups depend on (the other kind's part zero), so what
    /// was read from one kind stays valid while the other changes.
    pub fn only(self, kind: Kind) -> Self {
        let mut v = DataVersion::default();
        v.0[kind.index()] = self.0[kind.index()];
        v
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

    /// The current versions of every kind's rollups (one indexed read of a small document per kind).
    pub async fn data_version(&self) -> Result<DataVersion, DbError> {
        let ids = Kind::ALL.map(|k| k.collection());
        let docs: Vec<Document> = self
            .db()
            .collection::<Document>(VERSIONS)
            .find(doc! { "_id": { "$in": ids.to_vec() } })
            .await?
            .try_collect()
            .await?;
        let mut version = DataVersion::default();
        for d in docs {
            let id = d.get_str("_id").unwrap_or_default();
            let Some(kind) = Kind::ALL.into_iter().find(|k| k.collection() == id) else {
                continue;
            };
            version.0[kind.index()] = d.get_i64("v").unwrap_or_default();
        }
        Ok(version)
    }
}
