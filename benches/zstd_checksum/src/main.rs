//! Decodes 1 GiB of zstd chunks (1 MiB each, float64 field values, level 1) written with and
//! without zstd's content checksum, in interleaved rounds, one thread, as outcore's streaming
//! read does (one context, decoded into a reused buffer).
/// This thread's CPU time in seconds: on a loaded shared machine wall time mostly measures
/// the other processes.
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn main() {
    let chunk_bytes = 1 << 20;
    let chunks = 1024;
    let rounds: usize = std::env::args().nth(1).map_or(5, |a| a.parse().unwrap());
    // A smooth field plus small noise: compresses about 2:1 at level 1 like the README's field.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut encoded = [Vec::new(), Vec::new()];
    for (k, checksum) in [false, true].into_iter().enumerate() {
        let mut c = zstd::bulk::Compressor::new(1).unwrap();
        c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(checksum)).unwrap();
        let mut s = state;
        for i in 0..chunks {
            let values: Vec<u8> = (0..chunk_bytes / 8)
                .flat_map(|j| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let x = ((i * chunk_bytes / 8 + j) as f64 * 1e-4).sin() * 20.0 + 280.0;
                    let noise = ((s >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 0.01;
                    ((x + noise) as f32 as f64).to_le_bytes()
                })
                .collect();
            encoded[k].push(c.compress(&values).unwrap());
        }
    }
    state ^= 1;
    let _ = state;
    let stored: Vec<usize> = encoded.iter().map(|e| e.iter().map(Vec::len).sum()).collect();
    println!("stored bytes: without {} with {} (1 GiB decoded)", stored[0], stored[1]);
    let mut d = zstd::bulk::Decompressor::new().unwrap();
    let mut out = vec![0u8; chunk_bytes];
    let mut best = [f64::MAX; 2];
    let mut total = [0f64; 2];
    for round in 0..rounds {
        // Interleaved: the order alternates each round.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let t = cpu_seconds();
            for frame in &encoded[k] {
                let n = d.decompress_to_buffer(frame, &mut out).unwrap();
                assert_eq!(n, chunk_bytes);
            }
            let s = cpu_seconds() - t;
            best[k] = best[k].min(s);
            total[k] += s;
            println!("round {round} {}: {:.3} s CPU ({:.0} MiB/s)", ["without", "with"][k], s, 1024.0 / s);
        }
    }
    println!(
        "best: without {:.3} s, with {:.3} s: {:+.1}%; mean: without {:.3} s, with {:.3} s: {:+.1}%",
        best[0], best[1], (best[1] / best[0] - 1.0) * 100.0,
        total[0] / rounds as f64, total[1] / rounds as f64, (total[1] / total[0] - 1.0) * 100.0
    );
}
