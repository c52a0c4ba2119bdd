"""Makes the synthetic Pythia (GPT-NeoX) and Phi-3 style tokenizer.json files of this folder and
their expected encodings with HuggingFace tokenizers (0.23.2: pip install tokenizers==0.23.2).

The real files are 2-3 MB and not in ../shared; these have the same components, with the JSON
layout of the real files (EleutherAI/pythia-*: NFC, ByteLevel pre-tokenizer / post-processor /
decoder with trim_offsets, added tokens for runs of spaces that are normalized and not special;
microsoft/Phi-3-mini-4k-instruct: Llama-2 legacy SentencePiece BPE with byte fallback, Prepend and
Replace normalizers, no pre-tokenizer, Replace/ByteFallback/Fuse/Strip decoder, <s> template, chat
tokens with rstrip), and a small vocab trained here on the given text.
usage: python make_synthetic.py CORPUS.txt STRESS.jsonl  (run in this folder)
"""
import json, sys
from tokenizers import Tokenizer, models, trainers, pre_tokenizers, normalizers

corpus = open(sys.argv[1], encoding="utf-8").read()[:200_000]
texts = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
texts += [
    "Hello world", " leading space", "trailing space ", "  two  spaces   three    four", "\t tab\n\nnewlines\r\n",
    "<|endoftext|>after", "a<|padding|>b", "x" + " " * 25 + "y", "caf\u00e9 cafe\u0301 \u212b \ufb01",
    "<|user|>\nHi there<|end|>\n<|assistant|>   Hello!<|end|>", "<|user|>   x<|end|>", "<s>text</s>",
    "<|placeholder1|>", "\u2581literal", "emoji \U0001F600 and \U000F0000 private", "", " ",
]


def trained(pre, vocab_size, special, alphabet):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre
    tr = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator([corpus], tr)
    return json.loads(tok.to_str())


def write(name, j):
    s = json.dumps(j, ensure_ascii=False, indent=2)
    open(name + "-tokenizer.json", "w", encoding="utf-8").write(s)
    tok = Tokenizer.from_str(s)
    with open(name + "-expected.jsonl", "w", encoding="utf-8") as f:
        for t in texts:
            a, b = tok.encode(t, add_special_tokens=False).ids, tok.encode(t, add_special_tokens=True).ids
            f.write(json.dumps({"text": t, "ids": a, "ids_with_special": b, "decoded": tok.decode(a, skip_special_tokens=False),
                                "decoded_skip_special": tok.decode(b, skip_special_tokens=True)}) + "\n")


# Pythia: byte-level BPE, <|endoftext|> 0, <|padding|> 1, space runs as normalized added tokens.
j = trained(pre_tokenizers.ByteLevel(add_prefix_space=False), 700, ["<|endoftext|>", "<|padding|>"],
            pre_tokenizers.ByteLevel.alphabet())
bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True}
j["normalizer"] = {"type": "NFC"}
j["pre_tokenizer"] = dict(bl)
j["post_processor"] = dict(bl)
j["decoder"] = dict(bl)
n = max(j["model"]["vocab"].values()) + 1
for k in range(24, 1, -1):  # GPT-NeoX adds runs of 24 down to 2 spaces
    j["added_tokens"].append({"id": n, "content": " " * k, "single_word": False, "lstrip": False, "rstrip": False,
                              "normalized": True, "special": False})
    n += 1
j["model"].update(dropout=None, unk_token=None, continuing_subword_prefix=None, end_of_word_suffix=None, fuse_unk=False)
j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]  # the older "a b" form of that file
write("pythia", j)

# Phi-3: SentencePiece-style BPE with byte fallback; ids 0-2 <unk> <s> </s>, 3-258 <0x00>..<0xFF>.
t = trained(pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True), 600, [], [])
vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for b in range(256):
    vocab["<0x%02X>" % b] = 3 + b
for piece, _ in sorted(t["model"]["vocab"].items(), key=lambda kv: kv[1]):
    vocab.setdefault(piece, len(vocab))
def added(i, c, special=True, rstrip=False):
    return {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": rstrip, "normalized": False, "special": special}
n = len(vocab)
j = {"version": "1.0", "truncation": None, "padding": None,
     "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>", rstrip=True), added(n, "<|endoftext|>"),
                      added(n + 1, "<|assistant|>", rstrip=True), added(n + 2, "<|placeholder1|>", rstrip=True),
                      added(n + 3, "<|end|>", rstrip=True), added(n + 4, "<|user|>", rstrip=True)],
     "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                         {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
     "pre_tokenizer": None,
     "post_processor": {"type": "TemplateProcessing",
                        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
     "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                  {"type": "ByteFallback"}, {"type": "Fuse"},
                                                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
     "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
               "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "vocab": vocab,
               "merges": [" ".join(m) for m in t["model"]["merges"]]}}
write("phi3", j)
