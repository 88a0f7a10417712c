"""PyTorch DeepSeek-V4 (+ Engram) for training the demo model.

Same architecture and semantics as tools/reference/model_v4.py (SPEC §4.3,
§5, §6.5-6.6; FORMATS §5.6; ENGRAM_FORMAT §3-4), batched and differentiable:

  * parameters are keyed by their checkpoint tensor names, so export is a
    rename-free walk over `named()`;
  * `qat=True` switches on every deliberate round trip of the inference
    semantics (FP8/FP4/BF16 weight storage, FP8 activations before quantised
    linears, FP8 KV entries, FP4 indexer q/k) with straight-through
    gradients. Evaluated in float64 with qat on, the logits equal the
    reference's on the exported checkpoint;
  * the indexer's top-k is a hard, non-differentiable selection, exactly as
    at inference. The indexer learns from a separate KL loss toward the main
    attention's distribution over compressed blocks, on detached inputs (the
    DSA recipe), returned as `aux["index_kl"]`.
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import quant
from refpath import numerics  # tools/reference

FP8_LINEARS = ("wq_a", "wq_b", "wkv", "wo_a", "wo_b")


def hadamard_matrix(n, dtype):
    return torch.tensor(numerics.hadamard_matrix(n) * n ** -0.5, dtype=dtype)


def inv_freq_for(cfg, ratio):
    rope = cfg["qk_rope_head_dim"]
    if ratio == 0:
        return numerics.rope_inv_freq(rope, cfg["rope_theta"])
    rs = cfg["rope_scaling"]
    return numerics.yarn_inv_freq(rope, cfg["compress_rope_theta"], rs["factor"],
                                  rs["original_max_position_embeddings"], rs["beta_fast"], rs["beta_slow"])


def rope_tail(x, cos, sin):
    """Interleaved RoPE on the last 2·cos.shape[-1] dims. x [..., T, (heads,) d];
    cos/sin broadcastable to [..., T, (1,) R/2]."""
    r2 = cos.shape[-1]
    head, tail = x[..., :-2 * r2], x[..., -2 * r2:]
    a, b = tail[..., 0::2], tail[..., 1::2]
    rot = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)
    return torch.cat([head, rot], dim=-1)


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class V4(nn.Module):
    def __init__(self, cfg, tid2eid, canonical_ids, seed=0):
        super().__init__()
        self.cfg = cfg
        self.qat = False
        self.params = nn.ParameterDict()
        self.kinds = {}  # name -> storage kind: fp8, fp4, bf16, f32, table
        g = torch.Generator().manual_seed(seed)
        d, hc, v = cfg["hidden_size"], cfg["hc_mult"], cfg["vocab_size"]
        n_layers = cfg["num_hidden_layers"]
        self.register_buffer("tid2eid", torch.as_tensor(tid2eid, dtype=torch.long), persistent=False)
        self.register_buffer("canonical_ids", torch.as_tensor(canonical_ids, dtype=torch.long), persistent=False)

        def add(name, shape, kind, std=None, value=None):
            if value is not None:
                t = torch.as_tensor(value, dtype=torch.float32).clone().reshape(shape)
            else:
                t = torch.randn(*shape, generator=g) * std
            self.params[name.replace(".", "|")] = nn.Parameter(t)
            self.kinds[name] = kind

        def linear(name, o, i, kind="fp8", gain=1.0):
            add(name + ".weight", (o, i), kind, std=gain / math.sqrt(i))

        def norm(name, n):
            add(name, (n,), "bf16", value=torch.ones(n))

        def hc_site(p):
            n_mix = (2 + hc) * hc
            add(p + "_fn", (n_mix, hc * d), "f32", std=0.1 / math.sqrt(hc * d))
            base = np.concatenate([np.full(hc, math.log(1 / (hc - 1))), np.zeros(hc),
                                   (3.0 * np.eye(hc)).ravel()])
            add(p + "_base", (n_mix,), "f32", value=base)
            add(p + "_scale", (3,), "f32", value=np.ones(3))

        def compressor(p, ratio, width):
            c = 2 if ratio == 4 else 1
            add(p + "ape", (ratio, c * width), "f32", value=np.zeros((ratio, c * width)))
            linear(p + "wkv", c * width, d, "bf16")
            linear(p + "wgate", c * width, d, "bf16", gain=0.5)
            norm(p + "norm.weight", width)

        h, hd = cfg["num_attention_heads"], cfg["head_dim"]
        q_lora, og, o_lora = cfg["q_lora_rank"], cfg["o_groups"], cfg["o_lora_rank"]
        e, inter = cfg["n_routed_experts"], cfg["moe_intermediate_size"]
        out_gain = 1.0 / math.sqrt(2 * n_layers)
        add("embed.weight", (v, d), "bf16", std=1.0)
        add("head.weight", (v, d), "bf16", std=1.0 / math.sqrt(d))
        norm("norm.weight", d)
        add("hc_head_fn", (hc, hc * d), "f32", std=0.1 / math.sqrt(hc * d))
        add("hc_head_base", (hc,), "f32", value=np.full(hc, math.log(1 / (hc - 1))))
        add("hc_head_scale", (1,), "f32", value=np.ones(1))
        for i in range(n_layers):
            p = f"layers.{i}."
            ratio = cfg["compress_ratios"][i]
            norm(p + "attn_norm.weight", d)
            norm(p + "ffn_norm.weight", d)
            hc_site(p + "hc_attn")
            hc_site(p + "hc_ffn")
            a = p + "attn."
            linear(a + "wq_a", q_lora, d)
            norm(a + "q_norm.weight", q_lora)
            linear(a + "wq_b", h * hd, q_lora)
            linear(a + "wkv", hd, d)
            norm(a + "kv_norm.weight", hd)
            linear(a + "wo_a", og * o_lora, h * hd // og)
            linear(a + "wo_b", d, og * o_lora, gain=out_gain)
            add(a + "attn_sink", (h,), "f32", value=np.zeros(h))
            if ratio > 0:
                compressor(a + "compressor.", ratio, hd)
            if ratio == 4:
                hi, di = cfg["index_n_heads"], cfg["index_head_dim"]
                linear(a + "indexer.wq_b", hi * di, q_lora)
                linear(a + "indexer.weights_proj", hi, d, "bf16")
                compressor(a + "indexer.compressor.", 4, di)
            f = p + "ffn."
            linear(f + "gate", e, d, "bf16")
            if i >= cfg["num_hash_layers"]:
                add(f + "gate.bias", (e,), "f32", value=np.zeros(e))
                self.kinds[f + "gate.bias"] = "bias"  # updated by load balancing, not by gradients
            for j in range(e):
                q = f"{f}experts.{j}."
                linear(q + "w1", inter, d, "fp4")
                linear(q + "w3", inter, d, "fp4")
                linear(q + "w2", d, inter, "fp4", gain=out_gain)
            s = f + "shared_experts."
            linear(s + "w1", inter, d)
            linear(s + "w3", inter, d)
            linear(s + "w2", d, inter, gain=out_gain)
        self.engram_layers = list(cfg.get("engram_layer_ids") or [])
        if self.engram_layers:
            n_max, k, de = cfg["engram_max_ngram_size"], cfg["engram_n_heads"], cfg["engram_head_dim"]
            width = (n_max - 1) * k * de
            for li, layer in enumerate(self.engram_layers):
                p = f"layers.{layer}.engram."
                add(p + "embed.weight", (cfg["engram_num_embeddings"][li], de), "table", std=1.0)
                linear(p + "wkv", (hc + 1) * d, width, gain=0.5)
                add(p + "q_weight", (hc, d), "bf16", value=torch.ones(hc, d))
                add(p + "k_weight", (hc, d), "bf16", value=torch.ones(hc, d))
        self.bias_names = [n for n, k in self.kinds.items() if k == "bias"]
        for n in self.bias_names:
            self.params[n.replace(".", "|")].requires_grad_(False)
        self._rope_cache = {}

    # ------------------------------------------------------------------ helpers
    def named(self):
        return {n.replace("|", "."): p for n, p in self.params.items()}

    def raw(self, name):
        return self.params[name.replace(".", "|")]

    def w(self, name):
        """A weight as the inference path sees it (its storage round trip under qat)."""
        p = self.raw(name)
        if not self.qat:
            return p
        kind = self.kinds[name]
        if kind == "fp8":
            return quant.fp8_weight(p, 128)
        if kind == "fp4":
            return quant.fp4_weight(p, 32)
        if kind == "bf16":
            return quant.bf16(p)
        if kind == "table":
            return quant.fp8_rows(p, 32)
        return p

    def lin(self, x, prefix, act_quant=True):
        """x @ W^T; FP8/FP4 weights quantise their input first (ue8m0, per 128)."""
        name = prefix + ".weight"
        if self.qat and act_quant and self.kinds[name] in ("fp8", "fp4"):
            x = quant.fp8_act(x, 128)
        return x @ self.w(name).t()

    def rope(self, ratio, positions, dtype):
        key = (ratio, tuple(positions.shape), int(positions[0]), int(positions[-1]), dtype)
        if key not in self._rope_cache:
            ang = numerics.rope_angles(positions.numpy(), inv_freq_for(self.cfg, ratio))
            self._rope_cache[key] = (torch.tensor(np.cos(ang), dtype=dtype), torch.tensor(np.sin(ang), dtype=dtype))
        return self._rope_cache[key]

    def kv_rt(self, x):
        """QAT round trip of stored KV entries: FP8 block 64 on the non-rope dims."""
        if not self.qat:
            return x
        r = self.cfg["qk_rope_head_dim"]
        return torch.cat([quant.fp8_act(x[..., :-r], 64), x[..., -r:]], dim=-1)

    # ------------------------------------------------------------------ blocks
    def hc_coeffs(self, x, p):
        cfg = self.cfg
        n = x.shape[2]
        v = x.flatten(2)
        m = (v @ self.raw(p + "_fn").t()) * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"])
        scale, base = self.raw(p + "_scale"), self.raw(p + "_base")
        eps = cfg["hc_eps"]
        pre = torch.sigmoid(m[..., :n] * scale[0] + base[:n]) + eps
        post = 2.0 * torch.sigmoid(m[..., n:2 * n] * scale[1] + base[n:2 * n])
        c = (m[..., 2 * n:] * scale[2] + base[2 * n:]).unflatten(-1, (n, n))
        c = torch.softmax(c, -1) + eps
        c = c / (c.sum(-2, keepdim=True) + eps)
        for _ in range(cfg["hc_sinkhorn_iters"] - 1):
            c = c / (c.sum(-1, keepdim=True) + eps)
            c = c / (c.sum(-2, keepdim=True) + eps)
        return pre, post, c

    def site(self, x, p, norm, fn):
        pre, post, comb = self.hc_coeffs(x, p)
        y = torch.einsum("btn,btnd->btd", pre, x)
        z = fn(rms(y, self.w(norm), self.cfg["rms_norm_eps"]))
        return post.unsqueeze(-1) * z.unsqueeze(2) + torch.einsum("btij,btid->btjd", comb, x)

    def pool(self, p, x, ratio, width):
        """Compressed entries [B, T//ratio, width] of the complete blocks (normalised, unrotated)."""
        b_, t, _ = x.shape
        nb = t // ratio
        a = x[:, :nb * ratio] @ self.w(p + "wkv.weight").t()
        s = x[:, :nb * ratio] @ self.w(p + "wgate.weight").t()
        s = s + self.raw(p + "ape").repeat(nb, 1)
        a = a.view(b_, nb, ratio, -1)
        s = s.view(b_, nb, ratio, -1)
        if ratio == 4:
            # Overlap: block j pools the first half of block j-1 with the second half of block j.
            prev_a = F.pad(a[:, :-1, :, :width], (0, 0, 0, 0, 1, 0))
            prev_s = F.pad(s[:, :-1, :, :width], (0, 0, 0, 0, 1, 0), value=float("-inf"))
            a = torch.cat([prev_a, a[..., width:]], dim=2)
            s = torch.cat([prev_s, s[..., width:]], dim=2)
        out = (a * torch.softmax(s, dim=2)).sum(2)
        return rms(out, self.w(p + "norm.weight"), self.cfg["rms_norm_eps"])

    def indexer(self, p, x, qr, t_cs, b_cs, scores_main=None):
        """Selected-block mask [B, T, nb] (hard top-k) and the indexer's KL loss."""
        cfg = self.cfg
        hi, di = cfg["index_n_heads"], cfg["index_head_dim"]
        b_, t, _ = x.shape
        nb = t // 4
        x, qr = x.detach(), qr.detach()  # the indexer trains on detached inputs (DSA)
        q = self.lin(qr, p + "wq_b").view(b_, t, hi, di)
        q = rope_tail(q, t_cs[0][:, None], t_cs[1][:, None])
        k = rope_tail(self.pool(p + "compressor.", x, 4, di), *b_cs)
        if self.qat:
            hm = hadamard_matrix(di, x.dtype)
            q = quant.fp4_act(q @ hm, 32)
            k = quant.fp4_act(k @ hm, 32)
        w = self.lin(x, p + "weights_proj") * (di ** -0.5 * hi ** -0.5)
        scores = torch.einsum("bth,bthj->btj", w, F.relu(torch.einsum("bthd,bjd->bthj", q, k)))
        done = (torch.arange(t)[:, None] + 1) // 4 > torch.arange(nb)[None, :]
        scores = scores.masked_fill(~done, float("-inf"))
        k_sel = min(cfg["index_topk"], nb)
        with torch.no_grad():
            order = torch.sort(-scores.detach(), dim=-1, stable=True).indices[..., :k_sel]
            chosen = torch.zeros(b_, t, nb, dtype=torch.bool).scatter_(-1, order, True) & done
        kl = None
        if scores_main is not None and self.training:
            rows = done.any(-1)
            target = scores_main.detach()
            logp = torch.log_softmax(scores[:, rows], -1)
            tgt = target[:, rows]
            kl = (tgt * (torch.log(tgt.clamp_min(1e-12)) - logp.masked_fill(~done[rows], 0.0))).sum(-1).mean()
        return chosen, kl

    def attention(self, p, x, ratio, aux):
        cfg = self.cfg
        eps = cfg["rms_norm_eps"]
        h, hd = cfg["num_attention_heads"], cfg["head_dim"]
        og, o_lora, win = cfg["o_groups"], cfg["o_lora_rank"], cfg["sliding_window"]
        b_, t, _ = x.shape
        pos = torch.arange(t)
        cos, sin = self.rope(ratio, pos, x.dtype)
        qr = rms(self.lin(x, p + "wq_a"), self.w(p + "q_norm.weight"), eps)
        q = self.lin(qr, p + "wq_b").view(b_, t, h, hd)
        q = q * torch.rsqrt(q.pow(2).mean(-1, keepdim=True) + eps)
        q = rope_tail(q, cos[:, None], sin[:, None])
        kv = rms(self.lin(x, p + "wkv"), self.w(p + "kv_norm.weight"), eps)
        kv = self.kv_rt(rope_tail(kv, cos, sin))
        scale = hd ** -0.5

        # Window part, blocked by the window size: query chunk c sees key chunks c-1 and c.
        tp = -(-t // win) * win
        nc = tp // win
        qp = F.pad(q, (0, 0, 0, 0, 0, tp - t)).view(b_, nc, win, h, hd)
        kp = F.pad(kv, (0, 0, win, tp - t)).view(b_, nc + 1, win, hd)
        keys2 = torch.cat([kp[:, :-1], kp[:, 1:]], dim=2)  # [B, nc, 2W, hd]
        s_win = torch.einsum("bcwhd,bckd->bhcwk", qp, keys2) * scale
        qpos = torch.arange(tp).view(nc, win, 1)
        kpos = (torch.arange(nc)[:, None] * win - win + torch.arange(2 * win)[None, :]).view(nc, 1, 2 * win)
        allowed = (kpos <= qpos) & (kpos > qpos - win) & (kpos >= 0)
        s_win = s_win.masked_fill(~allowed, float("-inf")).flatten(2, 3)[:, :, :t]  # [B, H, T, 2W]
        parts = [s_win]
        if ratio > 0 and t // ratio:  # shorter sequences have no complete block yet
            nb = t // ratio
            b_pos = torch.arange(nb) * ratio
            bcos, bsin = self.rope(ratio, b_pos, x.dtype)
            ck = self.kv_rt(rope_tail(self.pool(p + "compressor.", x, ratio, hd), bcos, bsin))
            s_c = torch.einsum("bthd,bjd->bhtj", q, ck) * scale
            visible = (pos[:, None] + 1) // ratio > torch.arange(nb)[None, :]
            if ratio == 4:
                main = None
                if self.training:
                    with torch.no_grad():
                        pm = torch.softmax(s_c.masked_fill(~visible, float("-inf")), -1).nan_to_num(0.0)
                        main = pm.mean(1)  # heads averaged: [B, T, nb]
                chosen, kl = self.indexer(p + "indexer.", x, qr, (cos, sin), (bcos, bsin), main)
                if kl is not None:
                    aux.setdefault("index_kl", []).append(kl)
                visible = visible & chosen
                s_c = s_c.masked_fill(~visible[:, None], float("-inf"))
            else:
                s_c = s_c.masked_fill(~visible, float("-inf"))
            parts.append(s_c)
        sink = self.raw(p + "attn_sink").view(1, h, 1, 1).expand(b_, h, t, 1)
        prob = torch.softmax(torch.cat(parts + [sink], dim=-1), dim=-1)
        pw = prob[..., :2 * win].view(b_, h, t, 2 * win)
        pw = F.pad(pw, (0, 0, 0, tp - t)).view(b_, h, nc, win, 2 * win)
        o = torch.einsum("bhcwk,bckd->bcwhd", pw, keys2).reshape(b_, tp, h, hd)[:, :t]
        if ratio > 0 and t // ratio:
            o = o + torch.einsum("bhtj,bjd->bthd", prob[..., 2 * win:-1], ck)
        o = rope_tail(o, cos[:, None], -sin[:, None])  # inverse rotation at the query position
        wo_a = self.w(p + "wo_a.weight").view(og, o_lora, h * hd // og)
        low = torch.einsum("btgi,goi->btgo", o.reshape(b_, t, og, h * hd // og), wo_a).reshape(b_, t, og * o_lora)
        return self.lin(low, p + "wo_b")

    def swiglu(self, x, p, weight=None):
        limit = self.cfg.get("swiglu_limit", 0.0)
        gate = self.lin(x, p + "w1")
        up = self.lin(x, p + "w3")
        if limit:
            gate = gate.clamp(max=limit)
            up = up.clamp(-limit, limit)
        hidden = F.silu(gate) * up
        if weight is not None:
            hidden = hidden * weight[:, None]
        return self.lin(hidden, p + "w2")

    def moe(self, p, x, tokens, hashed, aux):
        cfg = self.cfg
        k, e = cfg["num_experts_per_tok"], cfg["n_routed_experts"]
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        z = x @ self.w(p + "gate.weight").t()
        scores = torch.sqrt(F.softplus(z))
        if hashed:
            idx = self.tid2eid[tokens.reshape(-1)]
        else:
            biased = (scores + self.raw(p + "gate.bias")).detach()
            idx = torch.sort(-biased, dim=-1, stable=True).indices[:, :k]
            aux.setdefault("load", {})[p] = torch.bincount(idx.reshape(-1), minlength=e)
        wgt = torch.gather(scores, 1, idx)
        wgt = wgt / wgt.sum(-1, keepdim=True) * cfg["routed_scaling_factor"]
        y = self.swiglu(x, p + "shared_experts.")
        routed = torch.zeros_like(y)
        for j in range(e):
            rows, slot = torch.nonzero(idx == j, as_tuple=True)
            if rows.numel():
                routed = routed.index_add(0, rows, self.swiglu(x[rows], f"{p}experts.{j}.", wgt[rows, slot]))
        return (y + routed).view(shape)

    def engram(self, layer, x, rows):
        cfg = self.cfg
        b_, t, hc, d = x.shape
        p = f"layers.{layer}.engram."
        e = F.embedding(rows, self.w(p + "embed.weight")).reshape(b_, t, -1)
        kv = self.lin(e, p + "wkv")
        keys = kv[..., :hc * d].view(b_, t, hc, d)
        value = kv[..., hc * d:]
        eps = cfg["rms_norm_eps"]
        g = (rms(keys, self.w(p + "k_weight"), eps) * rms(x, self.w(p + "q_weight"), eps)).sum(-1) / math.sqrt(d)
        g = torch.sign(g) * torch.sqrt(g.abs().clamp_min(1e-6))
        return x + torch.sigmoid(g).unsqueeze(-1) * value.unsqueeze(2)

    def forward(self, tokens, engram_rows=None):
        """tokens [B, T] long; engram_rows {layer: [B, T, (N-1)·K] long}.
        Returns (logits [B, T, V], aux)."""
        cfg = self.cfg
        aux = {}
        dtype = self.raw("embed.weight").dtype
        h = F.embedding(tokens, self.w("embed.weight"))
        x = h.unsqueeze(2).expand(-1, -1, cfg["hc_mult"], -1).to(dtype)
        for i in range(cfg["num_hidden_layers"]):
            p = f"layers.{i}."
            ratio = cfg["compress_ratios"][i]
            if i in self.engram_layers:
                x = self.engram(i, x, engram_rows[i])
            x = self.site(x, p + "hc_attn", p + "attn_norm.weight",
                          lambda a: self.attention(p + "attn.", a, ratio, aux))
            x = self.site(x, p + "hc_ffn", p + "ffn_norm.weight",
                          lambda f: self.moe(p + "ffn.", f, tokens, i < cfg["num_hash_layers"], aux))
        v = x.flatten(2)
        m = (v @ self.raw("hc_head_fn").t()) * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"])
        wgt = torch.sigmoid(m * self.raw("hc_head_scale")[0] + self.raw("hc_head_base")) + cfg["hc_eps"]
        y = torch.einsum("btn,btnd->btd", wgt, x)
        y = rms(y, self.w("norm.weight"), cfg["rms_norm_eps"])
        return y @ self.w("head.weight").t(), aux
