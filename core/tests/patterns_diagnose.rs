//! Why the engine misses planted effects and what its false discoveries are (issue 3, ADR 0003).
//!
//! `cargo test -p migru-core --release --test patterns_diagnose -- --ignored --nocapture`

use std::collections::BTreeMap;

use migru_core::simulate::evaluate::reports;
use migru_core::simulate::{Config, cohort};

#[test]
#[ignore = "diagnostic over the full cohort: run with --release --ignored --nocapture"]
fn diagnose_misses_and_false_discoveries() {
    for seed in std::env::var("DIAG_SEEDS").map(|s| s.split(",").filter_map(|x| x.parse().ok()).collect::<Vec<u64>>()).unwrap_or(vec![1u64, 2]) {
        let (records, truth) = cohort(&Config { children: 200, days: 28, seed, ..Config::default() });
        let reports = reports(&records);
        // (kind) -> eligible, found, own p<0.05, own q (BH alone) <= 0.05, tested
        let mut miss: BTreeMap<String, [u32; 5]> = BTreeMap::new();
        // (false key class, planted context) -> count
        let mut fp: BTreeMap<String, u32> = BTreeMap::new();
        let mut tp_by_kind: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        for child in &truth.children {
            let Some(r) = reports.get(&child.user) else { continue };
            let planted: Vec<String> = child.effects.iter().map(|e| format!("{}:{}", e.kind, e.subject)).collect();
            for c in &r.candidates {
                if !c.significant {
                    continue;
                }
                let e = tp_by_kind.entry(c.kind.as_str().to_owned()).or_default();
                e.0 += 1;
                if planted.contains(&c.key) {
                    e.1 += 1;
                } else {
                    let ctx = if planted.is_empty() { "effect-free".to_owned() } else { planted.join("+") };
                    let ctx = ctx.replace("activity:", "");
                    *fp.entry(format!("{} <- {}", c.key, ctx)).or_default() += 1;
                    println!(
                        "  FP seed {seed} {} {}: effect {:.2} [{:.2},{:?}] p_own {:.2e} p {:.2e} q {:.3} counts {:?} planted {:?}",
                        child.user, c.key, c.effect, c.ci_low, c.ci_high, c.p_unadjusted, c.p_value, c.q_value, c.counts,
                        child.effects.iter().map(|e| (e.subject.clone(), e.relative_risk, e.exposed_episodes)).collect::<Vec<_>>()
                    );
                }
            }
            for (e, key) in child.effects.iter().zip(&planted) {
                if e.relative_risk < 2.0 || e.exposed_episodes < 6 {
                    continue;
                }
                let c = r.candidates.iter().find(|c| &c.key == key);
                let m = miss.entry(e.kind.clone()).or_default();
                m[0] += 1;
                if let Some(c) = c {
                    m[1] += u32::from(c.significant);
                    m[2] += u32::from(c.p_unadjusted < 0.05);
                    m[4] += u32::from(c.tested);
                    if !c.significant {
                        println!(
                            "  MISS seed {seed} {} {key} rr {:.2} ep {}: effect {:.2} [{:.2},{:?}] p_own {:.2e} p {:.2e} q {:.3} adj {:?} tested {} counts {:?} all-episodes {}",
                            child.user, e.relative_risk, e.exposed_episodes, c.effect, c.ci_low, c.ci_high, c.p_unadjusted, c.p_value,
                            c.q_value, c.adjusted_for, c.tested, c.counts, child.symptom_episodes
                        );
                    }
                }
            }
        }
        println!("seed {seed}: eligible by kind [eligible, found, own p<0.05, -, tested] {miss:?}");
        println!("seed {seed}: significant by kind (flagged, true) {tp_by_kind:?}");
        let mut fps: Vec<_> = fp.into_iter().collect();
        fps.sort_by_key(|f| std::cmp::Reverse(f.1));
        println!("seed {seed}: false discoveries {fps:#?}");
    }
}

#[test]
#[ignore = "diagnostic"]
fn dump_child_weekdays() {
    use chrono::Datelike;
    use migru_core::event::Body;
    let (records, truth) = cohort(&Config { children: 200, days: 28, seed: 1, ..Config::default() });
    for user in ["child-021", "child-030", "child-000"] {
        let mut by_wd = [0u32; 7];
        let mut all_wd = [0u32; 7];
        for r in records.iter().filter(|r| r.user == user) {
            let wd = r.ts.weekday().num_days_from_monday() as usize;
            all_wd[wd] += 1;
            if matches!(r.body, Body::Symptom { .. }) {
                by_wd[wd] += 1;
            }
        }
        let t = truth.children.iter().find(|c| c.user == user).map(|c| (c.utc_offset_min, c.symptom_episodes));
        println!("{user} {t:?} symptoms by weekday {by_wd:?} all records {all_wd:?}");
    }
}

/// With ten times the data, the engine's estimate of each planted rate effect should sit near
/// the planted relative risk (a bias check of simulator truth against engine exposure).
#[test]
#[ignore = "diagnostic"]
fn long_run_estimates_match_planted() {
    let (records, truth) = cohort(&Config { children: 40, days: 280, seed: 7, ..Config::default() });
    let reports = reports(&records);
    for child in &truth.children {
        let Some(r) = reports.get(&child.user) else { continue };
        for e in &child.effects {
            let key = format!("{}:{}", e.kind, e.subject);
            if let Some(c) = r.candidates.iter().find(|c| c.key == key) {
                println!("BIAS {key:32} planted {:.2} estimated {:.2} [{:.2}, {:?}] ep {}", e.relative_risk, c.effect, c.ci_low, c.ci_high, e.exposed_episodes);
            }
        }
    }
}

/// How big one child's saved state is (it is written every third turn).
#[test]
#[ignore = "diagnostic"]
fn saved_state_size() {
    let (records, _) = cohort(&Config { children: 1, days: 28, seed: 3, ..Config::default() });
    let mut engine = migru_core::patterns::Engine::default();
    for (i, r) in records.iter().enumerate() {
        engine.observe_stored(i as i64 + 1, r);
    }
    let saved = migru_core::patterns::encode(&engine).expect("encode");
    let t = std::time::Instant::now();
    for _ in 0..20 {
        std::hint::black_box(migru_core::patterns::encode(&engine).expect("encode"));
    }
    println!("STATE bytes {} encode {:?} each", saved.state.len(), t.elapsed() / 20);
}

/// What an uncached Boschloo p-value costs (relief candidates; memoised by their counts).
#[test]
#[ignore = "diagnostic"]
fn boschloo_cost() {
    let t = std::time::Instant::now();
    let mut calls = 0u32;
    for n1 in 4..16u64 {
        for n2 in [8u64, 16, 24] {
            std::hint::black_box(migru_core::patterns::stats::boschloo_upper_tail(n1 / 2 + 1, n1, n2 / 3, n2));
            calls += 1;
        }
    }
    println!("BOSCHLOO {calls} uncached calls, {:?} each", t.elapsed() / calls);
}
