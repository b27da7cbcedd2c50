"""Embedding throughput and fidelity per backend on 1,000 Zhibei listings; prints one JSON line.

Run from the repository root: python benchmarks/embed.py [--limit N] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matchmaker.engine.embedder import default_model_path, load_embedder  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "zhibei" / "achievements.jsonl"
BACKENDS = {"torch-fp32": "torch", "onnx-fp32": "onnx", "onnx-int8": "onnx-int8"}
MIN_COSINE = 0.99


def load_texts(path: Path, limit: int) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            text = f"{record.get('name', '')} {record.get('context', '')}".strip()
            if text:
                texts.append(text)
            if len(texts) == limit:
                break
    return texts


def measure(model: Path, backend: str, texts: list[str]) -> tuple[np.ndarray, float]:
    embedder = load_embedder(model, backend)
    embedder.embed_passages(texts[:8])  # warm-up: first-call allocations and graph setup
    started = time.perf_counter()
    vectors = embedder.embed_passages(texts)
    return vectors, len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    model = args.model or default_model_path()
    texts = load_texts(args.data, args.limit)
    results, reference = {}, None
    for label, backend in BACKENDS.items():
        vectors, docs_per_s = measure(model, backend, texts)
        reference = vectors if reference is None else reference
        min_cosine = float((vectors * reference).sum(axis=1).min())
        results[label] = {"docs_per_s": round(docs_per_s, 2), "min_cosine": round(min_cosine, 5)}
    usable = [label for label, r in results.items() if r["min_cosine"] >= MIN_COSINE]
    default = max(usable, key=lambda label: results[label]["docs_per_s"])
    print(json.dumps({"name": "embed", "texts": len(texts), "default": default, "backends": results}))


if __name__ == "__main__":
    main()
