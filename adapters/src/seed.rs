//! Seeds for the core's CSPRNG, drawn from the operating system.

/// 32 bytes of OS entropy to seed a connection's ChaCha generator (mask keys, handshake key).
///
/// # Panics
/// If the operating system cannot provide randomness; masking without it would be unsafe.
pub fn os_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system random generator failed");
    seed
}
