"""facessl: self-supervised facial representation learning (PCL, SimCLR, FAb-Net).

Public entry points::

    enc = facessl.load(path)      # run dir or checkpoint dir -> frozen Encoder
    out = enc.features(images)    # (N,3,H,W) float [0,1] RGB -> dict of (N,D) tensors
"""
from facessl.errors import FacesslError

__version__ = "0.1.0"
__all__ = ["load", "FacesslError", "__version__"]


def load(path, device="cpu"):
    """Load a checkpoint (run directory or checkpoint directory) as a frozen Encoder in eval mode."""
    from facessl.engine.checkpoint import load_encoder

    return load_encoder(path, device=device)
