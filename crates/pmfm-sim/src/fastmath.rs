//! The fused kernel's vectorisable f32 `exp` and `ln`: defined (and tested against std) in the
//! `machine` crate, which also measures their rate for the benchmark's floor.

pub(crate) use machine::fastmath::{exp_f32, ln_f32};
