//! How fast the product runs: `cargo run --release -p ainima-kernels --example speed`.
use ainima_kernels::{Weights, linear};
fn main() {
    let (rows, inputs, outputs) = (200, 384, 1536);
    let x: Vec<f32> = (0..rows * inputs).map(|i| (i % 7) as f32 * 0.1).collect();
    let w = Weights::F32(
        (0..outputs * inputs)
            .map(|i| (i % 5) as f32 * 0.1)
            .collect(),
    );
    let mut y = vec![0.0; rows * outputs];
    for _ in 0..3 {
        let t = std::time::Instant::now();
        linear(&x, inputs, &w, None, &mut y);
        let s = t.elapsed().as_secs_f64();
        println!(
            "{} {:.2} ms, {:.1} GFLOP/s",
            ainima_kernels::build(),
            s * 1e3,
            2.0 * (rows * inputs * outputs) as f64 / s / 1e9
        );
    }
}
