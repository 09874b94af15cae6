#!/usr/bin/env python3
"""The same event stream through Pathway (the engine the seed used) and through Migru's Rust
pattern engine: time-of-day counts, symptoms joined to the pressure reading of their hour, and
the 0-2 h activity -> symptom interval join. Prints both throughputs and the ratio.

Usage (see README.md):
    migru simulate --children 200 --days 28 --seed 1 --out /tmp/cohort.jsonl
    python pathway_bench.py /tmp/cohort.jsonl --migru target/release/migru
"""

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime

import pathway as pw


class Event(pw.Schema):
    ts: str
    kind: str
    user: str
    # Most lines lack these keys: without a default Pathway drops every such line (the earlier
    # version of this script parsed 0 rows because of that).
    pressure_hpa: float | None = pw.column_definition(default_value=None)
    category: str | None = pw.column_definition(default_value=None)


def tod(local_hour: int) -> str:
    if 5 <= local_hour < 12:
        return "morning"
    if 12 <= local_hour < 18:
        return "afternoon"
    if 18 <= local_hour < 23:
        return "evening"
    return "night"


def run_pathway(path: str) -> tuple[float, dict]:
    started = time.perf_counter()
    events = pw.io.jsonlines.read(path, schema=Event, mode="static")
    events = events.select(
        *pw.this,
        # The child's local clock is in the RFC 3339 string itself.
        local_hour=pw.apply_with_type(lambda ts: int(ts[11:13]), int, pw.this.ts),
        t=pw.apply_with_type(lambda ts: datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp(), float, pw.this.ts),
    )
    events = events.select(*pw.this, hour=pw.apply_with_type(lambda t: int(t // 3600), int, pw.this.t))
    symptoms = events.filter(pw.this.kind == "symptom")
    env = events.filter((pw.this.kind == "env") & pw.this.pressure_hpa.is_not_none()).select(
        pw.this.user, pw.this.hour, pressure_hpa=pw.unwrap(pw.this.pressure_hpa)
    )
    activities = events.filter(pw.this.kind == "activity")

    # 1. Time of day.
    by_tod = symptoms.select(pw.this.user, tod=pw.apply(tod, pw.this.local_hour)).groupby(pw.this.user, pw.this.tod).reduce(
        pw.this.user, pw.this.tod, n=pw.reducers.count()
    )
    # 2. Pressure: each symptom with its hour's reading; exposure hours per child.
    joined = symptoms.join(env, symptoms.user == env.user, symptoms.hour == env.hour).select(
        symptoms.user, low=env.pressure_hpa < 1010.0
    )
    low_symptoms = joined.groupby(pw.this.user, pw.this.low).reduce(pw.this.user, pw.this.low, n=pw.reducers.count())
    low_hours = env.select(pw.this.user, low=pw.this.pressure_hpa < 1010.0).groupby(pw.this.user, pw.this.low).reduce(
        pw.this.user, pw.this.low, hours=pw.reducers.count()
    )
    # 3. Triggers: activity followed by a symptom within 0-2 h.
    pairs = pw.temporal.interval_join(
        symptoms, activities, symptoms.t, activities.t, pw.temporal.interval(-7200.0, 0.0), symptoms.user == activities.user
    ).select(user=symptoms.user, category=activities.category)
    triggers = pairs.groupby(pw.this.user, pw.this.category).reduce(pw.this.user, pw.this.category, n=pw.reducers.count())

    results = {}

    def collect(name):
        def on_change(key, row, time, is_addition):
            if is_addition:
                results.setdefault(name, []).append(row)
        return on_change

    for name, table in [("tod", by_tod), ("low_symptoms", low_symptoms), ("low_hours", low_hours), ("triggers", triggers)]:
        pw.io.subscribe(table, on_change=collect(name))
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    return time.perf_counter() - started, results


def run_migru(migru: str, path: str) -> dict:
    out = subprocess.run([migru, "patterns", "--replay", path, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("records")
    parser.add_argument("--migru", default="target/release/migru")
    parser.add_argument("--out", help="write the numbers as JSON here")
    args = parser.parse_args()

    with open(args.records) as f:
        n_events = sum(1 for _ in f)
    pw_seconds, results = run_pathway(args.records)
    if not results.get("tod"):
        print("Pathway produced no rows: the comparison would be meaningless", file=sys.stderr)
        return 1
    rust = run_migru(args.migru, args.records)

    total = lambda rows, key="n", where=lambda r: True: sum(r[key] for r in rows if where(r))
    summary = {
        "events": n_events,
        "pathway_seconds": round(pw_seconds, 3),
        "pathway_events_per_s": round(n_events / pw_seconds),
        "migru_seconds": rust["seconds"],
        "migru_events_per_s": rust["events_per_s"],
        "ratio_migru_over_pathway": round(rust["events_per_s"] / (n_events / pw_seconds), 1),
        "pathway_counts": {
            "symptom_records_by_time_of_day": {
                t: total(results.get("tod", []), where=lambda r, t=t: r["tod"] == t) for t in ["morning", "afternoon", "evening", "night"]
            },
            "symptom_records_in_low_pressure_hours": total(results.get("low_symptoms", []), where=lambda r: r["low"]),
            "low_pressure_hours": total(results.get("low_hours", []), key="hours", where=lambda r: r["low"]),
            "activity_symptom_pairs_within_2h": total(results.get("triggers", [])),
        },
        "migru_counts": rust["counts"],
        "note": "Pathway counts symptom records and every activity-symptom pair in 0-2 h of all hours; "
        "Migru counts episodes (3 h gap) and awake exposure minutes, so the counts differ by definition.",
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
