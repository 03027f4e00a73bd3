//! A printer of JSON lines that never makes its caller wait: `resock serve --json-events` hands
//! each line to a bounded queue drained by one writer thread, so a reader of stdout that is slow
//! (or stopped) costs lines, never a connection's progress. Lines that did not fit are counted
//! and reported by one `{"event":"skipped","lines":N}` line as soon as the queue has room again.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::{self, JoinHandle};

use crate::jsonl::json_line;

/// Lines waiting for the writer before new ones are skipped.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The sending side; cheap to share between connections.
pub struct Printer {
    queue: Option<SyncSender<String>>,
    skipped: Arc<AtomicU64>,
    writer: Option<JoinHandle<()>>,
}

impl Printer {
    /// A printer writing to stdout.
    pub fn stdout(capacity: usize) -> Self {
        Self::new(capacity, std::io::stdout())
    }

    /// A printer writing to `out` from its own thread, with room for `capacity` lines.
    pub fn new<W: Write + Send + 'static>(capacity: usize, out: W) -> Self {
        let (queue, lines) = sync_channel(capacity.max(1));
        let writer = thread::Builder::new()
            .name("resock-printer".into())
            .spawn(move || write_lines(lines, out))
            .ok();
        Printer {
            queue: Some(queue),
            skipped: Arc::new(AtomicU64::new(0)),
            writer,
        }
    }

    /// Queues `line`, or counts it as skipped when the queue is full. Never blocks.
    pub fn print(&self, line: String) {
        let Some(queue) = &self.queue else { return };
        let skipped = self.skipped.load(Ordering::Relaxed);
        if skipped > 0 {
            let notice = json_line!("event": "skipped", "lines": skipped);
            match queue.try_send(notice) {
                Ok(()) => {
                    self.skipped.fetch_sub(skipped, Ordering::Relaxed);
                }
                Err(_) => {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = queue.try_send(line) {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines skipped so far and not yet reported.
    #[cfg(test)]
    fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Writes what is queued (and a last `skipped` line if some were) and stops the writer;
    /// dropping the printer does this.
    fn shutdown(&mut self) {
        if let Some(queue) = self.queue.take() {
            let skipped = self.skipped.swap(0, Ordering::Relaxed);
            if skipped > 0 {
                // At the end the writer may take its time: this one line is worth waiting for.
                let _ = queue.send(json_line!("event": "skipped", "lines": skipped));
            }
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn write_lines<W: Write>(lines: Receiver<String>, mut out: W) {
    while let Ok(line) = lines.recv() {
        // One flush per line: a script reading events sees each one at once.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
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

    #[test]
    fn a_stopped_reader_costs_lines_never_a_wait_and_the_loss_is_reported() {
        let gate = Gate::default();
        let printer = Printer::new(4, gate.clone());
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
    fn the_skip_count_is_reported_before_the_next_line_that_fits() {
        let gate = Gate::default();
        // Room for two: the notice and the line after it both fit once the writer has drained.
        let printer = Printer::new(2, gate.clone());
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
