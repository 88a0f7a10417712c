#!/usr/bin/python3
"""Train the demo model's byte-level BPE tokenizer (8K vocabulary) and write it
as a Hugging Face tokenizer.json + tokenizer_config.json in DeepSeek's layout.

Algorithm: pre-tokenize a few MB of the training split with DeepSeek's split
regexes, count distinct words, then merge the most frequent adjacent pair
repeatedly. Pair counts are maintained incrementally (only words containing
the merged pair are revisited) with a lazy max-heap, so 8K merges over a few
hundred thousand distinct words take a couple of minutes in pure Python.
Ties between equal counts go to the lexicographically smaller pair, which
makes the result deterministic.
"""

import argparse
import collections
import heapq
import json
import os
import time

from tokenizer import BYTE_MAP, N_SPECIAL, ONIG_PATTERNS, SPECIALS, PreTokenizer


def count_words(path, max_bytes):
    pre = PreTokenizer()
    counts = collections.Counter()
    used = 0
    with open(path) as f:
        for line in f:
            text = json.loads(line)["text"]
            counts.update(pre(text))
            used += len(text.encode())
            if used >= max_bytes:
                break
    return counts, used


def train(counts, n_merges, log_every=1000):
    words = [list(w) for w in counts]
    freq = list(counts.values())
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freq[i]
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pairs.items()]
    heapq.heapify(heap)
    merges = []
    t0 = time.time()
    while len(merges) < n_merges and heap:
        c, p = heapq.heappop(heap)
        if pairs.get(p, 0) != -c or c == 0:
            continue  # stale heap entry
        merges.append(p)
        a, b = p
        ab = a + b
        changed = collections.Counter()
        for i in list(where[p]):
            w, f = words[i], freq[i]
            j, out = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(ab)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            for x, y in zip(w, w[1:]):
                changed[(x, y)] -= f
            for x, y in zip(out, out[1:]):
                changed[(x, y)] += f
                where[(x, y)].add(i)
            words[i] = out
        for q, d in changed.items():
            if d:
                pairs[q] += d
                heapq.heappush(heap, (-pairs[q], q))
        pairs.pop(p, None)
        where.pop(p, None)
        if log_every and len(merges) % log_every == 0:
            print(f"  {len(merges)} merges, {time.time() - t0:.0f} s", flush=True)
    return merges


def tokenizer_json(merges):
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for b in range(256):
        vocab[BYTE_MAP[b]] = N_SPECIAL + b
    for a, b in merges:
        vocab[a + b] = len(vocab)
    split = lambda p: {"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": False}  # noqa: E731
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, s in enumerate(SPECIALS)],
        "normalizer": {"type": "Sequence", "normalizers": []},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split(p) for p in ONIG_PATTERNS] + [
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def tokenizer_config():
    tok = lambda s: {"__type": "AddedToken", "content": s, "lstrip": False, "normalized": True,  # noqa: E731
                     "rstrip": False, "single_word": False}
    return {"add_bos_token": True, "add_eos_token": False, "bos_token": tok(SPECIALS[0]),
            "eos_token": tok(SPECIALS[1]), "pad_token": tok(SPECIALS[1]), "clean_up_tokenization_spaces": False,
            "legacy": True, "model_max_length": 4096, "unk_token": None, "tokenizer_class": "LlamaTokenizerFast"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/tmp/mneme-train/corpus/train.jsonl")
    ap.add_argument("--out", default="/tmp/mneme-train/tokenizer")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--sample-mb", type=float, default=6.0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    counts, used = count_words(a.corpus, a.sample_mb * 1e6)
    print(f"{len(counts)} distinct words from {used / 1e6:.1f} MB in {time.time() - t0:.0f} s", flush=True)
    merges = train(counts, a.vocab - N_SPECIAL - 256)
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(merges), f, ensure_ascii=False, indent=1)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(), f, ensure_ascii=False, indent=1)
    print(f"wrote {a.out} ({len(merges)} merges) in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
