"""The training engine: the loop (AMP, DDP via torchrun, resume, NaN guard), checkpoints, optimisers,
distributed helpers, run logs and the kNN monitor. It knows nothing of faces: methods plug into it
through facessl.methods.base.Method."""
