#!/usr/bin/env python3
"""Alternates decode rounds of two engines that were each prefilled once (both with
--rounds-on-stdin: mneme-cli bench and tools/bench/llama-run), so that every pair of rounds meets
the machine in the same state. On a shared machine the load can change by half between one
engine's run and the next; a ratio of adjacent rounds is far steadier than a ratio of runs made
minutes apart.

    paired-rounds.py --rounds K --a "CMD" --b "CMD" --a-out A.json --b-out B.json > rounds.json

A is started and prefilled first, then B (one prefill at a time); each then decodes one untimed
round (an engine's first decode after a prefill may re-plan its graphs). Round i sends one line to each
engine, A first in even rounds and B first in odd ones, and reads back its decode rate. At the end
both engines get end of input and print their summary line, written to --a-out and --b-out.
Prints {"a": [rates], "b": [rates], "ratios": [a / b per round], "median_ratio", "min_ratio",
"max_ratio", "a_prefill", "b_prefill"}.

With --prefill-rounds each round also sends both engines a "prefill" line (each then times a prefill
of the prompt again, in the same order as the round's decodes), and the output gains "prefill":
{"a", "b", "ratios", "median_ratio", "min_ratio", "max_ratio"} over those. For short prompts: one
prefill per engine and run is a single sample taken minutes apart from the other engine's.
"""
import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time

# Between one engine's round and the other's: whatever the first left behind (spinning workers,
# written-back pages) settles first.
SETTLE_SECONDS = 0.5


def start(cmd):
    p = subprocess.Popen(shlex.split(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    if not first:
        sys.exit(f"paired-rounds: '{cmd}' ended before its prefill line (exit {p.wait()})")
    return p, json.loads(first)


def round_of(p, what="go", key="decode_tps"):
    time.sleep(SETTLE_SECONDS)
    p.stdin.write(what + "\n")
    p.stdin.flush()
    line = p.stdout.readline()
    if not line:
        sys.exit(f"paired-rounds: an engine ended during a round (exit {p.wait()})")
    return json.loads(line)[key]


def pair(a, b, a_first, what, key):
    """One round of each engine, A first when a_first; returns (A's rate, B's rate)."""
    if a_first:
        x = round_of(a, what, key)
        return x, round_of(b, what, key)
    y = round_of(b, what, key)
    return round_of(a, what, key), y


def summary(rates_a, rates_b):
    ratios = [x / y for x, y in zip(rates_a, rates_b)]
    return {"a": rates_a, "b": rates_b, "ratios": ratios, "median_ratio": statistics.median(ratios),
            "min_ratio": min(ratios), "max_ratio": max(ratios)}


def finish(p, out):
    p.stdin.close()
    rest = p.stdout.read().strip().splitlines()
    if p.wait() != 0 or not rest:
        sys.exit(f"paired-rounds: an engine failed at the end (exit {p.returncode})")
    with open(out, "w") as f:
        f.write(rest[-1] + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--a-out", required=True)
    ap.add_argument("--b-out", required=True)
    ap.add_argument("--prefill-rounds", action="store_true")
    o = ap.parse_args()
    a, a_first = start(o.a)
    b, b_first = start(o.b)
    # One untimed round each: an engine's first decode after a prefill may re-plan its graphs.
    round_of(a)
    round_of(b)
    rates_a, rates_b, prefill_a, prefill_b = [], [], [], []
    for i in range(o.rounds):
        x, y = pair(a, b, i % 2 == 0, "go", "decode_tps")
        rates_a.append(x)
        rates_b.append(y)
        note = f"[paired-rounds] round {i + 1}: {x:.1f} / {y:.1f} tokens/s"
        if o.prefill_rounds:
            x, y = pair(a, b, i % 2 == 0, "prefill", "prefill_tps")
            prefill_a.append(x)
            prefill_b.append(y)
            note += f", prefill {x:.1f} / {y:.1f}"
        print(note, file=sys.stderr)
    finish(a, o.a_out)
    finish(b, o.b_out)
    out = dict(summary(rates_a, rates_b), a_prefill=a_first["prefill_tps"], b_prefill=b_first["prefill_tps"])
    if o.prefill_rounds:
        out["prefill"] = summary(prefill_a, prefill_b)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
