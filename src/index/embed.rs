//! Step 3 of indexing: passages embedded on one encoder thread per core,
//! fed through a bounded queue while the pages are still being chunked.

use std::sync::{mpsc, Mutex};

use crate::error::{Error, Result};
use crate::format::tensors::quantize_i8_rows;
use crate::model::{Embedding, Encoder, TextKind};

/// Collects the encoder's answers, which arrive out of order, as int8 rows.
pub(super) struct VectorSink {
    dim: usize,
    /// Row `id` is chunk `id`'s vector ([`crate::format::tensors::DType::I8Row`]).
    pub rows: Vec<u8>,
    pub embedded: usize,
    pub truncated: usize,
    /// Whether row `id`'s passage was truncated.
    pub truncated_rows: Vec<bool>,
    /// Rows taken from the embedding cache instead of the encoder.
    pub reused: usize,
}

impl VectorSink {
    fn take(&mut self, (id, res): (u32, Result<Embedding>)) -> Result<()> {
        let e = res?;
        let row = quantize_i8_rows(&e.vector, self.dim);
        self.put(id, &row, e.truncated_from.is_some());
        Ok(())
    }

    /// Row `id`, computed or from the cache.
    pub fn put(&mut self, id: u32, row: &[u8], truncated: bool) {
        let rb = 4 + self.dim;
        let at = id as usize * rb;
        if self.rows.len() < at + rb {
            self.rows.resize(at + rb, 0);
        }
        self.rows[at..at + rb].copy_from_slice(row);
        if self.truncated_rows.len() <= id as usize {
            self.truncated_rows.resize(id as usize + 1, false);
        }
        self.truncated_rows[id as usize] = truncated;
        self.truncated += truncated as usize;
        self.embedded += 1;
    }

    /// Row `id`, as written.
    pub fn row(&self, id: u32) -> &[u8] {
        let rb = 4 + self.dim;
        &self.rows[id as usize * rb..(id as usize + 1) * rb]
    }
}

/// The queue to the encoder threads, and the vectors back so far.
pub(super) struct Embedder {
    jobs: mpsc::SyncSender<(u32, String)>,
    results: mpsc::Receiver<(u32, Result<Embedding>)>,
    pub vectors: VectorSink,
}

impl Embedder {
    /// Queues passage `id`, then takes the vectors that are back. Blocks
    /// while the encoders are busy: at most a few chunks wait, whatever
    /// the size of the site.
    pub fn send(&mut self, id: u32, passage: String) -> Result<()> {
        if self.jobs.send((id, passage)).is_err() {
            return Err(Error::Encoder("the encoder threads stopped".into()));
        }
        while let Ok(r) = self.results.try_recv() {
            self.vectors.take(r)?;
        }
        Ok(())
    }
}

/// Runs `feed` with encoder threads embedding what it sends
/// ([`TextKind::Passage`], as search vectors), then waits for the rest,
/// calling `each` after each vector that comes back then.
pub(super) fn embed_passages<R>(
    enc: &Encoder,
    feed: impl FnOnce(&mut Embedder) -> Result<R>,
    mut each: impl FnMut(&R, &VectorSink),
) -> Result<(R, VectorSink)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (job_tx, job_rx) = mpsc::sync_channel::<(u32, String)>(threads * 4);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel();
    std::thread::scope(|sc| {
        for _ in 0..threads {
            let (job_rx, res_tx) = (&job_rx, res_tx.clone());
            sc.spawn(move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => break,
                };
                let Ok((id, passage)) = job else { break };
                let r = enc.embed_for_search(&passage, TextKind::Passage);
                if res_tx.send((id, r)).is_err() {
                    break;
                }
            });
        }
        drop(res_tx);
        // owned here, so that any early return closes the queue and the
        // encoder threads end before the scope waits for them
        let mut embedder = Embedder {
            jobs: job_tx,
            results: res_rx,
            vectors: VectorSink {
                dim: enc.dim(),
                rows: Vec::new(),
                embedded: 0,
                truncated: 0,
                truncated_rows: Vec::new(),
                reused: 0,
            },
        };
        let fed = feed(&mut embedder)?;
        let Embedder {
            jobs,
            results,
            mut vectors,
        } = embedder;
        drop(jobs);
        for r in results {
            vectors.take(r)?;
            each(&fed, &vectors);
        }
        Ok((fed, vectors))
    })
}
