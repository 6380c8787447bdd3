"""Training GVMGen and its evaluation model.

Modules (import them directly; this package imports nothing heavy):

- `sources`    pairs of picture and music in a folder, a file or a JSONL manifest
- `prepare`    pairs → aligned windows (frames at 1 fps, EnCodec codes, optional CLIP cache)
- `dataset`    the prepared dataset on disk and its fixed, resumable reading order
- `presets`    `TrainSettings`, the tiny / small / medium presets, the model to start from
- `trainer`    the training loop: AdamW + cosine warm-up, clip, autocast, EMA, DDP, checkpoints
- `evaluation` the evaluation model's features, trainer, and CMR / TA / cut-sync scoring
"""
