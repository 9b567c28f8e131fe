"""bench/compare.py ON.jsonl OFF.jsonl: the access ledger's cost, as a
Markdown table comparing the figures of a run with the ledger on and one
with it off (issue 6: "within 5% of the same run with it off").
Prints the table; exits 0 (a gap is reported, not a failure: timing on a
shared machine is noisy)."""
import json
import sys

# (scenario, metric, higher is better)
FIGURES = [
    ("send", "events_per_s", True),
    ("send", "p99_ms", False),
    ("fanout", "p50_ms", False),
    ("fanout", "p99_ms", False),
    ("initial-sync", "p50_ms", False),
]


def load(path):
    runs = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                runs[row.get("scenario")] = row
    return runs


def main(on_path, off_path):
    on, off = load(on_path), load(off_path)
    print("\n## Access ledger on vs off\n")
    print("| scenario | metric | ledger on | ledger off | cost |")
    print("| --- | --- | --- | --- | --- |")
    for scenario, metric, higher_better in FIGURES:
        if on.get(scenario, {}).get("errors") or off.get(scenario, {}).get("errors"):
            # a partial run is no baseline: say so rather than print a ratio
            print(f"| {scenario} | {metric} | | | not compared: the scenario had errors |")
            continue
        a = on.get(scenario, {}).get(metric)
        b = off.get(scenario, {}).get(metric)
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b == 0:
            continue
        cost = (b - a) / b if higher_better else (a - b) / b
        print(f"| {scenario} | {metric} | {a} | {b} | {cost * 100:+.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
