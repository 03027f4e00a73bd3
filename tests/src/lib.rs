//! Shared helpers for resock's scenario and interop tests.
