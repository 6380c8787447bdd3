"""GVMGen: frames → CLIP + Q-Former frame tokens → MusicGen LM → EnCodec audio.

Modules (import them directly; this package imports nothing heavy so the CLI stays fast):

- `config`      typed configs: `GVMGenConfig` (architecture), `GenerationConfig` (sampling)
- `vision`      spatial self-attention (CLIP) and spatial cross-attention (Q-Former)
- `model`       `GVMGenModel`, `build_model`, `build_debug_model`
- `decoder`     our fast decode path: static KV cache over the transformers decoder's weights
- `sampling`, `pattern`, `conditioning`   CFG + top-k/top-p, delay pattern, windows / null condition
- `generation`  `MusicGenerator`: takes, windows, progress, cancellation, NaN/Inf checks
- `precision`   the official mixed precision (bf16/fp16 transformer, fp32 elsewhere), retries
- `snapshots`, `weights`, `official`, `importer`   finding, saving, verifying, importing weights
- `provenance`  each weight's source and licence, recorded at import (no torch)
- `pretrained`  `model_from_snapshots`: MusicGen + CLIP snapshots → untrained GVMGen (training)
"""
