"""Byte-level BPE tokenizer in the layout of DeepSeek's `tokenizer.json`.

The same three Split regexes as DeepSeek-V3/V4's pre-tokenizer, then GPT-2's
byte-to-unicode map, then BPE by merge rank. Python's `re` has no \\p{..}
classes, so they are expanded here from `unicodedata` into explicit ranges;
the result matches the Oniguruma/PCRE2 patterns that Mneme's C++ tokenizer
compiles, up to Unicode-version differences.
"""

import json
import re
import sys
import unicodedata

SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>",
            "<｜Assistant｜>", "<think>", "</think>"]
BOS, EOS, PAD, USER, ASSISTANT, THINK, END_THINK = range(len(SPECIALS))
N_SPECIAL = len(SPECIALS)

# The exact pattern strings of DeepSeek's tokenizer.json (Oniguruma syntax).
ONIG_PATTERNS = [
    r"\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
    "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
]


def _category_class(prefix):
    """Ranges of every code point whose general category starts with prefix."""
    out, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        hit = unicodedata.category(chr(cp)).startswith(prefix)
        if hit and start is None:
            start = cp
        if not hit and start is not None:
            out.append((start, prev))
            start = None
        prev = cp
    if start is not None:
        out.append((start, prev))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in out)


_CLASSES = None


def _python_patterns():
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = {c: _category_class(c) for c in "LMNPS"}
    c = _CLASSES
    out = []
    for p in ONIG_PATTERNS:
        # Inside a bracket expression \p{X} becomes the bare ranges; outside, a class of its own.
        q = re.sub(r"\[([^\]]*?)\\p\{(\w)\}", lambda m: "[" + m.group(1) + "\\p{" + m.group(2) + "}", p)
        for k, v in c.items():
            q = q.replace("[\\p{" + k + "}", "[" + v)
        for k, v in c.items():
            q = q.replace("\\p{" + k + "}", v if _inside_brackets(q, "\\p{" + k + "}") else "[" + v + "]")
        out.append(re.compile(q))
    return out


def _inside_brackets(q, token):
    i = q.find(token)
    depth, j = 0, 0
    while j < i:
        if q[j] == "\\":
            j += 2
            continue
        if q[j] == "[":
            depth += 1
        elif q[j] == "]" and depth:
            depth -= 1
        j += 1
    return depth > 0


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_MAP = bytes_to_unicode()
BYTE_UNMAP = {v: k for k, v in BYTE_MAP.items()}


def split_isolated(pieces, pattern):
    """Hugging Face Split(behavior=Isolated): matches and gaps both become pieces."""
    out = []
    for s in pieces:
        pos = 0
        for m in pattern.finditer(s):
            if m.start() > pos:
                out.append(s[pos:m.start()])
            if m.end() > m.start():
                out.append(m.group())
            pos = m.end()
        if pos < len(s):
            out.append(s[pos:])
    return out


class PreTokenizer:
    def __init__(self):
        self.patterns = _python_patterns()

    def __call__(self, text):
        pieces = [text]
        for p in self.patterns:
            pieces = split_isolated(pieces, p)
        return ["".join(BYTE_MAP[b] for b in s.encode("utf-8")) for s in pieces]


class Tokenizer:
    """Encoder/decoder for a tokenizer.json written by train_tokenizer.py."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        self.vocab = tj["model"]["vocab"]
        self.inv = {i: s for s, i in self.vocab.items()}
        for a in tj["added_tokens"]:
            self.inv[a["id"]] = a["content"]
        self.special = {a["content"]: a["id"] for a in tj["added_tokens"]}
        merges = tj["model"]["merges"]
        self.ranks = {tuple(m.split(" ")) if isinstance(m, str) else tuple(m): i for i, m in enumerate(merges)}
        self.pre = PreTokenizer()
        self.cache = {}
        self.special_re = re.compile("|".join(re.escape(s) for s in sorted(self.special, key=len, reverse=True)))

    def vocab_size(self):
        return max(self.inv) + 1

    def _bpe(self, word):
        ids = self.cache.get(word)
        if ids is not None:
            return ids
        syms = list(word)
        while len(syms) > 1:
            best, at = None, -1
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            syms[at:at + 2] = [syms[at] + syms[at + 1]]
        ids = [self.vocab[s] for s in syms]
        self.cache[word] = ids
        return ids

    def encode_plain(self, text):
        """Text without special-token recognition (corpus text)."""
        out = []
        for w in self.pre(text):
            out.extend(self._bpe(w))
        return out

    def encode(self, text, bos=False):
        """Text in which the special tokens are recognised, as Mneme does."""
        out = [BOS] if bos else []
        pos = 0
        for m in self.special_re.finditer(text):
            out.extend(self.encode_plain(text[pos:m.start()]))
            out.append(self.special[m.group()])
            pos = m.end()
        out.extend(self.encode_plain(text[pos:]))
        return out

    def decode(self, ids):
        parts, buf = [], []
        for i in ids:
            s = self.inv[int(i)]
            if int(i) < N_SPECIAL:
                parts.append(bytes(buf).decode("utf-8", "replace"))
                buf = []
                parts.append(s)
            else:
                buf.extend(BYTE_UNMAP[c] for c in s)
        parts.append(bytes(buf).decode("utf-8", "replace"))
        return "".join(parts)

    def token_text(self, i):
        """Decoded text of one token (used for Engram's canonical ids)."""
        return self.decode([i])
