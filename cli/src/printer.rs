//! A printer of JSON lines that never makes its caller wait: `resock serve --json-events` hands
//! each line to a queue drained by one writer thread, so a reader of stdout that is slow (or
//! stopped) costs lines, never a connection's progress. The queue is bounded in lines and in
//! bytes (a `message` event of a 64 KiB binary message is a 128 KiB line). Lines that did not
//! fit are counted and reported by one `{"event":"skipped","lines":N}` line as soon as the queue
//! has room again.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use crate::jsonl::json_line;

/// Lines waiting for the writer before new ones are skipped.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Bytes of lines waiting for the writer before new ones are skipped. A single line longer than
/// this is still taken when nothing else waits (one message's event is bounded by the message
/// size limit).
pub const DEFAULT_BYTES: usize = 16 << 20;

/// How much may wait for the writer.
#[derive(Clone, Copy, Debug)]
pub struct Capacity {
    /// Lines.
    pub lines: usize,
    /// Bytes of those lines.
    pub bytes: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            lines: DEFAULT_CAPACITY,
            bytes: DEFAULT_BYTES,
        }
    }
}

/// The sending side; cheap to share between connections.
pub struct Printer {
    /// `None` once [`finish`](Printer::finish)ed.
    queue: Mutex<Option<SyncSender<String>>>,
    skipped: Arc<AtomicU64>,
    /// Bytes queued and not yet written, shared with the writer.
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Printer {
    /// A printer writing to stdout.
    pub fn stdout(capacity: Capacity) -> Self {
        Self::new(capacity, std::io::stdout())
    }

    /// A printer writing to `out` from its own thread, with room for `capacity`.
    pub fn new<W: Write + Send + 'static>(capacity: Capacity, out: W) -> Self {
        let (queue, lines) = sync_channel(capacity.lines.max(1));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let written = Arc::clone(&queued_bytes);
        let writer = thread::Builder::new()
            .name("resock-printer".into())
            .spawn(move || write_lines(lines, out, &written))
            .ok();
        Printer {
            queue: Mutex::new(Some(queue)),
            skipped: Arc::new(AtomicU64::new(0)),
            queued_bytes,
            max_bytes: capacity.bytes,
            writer: Mutex::new(writer),
        }
    }

    /// A printer writing to stderr.
    pub fn stderr(capacity: Capacity) -> Self {
        Self::new(capacity, std::io::stderr())
    }

    /// Whether `len` more bytes fit the byte bound now (anything fits an empty queue).
    fn bytes_fit(&self, len: usize) -> bool {
        let queued = self.queued_bytes.load(Ordering::Acquire);
        queued == 0 || queued.saturating_add(len) <= self.max_bytes
    }

