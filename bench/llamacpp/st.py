# Reads one tensor of a safetensors file into numpy (F32, I64, I8), for the scripts beside it.
import json, struct
import numpy as np

DTYPES = {"F32": np.float32, "I64": np.int64, "I8": np.int8}


def names(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return {k: v for k, v in json.loads(f.read(n)).items() if k != "__metadata__"}


def safetensor(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        m = json.loads(f.read(n))[name]
        a, b = m["data_offsets"]
        f.seek(8 + n + a)
        return np.frombuffer(f.read(b - a), dtype=DTYPES[m["dtype"]]).reshape(m["shape"])
