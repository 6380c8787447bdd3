"""Full-size random GVMGen weights at realistic scales, for the benches (not a benchmark).

- `official_state()`: the official `state_dict.bin` layout (707 tensors, 797 M parameters for
  GVMGen-small), keys and shapes from `tests/model/model_official_layout.py` — our independent
  re-statement of the official network — so `gvmgen models import` meets the file users have.
- `official_checkpoint()`: that state, fp16 as the published file, with an `xp.cfg` that mirrors
  the official config (`transformer_lm` dims, CFG 3, top-k 250, 32 s training segments).
- `encodec_snapshot()`: a full-size EnCodec 32 kHz in the Hugging Face snapshot layout.

Scales. The published weights are not on this machine and no per-layer statistics of the real
MusicGen-small or GVMGen weights were found, so every tensor takes the scale its own training
started from, which is the scale a trained model keeps to within a small factor:
- LM (audiocraft's `gaussian` init with `depthwise_init: current`, MusicGen's config): std
  `fan_in^-1/2 / sqrt(2·(layer+1))` in layer `layer`; embeddings and heads `dim^-1/2`;
- CLIP ViT (OpenAI's init): attention `width^-1/2`, MLP in `(2·width)^-1/2`, out projections
  `width^-1/2·(2·layers)^-1/2`, embeddings `width^-1/2`;
- Q-Former (the official init): in-projections `width^-1/2`, out-projections
  `width^-1/2·48^-1/2`, dense `(2·width)^-1/2`; music queries 0.02;
- every LayerNorm away from identity: gains N(1, 0.2), biases N(0, 0.05);
- EnCodec: transformers' init, except the codebooks (transformers leaves them at zero, which
  makes all audio silence): each codebook is drawn from the encoder's own latents of noise
  (and, for later codebooks, of the residual), jittered, as EnCodec's k-means init starts.
Trained weights grow outlier features that random ones do not, so fp16 range is only truly
tested by the published checkpoint on a GPU (`gpu_smoke.py --weights DIR`).
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "model"))

from model_official_layout import OfficialLMModel, xp_cfg  # noqa: E402

# GVMGen-small as the official config builds it (spec §1, §2, §4): ViT-L/14@336, Q-Former 6
# layers with FFN 2048, proj 768; LM 1024 wide, 24 layers, 16 heads, FFN 4096, 4 × 2048 codes.
SMALL = {
    "image": 336,
    "patch": 14,
    "vwidth": 1024,
    "vlayers": 24,
    "vheads": 16,
    "queries": 16,
    "qlayers": 6,
    "qffn": 2048,
    "proj": 768,
    "dim": 1024,
    "heads": 16,
    "ffn": 4096,
    "layers": 24,
    "n_q": 4,
    "card": 2048,
}
VISUAL = "condition_provider.conditioners.visual_content."
CLIP = VISUAL + "clip.visual."


def official_shapes(sizes: dict) -> dict[str, tuple[int, ...]]:
    """Every key of the official `best_state` and its shape (built on the meta device)."""
    with torch.device("meta"):
        model = OfficialLMModel(sizes)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def official_state(sizes: dict = SMALL, seed: int = 0, device: str = "cpu") -> dict:
    """Random fp16 tensors for every official key, each at its realistic scale (module doc)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    state = {}
    for key, shape in official_shapes(sizes).items():
        tensor = torch.empty(shape, device=device)
        _fill(tensor, key, sizes, generator)
        state[key] = tensor.half().cpu()
    return state


def _fill(tensor: torch.Tensor, key: str, sizes: dict, generator: torch.Generator) -> None:
    """Draw `tensor` in place at the scale its key's module starts training from."""
    name = key.rsplit(".", 1)[-1]
    if _is_norm(key):
        mean, std = (1.0, 0.2) if name == "weight" else (0.0, 0.05)
        tensor.normal_(mean, std, generator=generator)
    elif name == "bias" or name.endswith("_bias"):
        tensor.normal_(0.0, 0.02, generator=generator)
    else:
        std = _std(key, tuple(tensor.shape), sizes)
        tensor.normal_(0.0, std, generator=generator).clamp_(-3 * std, 3 * std)  # truncated


def _is_norm(key: str) -> bool:
    return bool(re.search(r"(norm|ln_|LayerNorm|layernorm)", key))


def _std(key: str, shape: tuple[int, ...], sizes: dict) -> float:
    if key.startswith(CLIP + "qformer.") or key == CLIP + "query_tokens":
        return _qformer_std(key, sizes["vwidth"])
    if key.startswith(CLIP):
        return _clip_std(key, shape, sizes)
    if key.startswith(VISUAL + "output_proj"):
        return shape[1] ** -0.5
    layer = re.match(r"transformer\.layers\.(\d+)\.", key)
    if layer:  # depthwise 'current': deeper layers start smaller
        return shape[-1] ** -0.5 / math.sqrt(2 * (int(layer.group(1)) + 1))
    return sizes["dim"] ** -0.5  # emb.k, linears.k


def _clip_std(key: str, shape: tuple[int, ...], sizes: dict) -> float:
    width, layers = sizes["vwidth"], sizes["vlayers"]
    if "c_fc" in key:
        return (2 * width) ** -0.5
    if "c_proj" in key or "out_proj" in key:
        return width**-0.5 * (2 * layers) ** -0.5
    if "conv1" in key:
        return (3 * sizes["patch"] ** 2) ** -0.5
    return width**-0.5  # in_proj, class / positional embeddings, proj


def _qformer_std(key: str, width: int) -> float:
    if key.endswith("query_tokens"):
        return 0.02
    if "out_proj" in key:
        return width**-0.5 * 48**-0.5
    if "dense" in key:
        return (2 * width) ** -0.5
    return width**-0.5


def official_checkpoint(path: Path, sizes: dict = SMALL, seed: int = 0) -> Path:
    """Write the exported layout: `{'best_state': fp16 state, 'xp.cfg': YAML, 'exported': True}`."""
    package = {
        "best_state": official_state(sizes, seed),
        "xp.cfg": xp_cfg(sizes),
        "exported": True,
    }
    torch.save(package, path)
    return path


def encodec_model(seed: int = 0):
    """A full-size EnCodec 32 kHz with random weights and codebooks drawn from its latents."""
    from transformers import EncodecConfig, EncodecModel

    from gvmgen.model.config import ENCODEC_32KHZ

    torch.manual_seed(seed)
    model = EncodecModel(EncodecConfig(**ENCODEC_32KHZ)).eval()
    with torch.no_grad():
        noise = torch.randn(1, 1, model.config.sampling_rate * 8) * 0.1
        residual = model.encoder(noise)[0].transpose(0, 1)  # [400 frames, dim]
        for layer in model.quantizer.layers:
            codebook = layer.codebook
            picks = torch.randint(0, residual.shape[0], (codebook.embed.shape[0],))
            jitter = 0.1 * residual.std() * torch.randn_like(codebook.embed)
            codebook.embed.copy_(residual[picks] + jitter)
            codebook.embed_avg.copy_(codebook.embed)
            codebook.inited.fill_(1.0)
            nearest = torch.cdist(residual, codebook.embed).argmin(dim=1)
            residual = residual - codebook.embed[nearest]
    return model


def encodec_snapshot(directory: Path, seed: int = 0) -> Path:
    """`save_pretrained` of `encodec_model()`: a snapshot `gvmgen models import --codec` takes."""
    encodec_model(seed).save_pretrained(directory)
    return directory
