//! exp/ln evaluation rate on one thread, as one dependent chain per element (x ← exp(ln x·c))
//! with the loop vectorised plainly or over tiles of 16/32 elements (independent chains in
//! flight): `cargo run --release -p machine --example exp_rate`.
use machine::fastmath::{exp_f32, exp_reduced, ln_f32};
use std::time::Instant;

#[inline(always)]
fn tile<const L: usize>(x: &mut [f32]) {
    for c in x.chunks_exact_mut(L) {
        let c: &mut [f32; L] = c.try_into().unwrap();
        let mut t = [0.0f32; L];
        for l in 0..L {
            t[l] = ln_f32(c[l]) * 0.999;
        }
        for l in 0..L {
            c[l] = exp_f32(t[l]);
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn plain(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = exp_f32(ln_f32(*v) * 0.999);
    }
}
#[target_feature(enable = "avx2,fma")]
unsafe fn t16(x: &mut [f32]) {
    tile::<16>(x)
}
#[target_feature(enable = "avx2,fma")]
unsafe fn t32(x: &mut [f32]) {
    tile::<32>(x)
}
#[target_feature(enable = "avx2,fma")]
unsafe fn sep(x: &mut [f32]) {
    // Two passes: all ln, then all exp (no chain inside a pass).
    for v in x.iter_mut() {
        *v = ln_f32(*v) * 0.999;
    }
    for v in x.iter_mut() {
        *v = exp_f32(*v);
    }
}

fn main() {
    same_bits_as_before();
    println!("exp_f32: same bits as the clamp/cast version from -200 to 200");
    for (name, f) in [
        ("plain", plain as unsafe fn(&mut [f32])),
        ("tile16", t16),
        ("tile32", t32),
        ("two passes", sep),
    ] {
        let mut x: Vec<f32> = (0..4096).map(|k| 0.5 + (k % 97) as f32 * 0.01).collect();
        let reps = 500;
        let best = (0..4)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..reps {
                    unsafe { f(&mut x) };
                }
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        std::hint::black_box(&x);
        println!(
            "{name:<12} {:.2} ns per exp or ln",
            best / (2 * reps * x.len()) as f64 * 1e9
        );
    }
}

fn old_exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let er = exp_reduced(r);
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    er * scale
}

fn same_bits_as_before() {
    let mut x = -200.0f32;
    while x < 200.0 {
        assert_eq!(exp_f32(x).to_bits(), old_exp(x).to_bits(), "{x}");
        x += 0.000_37;
    }
    for x in [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1e-30,
        -1e-30,
    ] {
        let (a, b) = (exp_f32(x), old_exp(x));
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "{x}: {a} {b}"
        );
    }
}
