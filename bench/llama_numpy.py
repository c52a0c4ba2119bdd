#!/usr/bin/env python3
"""A Llama in numpy, the peer of `./bitnet ppl` in bench/ppl-vs-numpy.sh.

  llama_numpy.py make DIR [--hidden 384 --layers 6 --heads 6 --kv-heads 2 --inter 1024 --vocab 8192]
      writes a Llama-shaped HF checkpoint of random BF16 weights (std 0.02, untied lm_head;
      defaults: the 15.7M-parameter model of issue 14) with config.json; the caller copies a
      tokenizer.json of the same vocabulary next to it.
  llama_numpy.py ppl DIR IDS.json [--seq-len 256] [--windows 64] [--batch 8]
      perplexity by the `ppl` rule of docs/cli.md: windows ids[i*L : (i+1)*L+1], mean NLL over the
      L predicted tokens of each window; FP32 throughout (BF16 weights widened once), numpy's BLAS
      for the products. Prints one JSON line {"ppl", "tokens", "windows", "seconds"}.

The forward is HF's LlamaForCausalLM: RMSNorm (x * rsqrt(mean(x^2) + eps) * w), RoPE with
rotate_half on the two halves of each head, grouped-query attention with a causal mask, SwiGLU.
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np


def opt(args, name, default):
    if name in args:
        i = args.index(name)
        return type(default)(args[i + 1])
    return default


def bf16_bytes(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    # round to nearest even, as torch does when casting to bfloat16
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16).tobytes()


def make(d, args):
    H = opt(args, "--hidden", 384)
    Lyr = opt(args, "--layers", 6)
    NH = opt(args, "--heads", 6)
    NKV = opt(args, "--kv-heads", 2)
    I = opt(args, "--inter", 1024)
    V = opt(args, "--vocab", 8192)
    HS = H // NH
    rng = np.random.default_rng(1)
    os.makedirs(d, exist_ok=True)
    tensors = [("model.embed_tokens.weight", (V, H))]
    for l in range(Lyr):
        p = f"model.layers.{l}."
        tensors += [
            (p + "input_layernorm.weight", (H,)),
            (p + "self_attn.q_proj.weight", (NH * HS, H)),
            (p + "self_attn.k_proj.weight", (NKV * HS, H)),
            (p + "self_attn.v_proj.weight", (NKV * HS, H)),
            (p + "self_attn.o_proj.weight", (H, NH * HS)),
            (p + "post_attention_layernorm.weight", (H,)),
            (p + "mlp.gate_proj.weight", (I, H)),
            (p + "mlp.up_proj.weight", (I, H)),
            (p + "mlp.down_proj.weight", (H, I)),
        ]
    tensors += [("model.norm.weight", (H,)), ("lm_head.weight", (V, H))]
    header, blobs, off = {}, [], 0
    for name, shape in tensors:
        if len(shape) == 1:
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            a = 0.02 * rng.standard_normal(shape)
        b = bf16_bytes(a)
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H,
        "intermediate_size": I, "num_hidden_layers": Lyr, "num_attention_heads": NH,
        "num_key_value_heads": NKV, "head_dim": HS, "vocab_size": V, "max_position_embeddings": 1024,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "hidden_act": "silu", "torch_dtype": "bfloat16", "bos_token_id": 0, "eos_token_id": 0,
    }
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    params = sum(int(np.prod(s)) for _, s in tensors)
    print(json.dumps({"dir": d, "parameters": params}))


def load(d):
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        data = np.memmap(f, dtype=np.uint8, mode="r")
    w = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        assert t["dtype"] == "BF16", name
        u = np.frombuffer(data[base + a:base + b], dtype=np.uint16).astype(np.uint32) << 16
        w[name] = u.view(np.float32).reshape(t["shape"])
    return w


def ppl(d, ids_file, args):
    t0 = time.perf_counter()
    L = opt(args, "--seq-len", 256)
    nwin = opt(args, "--windows", 64)
    B = opt(args, "--batch", 8)
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = load(d)
    ids = np.array(json.load(open(ids_file)), dtype=np.int64)
    nwin = min(nwin, (len(ids) - 1) // L)
    H, NH, NKV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    HS = cfg.get("head_dim", H // NH)
    eps = np.float32(cfg["rms_norm_eps"])
    inv = 1.0 / (cfg["rope_theta"] ** (np.arange(0, HS, 2, dtype=np.float64) / HS))
    ang = np.arange(L, dtype=np.float64)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, axis=1).astype(np.float32)  # (L, HS)
    sin = np.concatenate([np.sin(ang)] * 2, axis=1).astype(np.float32)
    mask = np.triu(np.full((L, L), -np.inf, dtype=np.float32), 1)

    def rms(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    def rope(x):  # (B, nh, L, HS)
        h = HS // 2
        rot = np.concatenate([-x[..., h:], x[..., :h]], axis=-1)
        return x * cos + rot * sin

    nll_sum, count = 0.0, 0
    for w0 in range(0, nwin, B):
        nb = min(B, nwin - w0)
        win = np.stack([ids[(w0 + i) * L:(w0 + i + 1) * L + 1] for i in range(nb)])
        x = w["model.embed_tokens.weight"][win[:, :-1]]  # (nb, L, H)
        for l in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{l}."
            h = rms(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(nb, L, NH, HS).transpose(0, 2, 1, 3)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(nb, L, NKV, HS).transpose(0, 2, 1, 3)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(nb, L, NKV, HS).transpose(0, 2, 1, 3)
            q, k = rope(q), rope(k)
            k = np.repeat(k, NH // NKV, axis=1)
            v = np.repeat(v, NH // NKV, axis=1)
            s = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(HS)) + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(nb, L, NH * HS)
            x = x + a @ w[p + "self_attn.o_proj.weight"].T
            h = rms(x, w[p + "post_attention_layernorm.weight"])
            g = h @ w[p + "mlp.gate_proj.weight"].T
            u = h @ w[p + "mlp.up_proj.weight"].T
            x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T
        x = rms(x, w["model.norm.weight"])
        head = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
        logits = x @ head.T  # (nb, L, V)
        m = logits.max(-1, keepdims=True)
        lse = (m[..., 0] + np.log(np.exp(logits - m).sum(-1))).astype(np.float64)
        tgt = np.take_along_axis(logits, win[:, 1:, None], axis=-1)[..., 0]
        nll_sum += float((lse - tgt).sum())
        count += nb * L
    print(json.dumps({"ppl": math.exp(nll_sum / count), "tokens": count, "windows": nwin,
                      "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "make":
        make(a[1], a[2:])
    elif len(a) >= 3 and a[0] == "ppl":
        ppl(a[1], a[2], a[3:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
