//! Seeding: every random stream is derived from `(seed, step, lane)` by a
//! SplitMix64 hash, so results do not depend on how rayon schedules rows
//! (same seed, same backend → same result, whatever the thread count).

use rand::rngs::SmallRng;
use rand::SeedableRng;

#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Independent fast generator (xoshiro256++) for one `(seed, step, lane)` triple;
/// `lane` is typically a chain / batch row, `step` a sweep counter.
pub fn lane_rng(seed: u64, step: u64, lane: u64) -> SmallRng {
    let k =
        splitmix64(splitmix64(splitmix64(seed) ^ step) ^ lane.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    SmallRng::seed_from_u64(k)
}
