"""Engram n-gram hashing: multipliers, table primes and row ids.

ENGRAM_FORMAT.md §3 (the official demo's rule). All arithmetic is int64 and
exact; the products s·m cannot overflow by the choice of `half`.
"""

import numpy as np

INT64_MAX = (1 << 63) - 1


def multipliers(seed, layer_id, n_max, compressed_vocab):
    """Odd multipliers m_0..m_{N-1} of one Engram layer (the layer id itself,
    not its position in engram_layer_ids), from numpy's PCG64 generator."""
    half = max(1, (INT64_MAX // compressed_vocab) // 2)
    rng = np.random.default_rng(seed + 10007 * layer_id)
    return rng.integers(0, half, n_max, dtype=np.int64) * 2 + 1


def _is_prime(n):
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def table_primes(layer_ids, n_max, n_heads, vocab_sizes):
    """{layer_id: [p_(n,j) for n = 2..N for j = 0..K-1]}.

    Walk layers in engram_layer_ids order, then orders, then heads; each takes
    the smallest prime strictly greater than `start` not used before, where
    start = vocab_size[n-2] - 1 for the first head and the previous prime
    after that. vocab_sizes may be one int for every order.
    """
    if isinstance(vocab_sizes, int):
        vocab_sizes = [vocab_sizes] * (n_max - 1)
    used, out = set(), {}
    for layer in layer_ids:
        primes = []
        for n in range(2, n_max + 1):
            start = vocab_sizes[n - 2] - 1
            for _ in range(n_heads):
                p = start + 1
                while not _is_prime(p) or p in used:
                    p += 1
                used.add(p)
                primes.append(p)
                start = p
        out[layer] = primes
    return out


def offsets(primes):
    """Exclusive prefix sum: first row of each (n, j) sub-table."""
    return np.concatenate([[0], np.cumsum(primes)[:-1]]).astype(np.int64)


def row_ids(tokens, canonical_ids, pad_token_id, mults, primes, n_max, n_heads):
    """Global table rows [T, (N-1)·K] for one layer, columns in (n, j) order.

    History s_k(t) is the canonical id of token t-k, or the canonical pad id
    before the sequence start; h_1 = s_0·m_0, h_n = h_{n-1} XOR s_{n-1}·m_{n-1}.
    """
    canon = np.asarray(canonical_ids, dtype=np.int64)[np.asarray(tokens, dtype=np.int64)]
    pad = np.int64(canonical_ids[pad_token_id])
    t = canon.size
    hist = np.full((n_max, t), pad, dtype=np.int64)
    for k in range(n_max):
        hist[k, k:] = canon[:t - k] if k else canon
    h = hist[0] * mults[0]
    off = offsets(primes)
    cols = []
    for n in range(2, n_max + 1):
        h = np.bitwise_xor(h, hist[n - 1] * mults[n - 1])
        for j in range(n_heads):
            c = (n - 2) * n_heads + j
            cols.append(np.mod(h, primes[c]) + off[c])
    return np.stack(cols, axis=1)
