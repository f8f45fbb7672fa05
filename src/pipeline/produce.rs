//! A run's documents in order, batched, with each batch's rollup contribution summed from the
//! tallies the generator hands over beside the documents.

use std::sync::{Arc, Mutex};

use bson::RawDocumentBuf;

use super::{MAX_BATCH_BYTES, RunSpec};
use crate::generate::sms::SmsGenerator;
use crate::generate::{CallGenerator, Params, PointGenerator, RunId, Tally};
use crate::store::rollup::BatchRollup;

impl RunSpec {
    /// The documents of the run in order, batched: every batch holds at most `batch_size`
    /// documents and [`MAX_BATCH_BYTES`] bytes. Pure; used by exports and by benchmarks.
    pub fn batches(
        &self,
        run: RunId,
        batch_size: usize,
    ) -> impl Iterator<Item = Vec<RawDocumentBuf>> + use<> {
        self.batches_reusing(run, batch_size, Spares::none())
    }

    /// [`batches`](Self::batches) written into the buffers of batches given back to `spares`
    /// (the same documents: only where their bytes live differs).
    pub fn batches_reusing(
        &self,
        run: RunId,
        batch_size: usize,
        spares: Spares,
    ) -> impl Iterator<Item = Vec<RawDocumentBuf>> + use<> {
        self.batches_with(run, batch_size, spares, |_| (), |_, _| ())
            .map(|(docs, ())| docs)
    }

    /// [`batches`](Self::batches), each with its contribution to the rollups: what a run
    /// inserts, and what a repair regenerates.
    pub fn tallied_batches(
        &self,
        run: RunId,
        batch_size: usize,
    ) -> impl Iterator<Item = (Vec<RawDocumentBuf>, BatchRollup)> + use<> {
        self.tallied_batches_reusing(run, batch_size, Spares::none())
    }

    /// [`tallied_batches`](Self::tallied_batches) written into the buffers of batches given back
    /// to `spares` once sent.
    pub fn tallied_batches_reusing(
        &self,
        run: RunId,
        batch_size: usize,
        spares: Spares,
    ) -> impl Iterator<Item = (Vec<RawDocumentBuf>, BatchRollup)> + use<> {
        let kind = self.kind();
        self.batches_with(
            run,
            batch_size,
            spares,
            move |n| BatchRollup::new(kind, n),
            |rollup, tally| rollup.add(tally),
        )
    }

    /// How many documents the whole run writes: `count` for a kind of one document a draw;
    /// otherwise its draws are generated again and their records counted (pure, so exact).
    pub fn documents(&self) -> u64 {
        if self.kind().info().slots == 1 {
            return u64::from(self.count);
        }
        let mut generator = Generator::new(&self.params, self.seed, self.count);
        let (mut n, mut buffers, mut spent) = (0u64, Vec::new(), Vec::new());
        for index in 0..self.count {
            generator.draw(RunId::new(0, 0), index, &mut buffers, |doc, _| {
                n += 1;
                spent.push(doc.into_bytes());
            });
            buffers.append(&mut spent);
        }
        n
    }

    /// The batches, each with what `add` made of its documents' tallies, starting from
    /// `begin(capacity)`, written into the buffers of batches given back to `spares`. A batch
    /// holds whole draws: it stops at the first draw that reaches `batch_size` documents (or
    /// [`MAX_BATCH_BYTES`]), so a kind of several records a draw may pass `batch_size` by a draw's
    /// records less one. A batch whose draws wrote nothing is skipped.
    fn batches_with<T, B, A>(
        &self,
        run: RunId,
        batch_size: usize,
        spares: Spares,
        mut begin: B,
        mut add: A,
    ) -> impl Iterator<Item = (Vec<RawDocumentBuf>, T)> + use<T, B, A>
    where
        B: FnMut(usize) -> T,
        A: FnMut(&mut T, &Tally),
    {
        let mut generator = Generator::new(&self.params, self.seed, self.count);
        let count = self.count;
        let mut next = 0u32;
        let slots = self.kind().info().slots as usize;
        std::iter::from_fn(move || {
            loop {
                if next >= count {
                    return None;
                }
                let capacity = batch_size.min((count - next) as usize * slots);
                let (mut batch, mut buffers) = spares.take(capacity);
                let mut sum = begin(capacity);
                let mut bytes = 0;
                while next < count && batch.len() < batch_size && bytes < MAX_BATCH_BYTES {
                    generator.draw(run, next, &mut buffers, |doc, tally| {
                        add(&mut sum, tally);
                        bytes += doc.as_bytes().len();
                        batch.push(doc);
                    });
                    next += 1;
                }
                if !batch.is_empty() {
                    return Some((batch, sum));
                }
            }
        })
    }
}

/// Batches already sent, kept for their buffers: the producer writes the next batches into them
/// instead of allocating (and later freeing) one buffer per document. Holds at most a few
/// batches, so memory stays what the batches in flight take.
#[derive(Clone, Debug, Default)]
pub struct Spares {
    kept: Arc<Mutex<Vec<Vec<RawDocumentBuf>>>>,
    most: usize,
}

impl Spares {
    /// Keeps up to `most` spent batches.
    pub fn up_to(most: usize) -> Self {
        Self {
            kept: Arc::default(),
            most,
        }
    }

    /// Keeps nothing: every document gets a new buffer.
    pub fn none() -> Self {
        Self::up_to(0)
    }

    /// Gives back a batch the database has answered for; dropped when enough are kept.
    pub fn give(&self, batch: Vec<RawDocumentBuf>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < self.most {
            kept.push(batch);
        }
    }

    /// An empty batch for `capacity` documents, and the buffers of a spent batch to write them
    /// into (none when nothing was given back).
    fn take(&self, capacity: usize) -> (Vec<RawDocumentBuf>, Vec<Vec<u8>>) {
        let spent = self.kept.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match spent {
            Some(mut batch) => {
                let buffers = batch.drain(..).map(RawDocumentBuf::into_bytes).collect();
                batch.reserve(capacity);
                (batch, buffers)
            }
            None => (Vec::with_capacity(capacity), Vec::new()),
        }
    }
}

/// The generator of any kind, behind one call.
enum Generator {
    Calls(Box<CallGenerator>),
    Points(PointGenerator),
    Sms(Box<SmsGenerator>),
}

impl Generator {
    fn new(params: &Params, seed: u64, count: u32) -> Self {
        match params {
            Params::Calls(p) => Generator::Calls(Box::new(CallGenerator::new(*p, seed, count))),
            Params::Metrics(p) => Generator::Points(PointGenerator::new(p, seed)),
            Params::Sms(p) => Generator::Sms(Box::new(
                SmsGenerator::new(*p, seed, count)
                    .expect("texts' parameters have mobile phones (TrafficParams::new checks)"),
            )),
        }
    }

    /// The documents of draw `index`, each handed to `emit` with its tally, written into
    /// `buffers` while they last.
    #[inline]
    fn draw(
        &mut self,
        run: RunId,
        index: u32,
        buffers: &mut Vec<Vec<u8>>,
        mut emit: impl FnMut(RawDocumentBuf, &Tally<'_>),
    ) {
        let (doc, tally) = match self {
            Generator::Calls(g) => {
                g.tallied_document_in(run, index, buffers.pop().unwrap_or_default())
            }
            Generator::Points(g) => {
                g.next_tallied_document_in(run, index, buffers.pop().unwrap_or_default())
            }
            Generator::Sms(g) => return g.tallied_documents(run, index, buffers, emit),
        };
        emit(doc, &tally);
    }
}

#[cfg(test)]
mod tests;
