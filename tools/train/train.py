#!/usr/bin/python3
"""Train the demo model on CPU within a wall-clock budget.

    train.py --out RUN_DIR --time-budget 3000 [--threads 2] [--seed 0]

Recipe: AdamW, linear warm-up then cosine decay driven by the fraction of the
time budget used (so a fixed budget always completes its schedule), a
context-length curriculum (256 → 512 → 1024 by budget fraction), a mix of
plain code continuation and synthetic long-context chat tasks (tasks.py),
and quantisation-aware training (model.qat: FP8/FP4 storage and activation
round trips with straight-through gradients) for the final part. Router
biases of the top-k MoE layers follow DeepSeek's auxiliary-loss-free
balancing (bias += γ·sign(mean load − load)). Data order and initialisation
are seeded; the number of steps depends on machine speed.
"""

import argparse
import json
import math
import os
import random
import time

# One BLAS/OpenMP thread unless told otherwise: on a small shared machine,
# oversubscribed spinning threads made steps 5-10x slower than one thread.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import torch
import torch.nn.functional as F

import data
import tasks
from config import make_config
from model import V4
from tokenizer import EOS, Tokenizer


def load_model(path):
    state = torch.load(path)
    model = V4(state["cfg"], state["tid2eid"], state["canonical_ids"])
    model.load_state_dict(state["model"], strict=False)
    return model


def save_model(model, path):
    torch.save({"cfg": model.cfg, "tid2eid": model.tid2eid.numpy(), "canonical_ids": model.canonical_ids.numpy(),
                "model": model.state_dict()}, path + ".tmp")
    os.replace(path + ".tmp", path)


def build_model(tok, seed, **overrides):
    canon = data.canonical_ids(tok)
    cfg = make_config(int(canon.max()) + 1, **overrides)
    tid2eid = data.hash_routing(cfg["vocab_size"], cfg["n_routed_experts"], cfg["num_experts_per_tok"])
    torch.manual_seed(seed)
    return V4(cfg, tid2eid, canon, seed=seed)


class Batches:
    """Samples of length T+1: windows of the token stream, or task turns padded with EOS (masked)."""

    def __init__(self, stream, builder, hasher, seed):
        self.stream, self.builder, self.hasher = stream, builder, hasher
        self.rng = random.Random(seed)

    def get(self, batch, t, task_frac):
        toks = np.full((batch, t + 1), EOS, dtype=np.int64)
        weight = np.zeros((batch, t), dtype=np.float32)
        n_task = 0
        for b in range(batch):
            s = None
            if self.builder is not None and self.rng.random() < task_frac:
                for _ in range(4):
                    s = self.builder.sample(t - 100, rng=self.rng)
                    if s is not None and len(s[0]) <= t + 1:
                        break
                    s = None
            if s is not None:
                ids = s[0]
                toks[b, :len(ids)] = ids
                weight[b, :len(ids) - 1] = 1.0
                n_task += 1
            else:
                o = self.rng.randrange(0, len(self.stream) - t - 1)
                toks[b] = self.stream[o:o + t + 1]
                weight[b] = 1.0
        rows = self.hasher.batch(toks[:, :t])
        return (torch.from_numpy(toks[:, :t]), torch.from_numpy(toks[:, 1:]), torch.from_numpy(weight),
                {l: torch.from_numpy(r) for l, r in rows.items()}, n_task)


def param_groups(model, lr, wd):
    decay, no_decay, tables = [], [], []
    for name, p in model.named().items():
        if not p.requires_grad:
            continue
        kind = model.kinds[name]
        if kind == "table" or name in ("embed.weight",):
            tables.append(p)
        elif p.ndim == 2 and kind in ("fp8", "fp4", "bf16"):
            decay.append(p)
        else:
            no_decay.append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0},
            {"params": tables, "weight_decay": 0.0}]


def curriculum(frac, phases):
    for t, end in phases:
        if frac < end:
            return t
    return phases[-1][0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/mneme-train")
    ap.add_argument("--out", required=True)
    ap.add_argument("--time-budget", type=float, required=True, help="seconds of training")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--curriculum", default="256:0.35,512:0.75,1024:1.0",
                    help="context length : end of its phase as a fraction of the budget")
    ap.add_argument("--qat-from", type=float, default=0.8, help="budget fraction where QAT starts")
    ap.add_argument("--task-frac", type=float, default=0.3)
    ap.add_argument("--train-mb", type=float, default=24.0, help="training text tokenised up front")
    ap.add_argument("--override", default="{}", help="JSON config overrides (for small test runs)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    tok = Tokenizer(os.path.join(a.work, "tokenizer", "tokenizer.json"))
    t0 = time.time()
    stream, n_bytes = data.cached_stream(tok, os.path.join(a.work, "corpus", "train.jsonl"),
                                         os.path.join(a.work, f"train-{a.train_mb:g}MB.npz"), a.train_mb * 1e6)
    print(f"stream: {len(stream)} tokens from {n_bytes / 1e6:.1f} MB ({n_bytes / len(stream):.2f} B/token),"
          f" {time.time() - t0:.0f} s", flush=True)
    # Tasks draw on every Python file of the training split (not only the tokenised prefix).
    docs = [d for d in data.read_docs(os.path.join(a.work, "corpus", "train.jsonl")) if d[0].endswith(".py")]
    builder = tasks.TaskBuilder(tok, docs, seed=a.seed) if a.task_frac > 0 else None
    model = build_model(tok, a.seed, **json.loads(a.override))
    cfg = model.cfg
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters", flush=True)
    hasher = data.EngramHasher(cfg, model.canonical_ids.numpy())
    batches = Batches(stream, builder, hasher, a.seed)
    opt = torch.optim.AdamW(param_groups(model, a.lr, a.wd), lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    phases = [(int(x.split(":")[0]), float(x.split(":")[1])) for x in a.curriculum.split(",")]
    log = open(os.path.join(a.out, "train_log.jsonl"), "w")
    start = time.time()
    step, seen, last_save = 0, 0, start
    model.train()
    while True:
        frac = (time.time() - start) / a.time_budget
        if frac >= 1.0:
            break
        t = curriculum(frac, phases)
        model.qat = frac >= a.qat_from
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y, w, rows, n_task = batches.get(max(1, a.batch_tokens // t), t, a.task_frac)
        logits, aux = model(x, rows)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
        loss = (ce * w.reshape(-1)).sum() / w.sum()
        kl = torch.stack(aux["index_kl"]).mean() if aux.get("index_kl") else torch.zeros(())
        opt.zero_grad(set_to_none=True)
        (loss + kl).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():  # auxiliary-loss-free balancing of the top-k routers
            for p, load in aux.get("load", {}).items():
                b = model.raw(p + "gate.bias")
                b += 1e-3 * torch.sign(load.float().mean() - load.float())
        step += 1
        seen += int(w.sum())
        rec = {"step": step, "time": round(time.time() - start, 1), "tokens": seen, "t": t, "qat": model.qat,
               "lr": lr, "loss": round(loss.item(), 4), "index_kl": round(kl.item(), 4), "tasks": n_task}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if step % 10 == 0 or step == 1:
            print(rec, flush=True)
        if time.time() - last_save > 600:
            save_model(model, os.path.join(a.out, "model.pt"))
            last_save = time.time()
    save_model(model, os.path.join(a.out, "model.pt"))
    summary = {"steps": step, "tokens": seen, "seconds": round(time.time() - start), "parameters": n_params,
               "final_loss": rec["loss"] if step else None, "args": vars(a)}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(summary, flush=True)


if __name__ == "__main__":
    main()
