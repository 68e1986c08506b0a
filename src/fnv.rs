//! 128-bit FNV-1a: the grader's one hash for identities kept on disk (a batch's result keys,
//! the reference's remembered times). Stable by construction (unlike `std`'s `DefaultHasher`,
//! whose algorithm may change between Rust releases), dependency-free, and fast enough for
//! source trees. Not a defence against crafted collisions: nothing it names is a secret.

/// 128-bit FNV-1a (offset basis and prime from the FNV reference).
#[derive(Debug, Clone)]
pub struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;

    pub fn new() -> Self {
        Fnv128(Self::OFFSET)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// Writes `bytes` preceded by their length, so that ("ab", "c") and ("a", "bc") differ.
    pub fn write_field(&mut self, bytes: &[u8]) {
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
    }

    pub fn finish(&self) -> u128 {
        self.0
    }

    /// The hash as 32 lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

impl Default for Fnv128 {
    fn default() -> Self {
        Self::new()
    }
}
