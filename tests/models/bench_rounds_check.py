#!/usr/bin/env python3
"""`mneme-cli bench --rounds-on-stdin`, the protocol tools/bench/paired-rounds.py drives: one line
after the prefill, one per line of input (each round restored to the prompt's state, so greedy
decoding gives the same ids every time), the usual summary at end of input (no rounds at all
included), all of it JSON. A "prefill" line is answered with the rate of a prefill timed again,
and the decode rounds after it still start from the prompt's state.

    bench_rounds_check.py MNEME_CLI GOLDEN_DIR
"""
import json
import subprocess
import sys

GEN = 5


def run(cli, model, rounds, prompt, lines_in=None):
    args = [cli, "bench", "--model", model, "--threads", "2", "--prompt-tokens", str(prompt), "--gen-tokens", str(GEN),
            "--rounds-on-stdin", "--no-limits", "--json"]
    text = "go\n" * rounds if lines_in is None else "".join(f"{x}\n" for x in lines_in)
    out = subprocess.run(args, input=text, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"{model}: exit {out.returncode}: {out.stderr}")
    lines = [json.loads(line) for line in out.stdout.splitlines()]  # every line must be JSON
    return lines


def check(cli, model):
    for prompt in (1, 40):
        lines = run(cli, model, 3, prompt)
        assert len(lines) == 5, (model, lines)
        first, rounds, summary = lines[0], lines[1:4], lines[4]
        assert first["prompt_tokens"] == prompt and first["prefill_tps"] > 0, first
        assert [r["round"] for r in rounds] == [1, 2, 3], rounds
        for r in rounds:
            assert len(r["tokens"]) == GEN and r["decode_steps"] >= GEN - 1 and r["decode_tps"] > 0, r
            assert r["tokens"] == rounds[0]["tokens"], (model, prompt, rounds)
        assert summary["decode_tps"] == max(r["decode_tps"] for r in rounds), summary
        # Deterministic across processes, whatever the number of rounds.
        again = run(cli, model, 1, prompt)
        assert again[1]["tokens"] == rounds[0]["tokens"], (model, prompt, again)
    # Prefill rounds between decode rounds: answered with their own rate, the decodes unchanged.
    mixed = run(cli, model, 0, 40, ["go", "prefill", "go", "prefill", "prefill", "go"])
    assert len(mixed) == 8, (model, mixed)
    first, answers, summary = mixed[0], mixed[1:7], mixed[7]
    assert [a["round"] for a in answers] == [1, 2, 3, 4, 5, 6], answers
    decodes = [answers[i] for i in (0, 2, 5)]
    prefills = [answers[i] for i in (1, 3, 4)]
    for d in decodes:
        assert d["tokens"] == decodes[0]["tokens"] and "prefill_tps" not in d, (model, decodes)
    for p in prefills:
        assert p["prefill_tps"] > 0 and "tokens" not in p, (model, prefills)
    assert summary["prefill_tps"] == max([first["prefill_tps"]] + [p["prefill_tps"] for p in prefills]), summary
    empty = run(cli, model, 0, 8)
    assert len(empty) == 2 and empty[1]["decode_tps"] == 0 and empty[1]["decode_ms"] == 0, empty
    print(f"{model}: ok")


def main():
    cli, golden = sys.argv[1], sys.argv[2]
    for name in ("v3-tiny", "v32-tiny", "v4-tiny", "v4e-tiny"):
        check(cli, f"{golden}/{name}")


if __name__ == "__main__":
    main()