    /// Queues `line` if both bounds allow it (a line over the byte bound only when nothing
    /// else waits); false when it was not queued.
    fn try_queue(&self, queue: &SyncSender<String>, line: String) -> bool {
        let len = line.len();
        if !self.bytes_fit(len) {
            return false;
        }
        // Counted before the send, so the writer never subtracts what was not added.
        self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        match queue.try_send(line) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                false
            }
        }
    }

    /// Queues `line`, or counts it as skipped when the queue is full. Never blocks (the lock
    /// is held only for a `try_send`).
    pub fn print(&self, line: String) {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queue.as_ref() else { return };
        let skipped = self.skipped.load(Ordering::Relaxed);
        if skipped > 0 {
            let notice = json_line!("event": "skipped", "lines": skipped);
            // The notice goes only with the line after it: no run of notices for lines that
            // keep not fitting.
            if !self.bytes_fit(notice.len() + line.len()) || !self.try_queue(queue, notice) {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.skipped.fetch_sub(skipped, Ordering::Relaxed);
        }
        if !self.try_queue(queue, line) {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines skipped so far and not yet reported.
    #[cfg(test)]
    fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// [`finish`](Self::finish), waiting at most `limit` for it (a reader of stdout that
    /// stopped must not hold the exit); true when everything was written.
    pub fn finish_within(self: &Arc<Self>, limit: std::time::Duration) -> bool {
        let (done, finished) = std::sync::mpsc::channel();
        let printer = Arc::clone(self);
        let spawned = thread::Builder::new().name("resock-printer-end".into()).spawn(move || {
            printer.finish();
            let _ = done.send(());
        });
        spawned.is_ok() && finished.recv_timeout(limit).is_ok()
    }

    /// Writes what is queued (and a last `skipped` line if some were) and stops the writer;
    /// later lines are dropped. Dropping the printer does this too.
    pub fn finish(&self) {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(queue) = queue {
            let skipped = self.skipped.swap(0, Ordering::Relaxed);
            if skipped > 0 {
                // At the end the writer may take its time: this one line is worth waiting for.
                let notice = json_line!("event": "skipped", "lines": skipped);
                self.queued_bytes.fetch_add(notice.len(), Ordering::AcqRel);
                let _ = queue.send(notice);
            }
        }
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.finish();
    }
}

fn write_lines<W: Write>(lines: Receiver<String>, mut out: W, queued_bytes: &AtomicUsize) {
    while let Ok(line) = lines.recv() {
        // One flush per line: a script reading events sees each one at once.
        let written = writeln!(out, "{line}").and_then(|()| out.flush());
        queued_bytes.fetch_sub(line.len(), Ordering::AcqRel);
        if written.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};

    /// A writer that blocks every write until the test opens it, like a stopped stdout reader.
    #[derive(Clone, Default)]
    struct Gate(Arc<GateState>);

    #[derive(Default)]
    struct GateState {
        /// Whether writes may proceed, and what was written.
        written: Mutex<(bool, Vec<u8>)>,
        opened: Condvar,
        /// Set once the writer is inside `write`.
        entered: std::sync::atomic::AtomicBool,
    }

    impl Gate {
        fn open(&self) {
            self.0.written.lock().unwrap().0 = true;
            self.0.opened.notify_all();
        }
        /// Waits (at most 10 s) until the writer is inside `write`, holding its first line.
        fn wait_for_writer(&self) {
            let guard = self.0.written.lock().unwrap();
            let timeout = std::time::Duration::from_secs(10);
            drop(
                self.0
                    .opened
                    .wait_timeout_while(guard, timeout, |_| !self.0.entered.load(Ordering::SeqCst))
                    .unwrap(),
            );
        }
        fn text(&self) -> String {
            String::from_utf8(self.0.written.lock().unwrap().1.clone()).unwrap()
        }
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let guard = self.0.written.lock().unwrap();
            self.0.entered.store(true, Ordering::SeqCst);
            self.0.opened.notify_all();
            let mut state = self.0.opened.wait_while(guard, |(open, _)| !*open).unwrap();
            state.1.extend_from_slice(buf);
            self.0.opened.notify_all();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Room for `n` lines of any size.
    fn lines(n: usize) -> Capacity {
        Capacity {
            lines: n,
            bytes: usize::MAX,
        }
    }

    #[test]
    fn a_stopped_reader_costs_lines_never_a_wait_and_the_loss_is_reported() {
        let gate = Gate::default();
        let printer = Printer::new(lines(4), gate.clone());
        // The writer takes one line and blocks in `write`; 4 more fill the queue; the rest are
        // skipped. Every call returns at once (a blocking print would hang this test).
        printer.print("{\"n\":0}".into());
        gate.wait_for_writer();
        for n in 1..100 {
            printer.print(format!("{{\"n\":{n}}}"));
        }
        let skipped = printer.skipped();
        // Opened before asserting: a failed assertion must not leave the writer blocked.
        gate.open();
        assert_eq!(skipped, 95);
        drop(printer);
        let text = gate.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() as u64, 100 - skipped + 1, "{text}");
        assert_eq!(lines[0], "{\"n\":0}");
        assert_eq!(
            *lines.last().unwrap(),
            format!("{{\"event\":\"skipped\",\"lines\":{skipped}}}")
        );
    }

    #[test]
    fn long_lines_are_bounded_by_bytes_and_one_longer_than_the_bound_passes_alone() {
        let gate = Gate::default();
        let capacity = Capacity {
            lines: 100,
            bytes: 1000,
        };
        let printer = Printer::new(capacity, gate.clone());
        // Alone, a line over the byte bound is taken (and holds the writer in `write`).
        let huge = "h".repeat(5000);
        printer.print(huge.clone());
        gate.wait_for_writer();
        // While it waits, nothing fits beside it.
        printer.print("x".repeat(10));
        let skipped_beside_huge = printer.skipped();
        gate.open();
        drop(printer);
        assert_eq!(skipped_beside_huge, 1);
        assert_eq!(gate.text(), format!("{huge}\n{{\"event\":\"skipped\",\"lines\":1}}\n"));

        let gate = Gate::default();
        let printer = Printer::new(capacity, gate.clone());
        printer.print("first".into());
        gate.wait_for_writer();
        // 5 + 3 x 300 = 905 bytes fit in 1000; the fourth 300-byte line does not, though
        // 96 lines would.
        for n in 0..10 {
            printer.print(format!("{n}{}", "y".repeat(299)));
        }
        let skipped = printer.skipped();
        gate.open();
        printer.finish();
        assert_eq!(skipped, 7);
        let text = gate.text();
        assert_eq!(text.lines().count(), 1 + 3 + 1, "{text}");
        // Every written byte was given back, the final notice's too.
        assert_eq!(printer.queued_bytes.load(Ordering::Acquire), 0);
    }

    #[test]
    fn the_skip_count_is_reported_before_the_next_line_that_fits() {
        let gate = Gate::default();
        // Room for two: the notice and the line after it both fit once the writer has drained.
        let printer = Printer::new(lines(2), gate.clone());
        printer.print("{\"n\":0}".into());
        gate.wait_for_writer();
        for n in 1..10 {
            printer.print(format!("{{\"n\":{n}}}"));
        }
        let skipped = printer.skipped();
        gate.open();
        assert_eq!(skipped, 7);
        // Wait (at most 10 s) until the writer has drained the queue, then print again.
        let drained = 10 - skipped as usize;
        let guard = gate.0.written.lock().unwrap();
        let timeout = std::time::Duration::from_secs(10);
        let not_drained = |(_, text): &mut (bool, Vec<u8>)| text.iter().filter(|b| **b == b'\n').count() < drained;
        drop(gate.0.opened.wait_timeout_while(guard, timeout, not_drained).unwrap());
        printer.print("{\"n\":\"after\"}".into());
        drop(printer);
        let text = gate.text();
        let lines: Vec<&str> = text.lines().collect();
        let notice = format!("{{\"event\":\"skipped\",\"lines\":{skipped}}}");
        let at = lines.iter().position(|l| *l == notice).expect(&text);
        assert_eq!(lines[at + 1], "{\"n\":\"after\"}", "{text}");
    }
}
