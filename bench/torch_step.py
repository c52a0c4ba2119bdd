#!/usr/bin/env python3
"""PyTorch peer for bench/gpu-check.sh: times a full training step (forward, backward, AdamW) of a
Llama-style model on the GPU, in FP32 (TF32 off, like the engine's default) and with TF32 on.
Shapes: the demo model (hidden 192, 4 layers, 4 heads / 2 KV heads of 48, MLP 512, vocab 8192,
tied embeddings) and a larger config (hidden 1024, 8 layers, 16 heads, MLP 2816, vocab 32000),
batch 16 x 256 tokens. Random weights and tokens: this measures speed, not quality.
Prints lines 'torch <config> <math> | <tokens/s> ...' that gpu-check.sh copies to its summary."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, c, eps=1e-5):
        super().__init__()
        self.w = nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        return self.w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_tables(T, hs, theta=10000.0, device="cuda"):
    inv = 1.0 / theta ** (torch.arange(0, hs, 2, device=device, dtype=torch.float64) / hs)
    ang = torch.outer(torch.arange(T, device=device, dtype=torch.float64), inv)
    return ang.cos().float(), ang.sin().float()


def rope(x, cos, sin):  # x (B, NH, T, HS), HF rotate_half
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[None, None], sin[None, None]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


class Block(nn.Module):
    def __init__(self, C, NH, NKV, HS, FF):
        super().__init__()
        self.NH, self.NKV, self.HS = NH, NKV, HS
        self.n1, self.n2 = RMSNorm(C), RMSNorm(C)
        self.q = nn.Linear(C, NH * HS, bias=False)
        self.k = nn.Linear(C, NKV * HS, bias=False)
        self.v = nn.Linear(C, NKV * HS, bias=False)
        self.o = nn.Linear(NH * HS, C, bias=False)
        self.gate = nn.Linear(C, FF, bias=False)
        self.up = nn.Linear(C, FF, bias=False)
        self.down = nn.Linear(FF, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, self.NH, self.HS).transpose(1, 2)
        k = self.k(h).view(B, T, self.NKV, self.HS).transpose(1, 2)
        v = self.v(h).view(B, T, self.NKV, self.HS).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        g = self.NH // self.NKV
        k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(B, T, -1))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(nn.Module):
    def __init__(self, V, C, L, NH, NKV, HS, FF):
        super().__init__()
        self.emb = nn.Embedding(V, C)
        self.blocks = nn.ModuleList(Block(C, NH, NKV, HS, FF) for _ in range(L))
        self.norm = RMSNorm(C)
        self.HS = HS

    def forward(self, ids):
        cos, sin = rope_tables(ids.shape[1], self.HS, device=ids.device)
        x = self.emb(ids)
        for b in self.blocks:
            x = b(x, cos, sin)
        return self.norm(x) @ self.emb.weight.t()  # tied head


CONFIGS = {
    "demo": dict(V=8192, C=192, L=4, NH=4, NKV=2, HS=48, FF=512),
    "h1024": dict(V=32000, C=1024, L=8, NH=16, NKV=16, HS=64, FF=2816),
}


def run(name, cfg, tf32, B, T, steps):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(0)
    m = Model(**cfg).cuda()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0)
    ids = torch.randint(0, cfg["V"], (B, T + 1), device="cuda")
    x, y = ids[:, :-1], ids[:, 1:]

    def step():
        logits = m(x)
        loss = F.cross_entropy(logits.reshape(-1, cfg["V"]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    params = sum(p.numel() for p in m.parameters())
    math = "tf32" if tf32 else "fp32"
    print(f"torch {name} {math} | {steps * B * T / dt:,.0f} tokens/s ({dt / steps * 1000:.1f} ms/step, "
          f"{params / 1e6:.1f}M params, loss {loss.item():.3f}, torch {torch.__version__})", flush=True)
    del m, opt
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--configs", default="demo,h1024")
    a = ap.parse_args()
    print("device:", torch.cuda.get_device_name(0))
    for name in a.configs.split(","):
        for tf32 in (False, True):
            run(name, CONFIGS[name], tf32, a.batch, a.seq, a.steps)


if __name__ == "__main__":
    main()
