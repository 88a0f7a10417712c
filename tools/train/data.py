"""Token data for training: corpus tokenisation, Engram rows, hash routing.

Everything a training sample needs besides the model: token ids, the Engram
row ids of each Engram layer (computed from ids alone, exactly as at
inference, ENGRAM_FORMAT §3) and the fixed token -> expert table of the
hash-routed first layer.
"""

import json
import os
import re
import unicodedata

import numpy as np

import refpath  # noqa: F401
from engram_hash import multipliers, row_ids, table_primes  # tools/reference
from tokenizer import BOS

FILE_HEADER = "// file: {path}\n"


def render_file(path, text):
    """How a source file is shown to the model, in plain and task samples alike."""
    return FILE_HEADER.format(path=path) + text


def canonical_ids(tok):
    """SPEC §5.2 tokenizer compression: NFKC → NFD → strip accents → lowercase →
    collapse whitespace runs → strip (a lone space is kept); undecodable
    tokens (U+FFFD) keep their raw string. Ids in first-occurrence order."""
    keys, canon = {}, np.zeros(tok.vocab_size(), dtype=np.int64)
    for v in range(tok.vocab_size()):
        text = tok.token_text(v)
        if "\ufffd" in text:
            key = "raw:" + tok.inv[v]
        else:
            s = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text))
            s = "".join(c for c in s if unicodedata.category(c) != "Mn").lower()
            s = re.sub(r"[ \t\r\n]+", " ", s)
            s = " " if s == " " else s.strip()
            key = s if s else text
        canon[v] = keys.setdefault(key, len(keys))
    return canon


def hash_routing(vocab, n_experts, k, seed=1):
    """tid2eid [vocab, k]: distinct experts per token, balanced by construction."""
    r = np.random.default_rng(seed)
    return np.stack([r.permutation(n_experts)[:k] for _ in range(vocab)]).astype(np.int64)


class EngramHasher:
    def __init__(self, cfg, canon):
        self.cfg = cfg
        self.canon = np.asarray(canon)
        self.layers = list(cfg.get("engram_layer_ids") or [])
        if self.layers:
            self.primes = table_primes(self.layers, cfg["engram_max_ngram_size"], cfg["engram_n_heads"],
                                       cfg["engram_vocab_size"])
            self.mults = {l: multipliers(cfg["engram_seed"], l, cfg["engram_max_ngram_size"],
                                         cfg["engram_compressed_vocab_size"]) for l in self.layers}

    def rows(self, tokens):
        """{layer: [T, (N-1)·K]} for one sequence starting at position 0."""
        c = self.cfg
        return {l: row_ids(tokens, self.canon, c["engram_pad_token_id"], self.mults[l], self.primes[l],
                           c["engram_max_ngram_size"], c["engram_n_heads"]) for l in self.layers}

    def batch(self, token_batch):
        per = [self.rows(t) for t in token_batch]
        return {l: np.stack([p[l] for p in per]) for l in self.layers}


def engram_rows_for(cfg, canon, tokens):
    return EngramHasher(cfg, canon).rows(tokens)


def read_docs(path, max_bytes=None):
    docs, used = [], 0
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            docs.append((d["path"], d["text"]))
            used += len(d["text"].encode())
            if max_bytes and used >= max_bytes:
                break
    return docs


def tokenize_stream(tok, docs):
    """One token stream: BOS + rendered file, for each file; plus the byte count."""
    out, n_bytes = [], 0
    for path, text in docs:
        out.append(BOS)
        s = render_file(path, text)
        out.extend(tok.encode_plain(s))
        n_bytes += len(s.encode())
    return np.asarray(out, dtype=np.int32), n_bytes


def cached_stream(tok, corpus_jsonl, cache, max_bytes):
    if os.path.exists(cache):
        z = np.load(cache)
        return z["ids"], int(z["bytes"])
    ids, n_bytes = tokenize_stream(tok, read_docs(corpus_jsonl, max_bytes))
    np.savez(cache, ids=ids, bytes=n_bytes)
    return ids, n_bytes
