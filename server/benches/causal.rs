//! Issue 7's performance target: 100,000 rows, 5 common causes, one estimate plus the three
//! refutations in under 1 s, per estimator.
//!
//! Peer in the same run: with `MIGRU_DOWHY_PYTHON` set to a Python that has DoWhy 0.14 (e.g.
//! `/work/venv-causal/bin/python`), the bench writes the same table to a CSV, times DoWhy's
//! estimate plus its three refuters (one simulation each, the same work as ours) through
//! `server/validation/compare_dowhy.py --time-csv`, and prints DoWhy's time beside the median of
//! five of our runs, with the ratio. `MIGRU_DOWHY_METHODS` narrows the methods (DoWhy's
//! stratification takes minutes).
//!
//!     MIGRU_DOWHY_PYTHON=/work/venv-causal/bin/python cargo bench -p migru-server --bench causal

use std::io::Write;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use migru_server::causal::generate::{GenSpec, Generated, generate};
use migru_server::causal::{Analysis, Config, Method, Spec, analyze};

fn spec() -> Spec {
    Spec { treatment: "t".into(), outcome: "y".into(), common_causes: (0..5).map(|j| format!("w{j}")).collect() }
}

fn run(data: &Generated, method: Method) -> f64 {
    match analyze(&data.table, &spec(), &Config { method, ..Config::default() }) {
        Ok(Analysis::Estimated(e)) => e.estimate,
        other => panic!("{method:?}: {other:?}"),
    }
}

/// DoWhy's seconds per method on the same data, when a Python with DoWhy is named.
fn dowhy_peer(data: &Generated) -> Vec<(String, f64)> {
    let Ok(python) = std::env::var("MIGRU_DOWHY_PYTHON") else { return Vec::new() };
    let methods = std::env::var("MIGRU_DOWHY_METHODS").unwrap_or_else(|_| "regression,ipw,aipw".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("perf.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
    let names: Vec<String> = ["t", "y"].iter().map(|s| s.to_string()).chain(spec().common_causes).collect();
    let cols: Vec<&[f64]> = names.iter().map(|n| data.table.column(n).expect("column")).collect();
    writeln!(file, "{}", names.join(",")).expect("write");
    for i in 0..cols[0].len() {
        let row: Vec<String> = cols.iter().map(|c| c[i].to_string()).collect();
        writeln!(file, "{}", row.join(",")).expect("write");
    }
    drop(file);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/validation/compare_dowhy.py");
    let out = std::process::Command::new(python)
        .args([script, "--time-csv", csv.to_str().expect("utf-8 path"), "--methods", &methods])
        .output()
        .expect("running DoWhy");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["method"].as_str()?.to_owned(), v["dowhy_s"].as_f64()?)))
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = generate(&GenSpec { n: 100_000, common_causes: 5, seed: 42, ..GenSpec::default() });
    let mut group = c.benchmark_group("causal_100k_rows_5_causes_estimate_plus_3_refutations");
    group.sample_size(10);
    for method in Method::ALL {
        group.bench_function(method.as_str(), |b| b.iter(|| run(&data, method)));
    }
    group.finish();

    for (method, dowhy_s) in dowhy_peer(&data) {
        let Ok(m) = method.parse::<Method>() else { continue };
        let mut ours: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                run(&data, m);
                start.elapsed().as_secs_f64()
            })
            .collect();
        ours.sort_by(f64::total_cmp);
        println!(
            "peer {method}: DoWhy {dowhy_s:.3} s, ours median of 5 {:.3} s, ratio DoWhy/ours {:.1}x",
            ours[2],
            dowhy_s / ours[2]
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
