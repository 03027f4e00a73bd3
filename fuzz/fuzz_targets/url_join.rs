#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| resock_fuzz::url_join(data));
