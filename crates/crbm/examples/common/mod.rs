//! What the benchmark examples share: their positional size arguments.

/// The whole-number command-line arguments in order (others, like `wgpu`, skipped), each
/// position falling back to its entry of `defaults`.
pub fn sizes_from_args<const K: usize>(defaults: [usize; K]) -> [usize; K] {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    std::array::from_fn(|k| args.get(k).copied().unwrap_or(defaults[k]))
}
