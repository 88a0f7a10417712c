"""Synthetic long-context tasks built from the corpus, as DeepSeek-V4 chat turns.

A context of several Python files (each rendered with its `// file: path`
header, data.render_file) is followed by one question about a function
defined in one of them:
  where   "Which file defines `X`?"          -> the path
  params  "What are the parameters of `X`?"  -> the parameter list as written
  repeat  "Repeat function `X`."             -> the function's source
The rendering is V4's non-thinking chat format (sdk chat-format render_v4):
  <bos><｜User｜>{context}\n\n{question}<｜Assistant｜></think>{answer}<eos>
Training and evaluation both build samples here, so they use one format.
"""

import ast
import random

from data import render_file
from tokenizer import ASSISTANT, BOS, END_THINK, EOS, USER

KINDS = ("where", "params", "repeat")
QUESTIONS = {
    "where": "Which file defines `{name}`?",
    "params": "What are the parameters of `{name}`?",
    "repeat": "Repeat function `{name}`.",
}


def functions(text):
    """[(name, params_text, first_line, last_line, source)] of top-level and
    class-level functions (1-based inclusive lines)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    lines = text.split("\n")
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("__"):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            src = "\n".join(lines[first - 1:node.end_lineno])
            out.append((node.name, ast.unparse(node.args), first, node.end_lineno, src))
    return out


class TaskBuilder:
    def __init__(self, tok, docs, seed=0):
        self.tok = tok
        self.rng = random.Random(seed)
        # Python files with at least one function; the header+text token count is cached lazily.
        self.files = []
        for path, text in docs:
            if path.endswith(".py"):
                fns = functions(text)
                if fns:
                    self.files.append((path, text, fns))

    def _piece(self, path, text, max_tokens, start):
        """Whole lines from line `start` (1-based) that fit max_tokens with the
        header; (rendered text, first kept line, last kept line)."""
        lines = text.split("\n")[start - 1:]
        lo, hi = 1, len(lines)
        while lo < hi:  # largest run of lines that fits
            mid = (lo + hi + 1) // 2
            if len(self.tok.encode_plain(render_file(path, "\n".join(lines[:mid])))) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        return render_file(path, "\n".join(lines[:lo])), start, start + lo - 1

    def sample(self, context_tokens, kind=None, rng=None):
        """(token ids, answer start index, meta). The context fills about context_tokens."""
        rng = rng or self.rng
        kind = kind or rng.choice(KINDS)
        n_files = max(2, min(8, context_tokens // 160))
        per_file = context_tokens // n_files
        chosen = rng.sample(self.files, n_files)
        pieces, candidates = [], []
        for fi, (path, text, fns) in enumerate(chosen):
            # Show a stretch of the file that starts at (or just before) a random function,
            # so even short contexts contain complete definitions.
            first = max(1, rng.choice(fns)[2] - rng.randrange(0, 4))
            rendered, lo, hi = self._piece(path, text, per_file, first)
            pieces.append(rendered)
            for f in fns:
                if lo <= f[2] and f[3] <= hi and (kind != "repeat" or f[3] - f[2] <= 12):
                    candidates.append((fi, path, f))
        names = {}
        for fi, path, f in candidates:
            names.setdefault(f[0], set()).add(fi)
        candidates = [c for c in candidates if len(names[c[2][0]]) == 1]  # defined in exactly one file
        if not candidates:
            return None
        fi, path, (name, params, _, _, src) = rng.choice(candidates)
        answer = {"where": path, "params": params, "repeat": src}[kind]
        context = "\n".join(pieces)
        ids = [BOS, USER] + self.tok.encode_plain(context + "\n\n" + QUESTIONS[kind].format(name=name))
        ids += [ASSISTANT, END_THINK]
        start = len(ids)
        ids += self.tok.encode_plain(answer) + [EOS]
        return ids, start, {"kind": kind, "name": name, "answer": answer, "file": path,
                            "position": fi, "n_files": n_files}


def sample_verification_text():
    """A fixed mixed text (code + a chat turn) for the export check."""
    return ("// file: python3.11/example.py\nimport os\n\n\ndef join_all(parts, sep=', '):\n"
            "    \"\"\"Join the parts.\"\"\"\n    return sep.join(str(p) for p in parts)\n\n\n"
            "class Box:\n    def __init__(self, value):\n        self.value = value\n\n"
            "    def get(self, default=None):\n        return self.value if self.value is not None else default\n"
            "<｜User｜>Which file defines `join_all`?<｜Assistant｜></think>python3.11/example.py<｜end▁of▁sentence｜>"
            "// file: boost/demo/array.hpp\n#include <cstddef>\nnamespace demo {\ntemplate <class T, std::size_t N>\n"
            "struct array {\n    T elems[N];\n    T& operator[](std::size_t i) { return elems[i]; }\n"
            "    std::size_t size() const { return N; }\n};\n}  // namespace demo\n" * 3)
