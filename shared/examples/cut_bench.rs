//! Throughput of the streaming CSV cut: generates an N MB CSV in memory, cuts it with
//! filters in fixed-size chunks (as an R2 stream would deliver it) and prints MB/s.
//!
//! `cargo run --release -p shared --example cut_bench -- [MB=50] [CHUNK_BYTES=65536]`
//!
//! Output is one `key=value` line per pass (`cut`, then `count`) for scripts to parse.

use std::time::Instant;

use shared::csv_cut::{Counter, CutSpec, Cutter};

const CITIES: [&str; 6] = ["NYC", "LA", "Chicago", "Zürich", "東京", "São Paulo"];

/// A small deterministic generator so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn generate(bytes: usize) -> Vec<u8> {
    let mut rng = Lcg(42);
    let mut csv = String::with_capacity(bytes + 256);
    csv.push_str("id,name,age,city,salary,note\n");
    let mut id = 0u64;
    while csv.len() < bytes {
        id += 1;
        let age = 18 + rng.next() % 60;
        let city = CITIES[(rng.next() % CITIES.len() as u64) as usize];
        let salary = 20_000 + rng.next() % 150_000;
        let note = match rng.next() % 4 {
            0 => String::new(),
            1 => "plain note".to_string(),
            2 => format!("\"has, a comma and \"\"quotes\"\" #{id}\""),
            _ => format!("\"two\nlines {}\"", rng.next()),
        };
        csv.push_str(&format!(
            "{id},Person {},{age},{city},{salary}.{:02},{note}\n",
            rng.next() % 100_000,
            rng.next() % 100
        ));
    }
    csv.into_bytes()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mb: f64 = args.next().map_or(50.0, |a| a.parse().expect("MB"));
    let chunk: usize = args
        .next()
        .map_or(65_536, |a| a.parse().expect("CHUNK_BYTES"));
    let input = generate((mb * 1_048_576.0) as usize);
    let size_mb = input.len() as f64 / 1_048_576.0;

    let spec = CutSpec::new(
        ["name", "city", "salary"],
        [
            ("age", "BETWEEN 25 AND 45"),
            ("city", "IN (NYC, 'São Paulo', 東京)"),
            ("salary", ">= 50000"),
        ],
    );
    let start = Instant::now();
    let mut cutter = Cutter::new(spec).expect("valid spec");
    let mut out = Vec::with_capacity(chunk * 2);
    let mut max_out = 0;
    for piece in input.chunks(chunk) {
        cutter.push(piece, &mut out).expect("cut");
        max_out = max_out.max(out.capacity());
        out.clear(); // the Worker would write it to the response stream here
    }
    let stats = cutter.finish(&mut out).expect("finish");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "pass=cut mb={size_mb:.1} chunk={chunk} rows_in={} rows_out={} bytes_out={} max_out_buffer={max_out} secs={secs:.3} mb_per_s={:.1}",
        stats.rows_in,
        stats.rows_out,
        stats.bytes_out,
        size_mb / secs
    );

    let start = Instant::now();
    let mut counter = Counter::new();
    for piece in input.chunks(chunk) {
        counter.push(piece).expect("count");
    }
    let counts = counter.finish().expect("count finish");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "pass=count mb={size_mb:.1} chunk={chunk} rows={} columns={} secs={secs:.3} mb_per_s={:.1}",
        counts.rows,
        counts.columns,
        size_mb / secs
    );
}
