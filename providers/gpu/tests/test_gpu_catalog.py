"""The planner's model and hardware tables: architectures from config.json (as published and as the
built-in table writes it), model names and aliases, GPUs and instances."""

from __future__ import annotations

import json

import pytest

from inhouse_gpu import ARCHITECTURES, GiB, GpuPlanError, from_config_json, get_architecture, get_gpu, get_instance

SHAPE_FIELDS = (
    "model_type",
    "hidden_size",
    "num_layers",
    "num_attention_heads",
    "num_kv_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
    "tie_word_embeddings",
    "max_position_embeddings",
    "num_experts",
    "experts_per_token",
    "parallel_attn",
    "gated_mlp",
    "qkv_bias",
    "linear_bias",
    "norms_per_layer",
    "norm_bias",
)


def shape(arch) -> tuple:
    """What an architecture's figures depend on (``SHAPE_FIELDS``), for comparing two."""
    return tuple(getattr(arch, name) for name in SHAPE_FIELDS)


# --------------------------------------------------------------------------- config.json, names and hardware


def test_from_config_json_round_trip(tmp_path):
    for arch in ARCHITECTURES.values():
        path = tmp_path / arch.name / "config.json"
        path.parent.mkdir()
        path.write_text(json.dumps(arch.to_config_dict()))
        loaded = from_config_json(path.parent)
        assert shape(loaded) == shape(arch), arch.name
        assert loaded.param_count() == arch.param_count()


def test_from_config_json_reads_falcon_rw_keys(tmp_path):
    # tiiuae/falcon-40b-instruct's config.json as first published (RefinedWeb keys).
    rw = {
        "architectures": ["RWForCausalLM"],
        "model_type": "RefinedWeb",
        "hidden_size": 8192,
        "n_head": 128,
        "n_head_kv": 8,
        "n_layer": 60,
        "new_decoder_architecture": True,
        "parallel_attn": True,
        "bias": False,
        "vocab_size": 65024,
    }
    (tmp_path / "config.json").write_text(json.dumps(rw))
    loaded = from_config_json(tmp_path / "config.json")
    assert shape(loaded) == shape(get_architecture("falcon-40b"))
    falcon_7b = {
        "model_type": "falcon",
        "hidden_size": 4544,
        "num_attention_heads": 71,
        "num_hidden_layers": 32,
        "multi_query": True,
        "parallel_attn": True,
        "vocab_size": 65024,
        "_name_or_path": "tiiuae/falcon-7b",
    }
    (tmp_path / "config.json").write_text(json.dumps(falcon_7b))
    loaded = from_config_json(tmp_path / "config.json")
    assert shape(loaded) == shape(get_architecture("falcon-7b")) and loaded.hf_repo == "tiiuae/falcon-7b"


def test_from_config_json_names_the_missing_key(tmp_path):
    config = get_architecture("llama-3-8b").to_config_dict()
    del config["num_hidden_layers"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(GpuPlanError, match="no 'num_hidden_layers' \\(also looked for 'n_layer'"):
        from_config_json(tmp_path / "config.json")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(GpuPlanError, match="not valid JSON"):
        from_config_json(tmp_path / "config.json")


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("falcon-40b-instruct", "falcon-40b"),
        ("tiiuae/falcon-40b", "falcon-40b"),
        ("llama-3-8b", "llama-3-8b"),
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3-8b"),
        ("meta-llama/Llama-3.1-405B-Instruct", "llama-3.1-405b"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b-v0.3"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"),
        ("Qwen/Qwen2.5-72B-Instruct", "qwen2.5-72b"),
        ("google/gemma-2-9b-it", "gemma-2-9b"),
        ("microsoft/Phi-3-mini-4k-instruct", "phi-3-mini-4k"),
    ],
)
def test_model_aliases(alias, name):
    arch = get_architecture(alias)
    assert arch.name == name
    expected = ARCHITECTURES[name].hf_repo + ("-instruct" if alias.endswith("-instruct") else "")
    assert arch.hf_repo == (alias if "/" in alias else expected)  # what launch settings load


def test_unknown_model_lists_known_names_with_did_you_mean():
    with pytest.raises(GpuPlanError, match="did you mean falcon-40b") as info:
        get_architecture("falcon-41b")
    assert "llama-3-8b" in str(info.value)


def test_hardware_units_and_instances():
    assert get_gpu("H100").memory_bytes == 80 * GiB == 80 * 2**30
    assert get_gpu("4090").interconnect.per_direction_gb_s == 25.0
    g5 = get_instance("ml.g5.12xlarge")
    assert (g5.gpu, g5.gpu_count, g5.sagemaker_name) == ("a10g", 4, "ml.g5.12xlarge")
    assert get_instance("g5.48xlarge").gpu_count == 8
    assert get_instance("p4d.24xlarge").gpu == "a100-40gb" and get_instance("p4de.24xlarge").gpu == "a100-80gb"
    assert get_instance("p5.48xlarge").network_gbps == 3200
    assert get_instance("p5e.48xlarge").gpu == "h200"
    with pytest.raises(GpuPlanError, match="did you mean"):
        get_gpu("h1000")
