//! The engine against a simulated cohort's truth (issue 3, "Validation").
//!
//! `cargo test -p migru-core --release --test patterns_validation -- --ignored --nocapture`
//! prints the full 200 children × 28 days numbers; the fast version runs by default.

use migru_core::simulate::evaluate::{Evaluation, Score, evaluate, wilson};
use migru_core::simulate::{Config, cohort};

fn run(children: u32, days: u32, seed: u64) -> Evaluation {
    let (records, truth) = cohort(&Config { children, days, seed, ..Config::default() });
    evaluate(&records, &truth)
}

fn ci(k: u32, n: u32) -> String {
    let (lo, hi) = wilson(k, n);
    format!("{k}/{n} [{lo:.2}, {hi:.2}]")
}

fn show(name: &str, s: &Score) -> String {
    format!(
        "{name:>6}: flagged {:>4}, precision {:.3} {}, recall {:.3} {} eligible ({}/{} of all planted), \
         effect-free children with any {:.3} {}\n        by kind {:?}\n        by RR {:?}",
        s.flagged,
        s.precision,
        ci(s.true_positives, s.flagged),
        s.recall,
        ci(s.eligible_found, s.eligible_planted),
        s.planted_found,
        s.planted,
        s.effect_free_share_with_any,
        ci(s.effect_free_with_any, s.effect_free_children),
        s.recall_by_kind,
        s.recall_by_rr
    )
}

fn report(e: &Evaluation) {
    println!("cohort: {} children, {} events", e.children, e.events);
    println!("{}", show("engine", &e.engine));
    println!("{}", show("naive", &e.naive));
}

#[test]
fn fast_cohort_guards_precision_and_false_alarms() {
    let e = run(60, 28, 3);
    report(&e);
    // Regression guards at the levels measured (the targets are checked, and reported,
    // by the full run below; precision and recall are not yet at target: see ADR 0003).
    assert!(e.engine.precision >= 0.7, "precision {}", e.engine.precision);
    assert!(e.engine.recall >= 0.3, "recall {}", e.engine.recall);
    assert!(e.engine.effect_free_share_with_any <= 0.05);
    assert!(e.engine.eligible_found > 0);
    // The seed's rule is far worse on the same counts.
    assert!(e.naive.precision < e.engine.precision);
    assert!(e.naive.effect_free_share_with_any > 0.3);
}

#[test]
#[ignore = "full cohort: run with --release --ignored --nocapture"]
fn full_cohort_200_children_28_days() {
    for seed in [1, 2] {
        let e = run(200, 28, seed);
        println!("seed {seed}");
        report(&e);
        // Issue targets: precision >= 0.95, recall >= 0.70, effect-free <= 5 %. Measured (seeds
        // 1 and 2): precision 0.94 / 0.95, recall 0.52 / 0.51, effect-free 2 / 100 and 0 / 100;
        // ADR 0003 says why recall is bounded by 28 days of data. Printed above, guarded here
        // just under the measured levels.
        assert!(e.engine.precision >= 0.92, "precision {}", e.engine.precision);
        assert!(e.engine.recall >= 0.49, "recall {}", e.engine.recall);
        assert!(e.engine.effect_free_share_with_any <= 0.05);
    }
}

/// The cohort the a-priori choices (prior weights by kind, ADR 0003) were checked on: seed 3,
/// never one of the two seeds reported above.
#[test]
#[ignore = "tuning cohort: run with --release --ignored --nocapture"]
fn tuning_cohort_seed_3() {
    let e = run(200, 28, 3);
    println!("seed 3 (tuning)");
    report(&e);
}
