//! The drivers' read buffer: one per thread rather than one per connection. A read
//! uses it only for the duration of the call and the core copies what it keeps, so an idle
//! connection holds no read buffer. The async driver may use it too: its poll hands the bytes
//! to the session before returning.

use std::cell::RefCell;

/// How many bytes one socket read asks for.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's read buffer (`READ_CHUNK` bytes). A nested call, which the
/// drivers never make, gets a buffer of its own.
pub(crate) fn with_read_buf<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < READ_CHUNK {
                buf.resize(READ_CHUNK, 0);
            }
            f(&mut buf[..])
        }
        Err(_) => f(&mut vec![0; READ_CHUNK]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_calls_get_separate_buffers() {
        with_read_buf(|outer| {
            outer[0] = 1;
            with_read_buf(|inner| {
                assert_eq!(inner.len(), READ_CHUNK);
                inner[0] = 2;
            });
            assert_eq!(outer[0], 1);
        });
    }
}
