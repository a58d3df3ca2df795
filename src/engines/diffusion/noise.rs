//! Seeded Gaussian noise: the same seed gives the same numbers on every machine.
//!
//! PCG-64 (MCG variant, from `rand_pcg`, whose output for a seed is fixed by the
//! algorithm) drives a Box–Muller transform written out here, so no library update can
//! change the images a seed makes.

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub struct Noise {
    rng: Pcg64Mcg,
    spare: Option<f64>,
}

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Pcg64Mcg::seed_from_u64(seed),
            spare: None,
        }
    }

    /// A uniform number in (0, 1], 53 bits.
    fn uniform(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// One standard normal number.
    pub fn next_gaussian(&mut self) -> f64 {
        if let Some(value) = self.spare.take() {
            return value;
        }
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        let angle = std::f64::consts::TAU * self.uniform();
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }

    pub fn fill(&mut self, out: &mut [f32]) {
        for value in out {
            *value = self.next_gaussian() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Noise;

    #[test]
    fn same_seed_same_noise_and_standard_moments() {
        let mut a = vec![0f32; 100_000];
        let mut b = vec![0f32; 100_000];
        Noise::new(42).fill(&mut a);
        Noise::new(42).fill(&mut b);
        assert_eq!(a, b);
        let mut c = vec![0f32; 10];
        Noise::new(43).fill(&mut c);
        assert_ne!(a[..10], c[..]);
        let mean = a.iter().map(|&v| v as f64).sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }
}
