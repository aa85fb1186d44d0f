"""The files and what A1111 knows about them: checkpoints, LoRAs, embeddings, safetensors headers, hashes,
options, and which checkpoint is loaded."""
