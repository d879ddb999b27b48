//! What every benchmark does with its samples: percentiles, and sizes read
//! from the environment.
#![allow(dead_code)]

/// The `p` percentile (0.0 to 1.0) of `v`, which it sorts; `pct(v, 0.5)`
/// is the median (the upper one for an even count).
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// `key` from the environment as a number, else `default`.
pub fn env_n(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
