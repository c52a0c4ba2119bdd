# Is llama.cpp's gemma3 logit gap (6.7e-4 on the hf-tiny fixture, the other architectures 4e-5) its
# GELU? ggml's CPU GELU (ggml_vec_gelu_f32 / ggml_vec_geglu_f32 with GGML_GELU_FP16, the default)
# rounds x to fp16 and reads a table of fp16 results: gelu(x) = fp16(gelu_tanh(fp16(x))) for
# -10 < x < 10. This is a float64 numpy port of the Gemma 3 forward (HF modeling_gemma3 eager path),
# run twice: with the exact tanh GELU (must match the fixture's reference logits) and with ggml's
# fp16-tabulated GELU (should then match llama.cpp's logits far closer than 6.7e-4). Prints the max and
# the median |difference|: a table lookup amplifies 1e-7 differences in x at fp16 rounding boundaries
# into an fp16 step of the GELU output, so a few positions keep a larger gap while the median falls to
# float32 noise.
# usage: gemma3_gelu.py FIXTURE_DIR [LLAMA.json]   (logits.mjs output for the rows of refs input_ids)
import json, sys
import numpy as np
from st import names, safetensor


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * x * (1 + 0.044715 * x * x)))


def gelu_ggml(x):
    # the table entry of fp16(x), computed in f32 and stored as fp16; outside (-10, 10): 0 or x
    x16 = x.astype(np.float16).astype(np.float32)
    t = gelu_tanh(x16.astype(np.float32)).astype(np.float32).astype(np.float16).astype(np.float64)
    return np.where(x <= -10, 0.0, np.where(x >= 10, x, t))


def forward(w, cfg, ids, gelu):
    d, nh, nkv, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps, T = cfg["rms_norm_eps"], len(ids)
    norm = lambda x, g: x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * (1 + g)
    h = w["model.embed_tokens.weight"][ids].astype(np.float64) * np.float32(np.sqrt(d))
    pos = np.arange(T)
    for l in range(cfg["num_hidden_layers"]):
        p = lambda n: w[f"model.layers.{l}.{n}"].astype(np.float64)
        sliding = (l + 1) % cfg["sliding_window_pattern"] != 0
        base = cfg["rope_local_base_freq"] if sliding else cfg["rope_theta"]
        x = norm(h, p("input_layernorm.weight"))
        q = (x @ p("self_attn.q_proj.weight").T).reshape(T, nh, hd)
        k = (x @ p("self_attn.k_proj.weight").T).reshape(T, nkv, hd)
        v = (x @ p("self_attn.v_proj.weight").T).reshape(T, nkv, hd)
        q, k = norm(q, p("self_attn.q_norm.weight")), norm(k, p("self_attn.k_norm.weight"))
        inv = 1.0 / base ** (np.arange(0, hd, 2) / hd)
        ang = np.concatenate([pos[:, None] * inv[None]] * 2, axis=1)[:, None, :]
        rot = lambda t: np.concatenate([-t[..., hd // 2:], t[..., : hd // 2]], axis=-1)
        q, k = q * np.cos(ang) + rot(q) * np.sin(ang), k * np.cos(ang) + rot(k) * np.sin(ang)
        k, v = np.repeat(k, nh // nkv, axis=1), np.repeat(v, nh // nkv, axis=1)
        s = np.einsum("ihd,jhd->hij", q, k) * cfg["query_pre_attn_scalar"] ** -0.5
        mask = pos[None, :] > pos[:, None]
        if sliding:
            mask |= pos[None, :] <= pos[:, None] - cfg["sliding_window"]
        s = np.where(mask[None], -np.inf, s)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = np.einsum("hij,jhd->ihd", a, v).reshape(T, nh * hd) @ p("self_attn.o_proj.weight").T
        h = h + norm(o, p("post_attention_layernorm.weight"))
        x = norm(h, p("pre_feedforward_layernorm.weight"))
        m = gelu(x @ p("mlp.gate_proj.weight").T) * (x @ p("mlp.up_proj.weight").T)
        h = h + norm(m @ p("mlp.down_proj.weight").T, p("post_feedforward_layernorm.weight"))
    h = norm(h, w["model.norm.weight"].astype(np.float64))
    return h @ w["model.embed_tokens.weight"].astype(np.float64).T


fx = sys.argv[1]
cfg = json.load(open(fx + "/config.json"))
w = {k: safetensor(fx + "/model.safetensors", k) for k in names(fx + "/model.safetensors")}

ids = safetensor(fx + "/refs.safetensors", "input_ids")
ref = safetensor(fx + "/refs.safetensors", "logits")
llama = np.array(json.load(open(sys.argv[2]))["logits"], dtype=np.float64) if len(sys.argv) > 2 else []
res = {}
for name, g in (("exact tanh GELU", gelu_tanh), ("ggml fp16-tabulated GELU", gelu_ggml)):
    ours = np.stack([forward(w, cfg, list(r), g) for r in ids])
    res[name] = {"vs_reference_max": float(np.abs(ours - ref).max())}
    if len(llama):
        res[name]["vs_llamacpp_max"] = float(np.abs(ours - llama).max())
        res[name]["vs_llamacpp_median"] = float(np.median(np.abs(ours - llama)))
if len(llama):
    res["reference vs llama.cpp"] = {"max": float(np.abs(ref - llama).max()), "median": float(np.median(np.abs(ref - llama)))}
for k, v in res.items():
    print(f"{k:28} {v}")
print(json.dumps(res))
