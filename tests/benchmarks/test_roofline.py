"""benchmarks.common.roofline: the multiply-adds of a review, counted by hand on a tiny shape,
and the peaks the instruction sets imply."""

from __future__ import annotations

import pytest

from benchmarks.common import roofline
from benchmarks.common.roofline import Macs, Shape

TINY = Shape(layers=2, hidden=4, intermediate=8, heads=2, labels=2)
VNNI = ["avx512_vnni", "avx512f", "avx2", "avx512_bf16"]


def test_a_review_of_three_tokens_by_hand() -> None:
    # per layer: Q, K, V, output 4 * 3 * 4 * 4 = 192; feed-forward 2 * 3 * 4 * 8 = 192
    # two layers: 768; head on one token: 4 * 4 + 4 * 2 = 24 -> linear 792
    # attention per layer: 2 * 3 * 3 * 4 = 72 -> 144 (heads split h: their number does not count)
    found = roofline.review_macs(TINY, 3)
    assert found == Macs(linear=792, attention=144)
    assert found.total == 936
    assert roofline.review_macs(Shape(2, 4, 8, heads=4), 3) == found


def test_attention_grows_with_the_square_of_the_length() -> None:
    assert roofline.review_macs(TINY, 6).attention == 4 * roofline.review_macs(TINY, 3).attention
    workload = roofline.total_macs(TINY, [3, 3, 6])
    assert workload.attention == 144 * 2 + 576
    assert roofline.per_review(workload, 3).attention == (144 * 2 + 576) // 3


def test_shape_from_bert_and_distilbert_configs() -> None:
    bert = {"num_hidden_layers": 6, "hidden_size": 384, "intermediate_size": 1536, "num_attention_heads": 12, "id2label": {"0": "a", "1": "b", "2": "c"}}  # fmt: skip
    distil = {"n_layers": 6, "dim": 768, "hidden_dim": 3072, "n_heads": 12}
    assert Shape.from_config(bert) == Shape(6, 384, 1536, 12, labels=3)
    assert Shape.from_config(distil) == Shape(6, 768, 3072, 12, labels=2)


def test_peaks_follow_the_instruction_sets_and_the_vendor() -> None:
    def per_cycle(precision: str, flags: list[str], name: str = "Intel Xeon", amx: bool = False) -> int:  # fmt: skip
        return roofline.peak(precision, flags, name, 2, 2.6, amx).macs_per_cycle

    assert per_cycle("int8", VNNI) == 64
    assert per_cycle("fp32", VNNI) == 32
    assert per_cycle("fp32", VNNI, "AMD EPYC") == 16  # Zen 4: two 256-bit FMA pipes
    assert per_cycle("int8", ["avx2"]) == 32
    assert per_cycle("fp32", ["avx2"]) == 16
    amx = [*VNNI, "amx_int8", "amx_bf16"]
    assert per_cycle("int8", amx) == 64  # ONNX Runtime's dynamic INT8 does not use AMX
    assert per_cycle("int8", amx, amx=True) == 1024
    assert per_cycle("bf16", ["avx2"]) == 16  # no bf16 unit: at the fp32 peak
    assert roofline.peak("int8", VNNI, "Intel", 2, 2.5, False).macs_per_s == 64 * 2 * 2.5e9


def test_the_limit_of_an_int8_model_runs_attention_at_the_fp32_peak() -> None:
    macs = Macs(linear=64 * 2 * 10**9, attention=32 * 2 * 10**9)  # one second each at 1 GHz
    int8 = roofline.limit_for(macs, "int8", VNNI, "Intel Xeon", cores=2, ghz=1.0)
    assert int8.seconds_per_review() == pytest.approx(2.0)
    assert int8.share(0.25) == pytest.approx(0.5)  # 4 s a review where 2 s is the limit
    assert int8.achieved(0.25) == pytest.approx(macs.total / 4)
    fp32 = roofline.limit_for(macs, "fp32", VNNI, "Intel Xeon", cores=2, ghz=1.0)
    assert fp32.seconds_per_review() == pytest.approx(macs.total / (32 * 2 * 1e9))


def test_the_assumption_table_names_each_precision_once_without_amx() -> None:
    text = roofline.assumptions(TINY, Macs(792, 144), VNNI, "AMD EPYC", 2, 2.6)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "precision" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| int8", "| int16", "| bf16", "| fp32"]
    with_amx = roofline.assumptions(TINY, Macs(792, 144), [*VNNI, "amx_int8"], "Intel", 2, 2.6)
    assert "AMX (OpenVINO only)" in with_amx and "| 1024 |" in with_amx


def test_speed_reports_each_backend_against_the_peaks(tmp_path) -> None:
    import json

    from benchmarks import speed
    from benchmarks.common import backends, results

    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "num_hidden_layers": 2,
                "hidden_size": 4,
                "intermediate_size": 8,
                "num_attention_heads": 2,
            }
        )  # fmt: skip
    )
    record = speed.roofline_record(tmp_path, [3, 3], ghz=1.0)
    assert record["macs_per_review"] == {"linear": 792, "attention": 144}
    stored = json.loads(json.dumps(record))  # as the results file keeps it
    r = {"roofline": stored, "threads": 2, "throughput": {"8": dict.fromkeys(backends.NAMES, 1e6)}}
    text = results.body_markdown(speed.roofline_blocks(r))
    rows = [line for line in text.splitlines() if line.startswith("| senticlf-int8 |")]
    assert len(rows) == 1 and "batch 8: GMAC/s (share of limit)" in text
    assert speed.roofline_blocks({"threads": 2, "throughput": {}}) == []  # older results
