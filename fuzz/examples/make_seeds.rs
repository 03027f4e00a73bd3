//! Writes the seed corpus: `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`.
//! Existing files with other names (regressions from fuzzing) are left alone.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut written = 0;
    for seed in resock_fuzz::seeds::all() {
        let dir = root.join(seed.target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        let path = dir.join(&seed.name);
        if std::fs::read(&path).ok().as_deref() != Some(&seed.bytes[..]) {
            std::fs::write(&path, &seed.bytes).expect("write seed");
            written += 1;
        }
    }
    println!("{written} seed files written under {}", root.display());
}
