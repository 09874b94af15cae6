//! Issue 7's performance target: 100,000 rows, 5 common causes, one estimate plus the three
//! refutations in under 1 s, per estimator. The DoWhy peer is timed on the same data by
//! `server/validation/compare_dowhy.py` (the ratio is in `server/validation/RESULTS.md`).

use criterion::{Criterion, criterion_group, criterion_main};
use migru_server::causal::generate::{GenSpec, generate};
use migru_server::causal::{Analysis, Config, Method, Spec, analyze};

fn bench(c: &mut Criterion) {
    let data = generate(&GenSpec { n: 100_000, common_causes: 5, seed: 42, ..GenSpec::default() });
    let spec = Spec {
        treatment: "t".into(),
        outcome: "y".into(),
        common_causes: (0..5).map(|j| format!("w{j}")).collect(),
    };
    let mut group = c.benchmark_group("causal_100k_rows_5_causes_estimate_plus_3_refutations");
    group.sample_size(10);
    for method in Method::ALL {
        let cfg = Config { method, ..Config::default() };
        group.bench_function(method.as_str(), |b| {
            b.iter(|| match analyze(&data.table, &spec, &cfg) {
                Ok(Analysis::Estimated(e)) => e.estimate,
                other => panic!("{method:?}: {other:?}"),
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
