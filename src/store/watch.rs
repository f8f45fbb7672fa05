//! Every call record as it is inserted, from a change stream: what `GET /calls/stream?include=backfill`
//! pushes when the server has change streams (a replica set; a standalone `mongod` has none). The
//! default stream follows the cheaper calls feed ([`super::feed`]) instead.

use bson::{Bson, Document, doc};
use futures::StreamExt;
use futures::stream::BoxStream;
use mongodb::change_stream::event::ResumeToken;

use super::{DbError, Store};
use crate::generate::Kind;

/// One inserted call and where the stream stood after it.
#[derive(Debug, Clone)]
pub struct CallChange {
    /// The resume token, as text: `Last-Event-ID` hands it back to resume after this call.
    pub token: String,
    /// The call document as inserted.
    pub call: Document,
    /// When the server applied the insert (`wallTime`), where it says.
    pub inserted_at: Option<bson::DateTime>,
}

impl Store {
    /// Whether the server has change streams: it is a replica set member (or `mongos`).
    pub async fn has_change_streams(&self) -> Result<bool, DbError> {
        let hello = self.db().run_command(doc! { "hello": 1 }).await?;
        Ok(hello.contains_key("setName") || hello.get_str("msg").ok() == Some("isdbgrid"))
    }

    /// Inserts into `calls` from now, or right after `resume` (a token from an earlier change).
    pub async fn watch_calls(
        &self,
        resume: Option<&str>,
    ) -> Result<BoxStream<'static, Result<CallChange, DbError>>, DbError> {
        let token = match resume {
            Some(t) => Some(decode(t).ok_or_else(|| {
                DbError::from(mongodb::error::Error::custom(format!(
                    "bad resume token {t:?}"
                )))
            })?),
            None => None,
        };
        let stream = self
            .db()
            .collection::<Document>(Kind::Calls.collection())
            .watch()
            .pipeline([
                doc! { "$match": { "operationType": "insert" } },
                doc! { "$project": { "fullDocument": 1, "wallTime": 1 } },
            ])
            .resume_after(token)
            .await?
            .with_type::<Document>();
        Ok(stream
            .map(|event| {
                let event = event?;
                let token = event.get("_id").cloned().unwrap_or(Bson::Null);
                Ok(CallChange {
                    token: encode(&token),
                    call: event
                        .get_document("fullDocument")
                        .cloned()
                        .unwrap_or_default(),
                    inserted_at: event.get_datetime("wallTime").ok().copied(),
                })
            })
            .boxed())
    }
}

/// A resume token as text (its relaxed extended JSON, which has no line breaks).
fn encode(token: &Bson) -> String {
    token.clone().into_relaxed_extjson().to_string()
}

fn decode(text: &str) -> Option<ResumeToken> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let bson = Bson::try_from(json).ok()?;
    bson::from_bson(bson).ok()
}
