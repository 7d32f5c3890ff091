"""Random parameters of the synthetic faces: identities, head poses and expressions (as action units).

Every sampler takes an explicit ``torch.Generator`` and draws on the CPU, so a seed fixes the result
byte for byte. Identity parameters are numbers in [0, 1]; the head model maps each to a physical range.
"""
from __future__ import annotations

import torch

from facessl.data.labels import AUS, EXPRESSIONS

ID_PARAMS = (
    "head_width", "head_height", "face_length", "jaw_width", "cheek_fullness",
    "nose_length", "nose_width", "nose_projection", "eye_spacing", "eye_size",
    "brow_thickness", "brow_arch", "brow_height", "lip_thickness", "mouth_width",
    "skin_tone", "skin_warmth", "hair_length", "hair_volume", "hair_colour",
    "hairline", "eye_colour", "beard", "glasses", "ear_size", "age",
)
N_ID_PARAMS = len(ID_PARAMS)
ID_INDEX = {name: i for i, name in enumerate(ID_PARAMS)}

# Internal AUs the renderer understands beyond the labelled eight; when not given they are inferred
# from the labelled ones (see infer_extra_aus), so callers that only know AUS still get coherent faces.
EXTRA_AUS = (5, 7, 15, 20, 23)  # upper lid raiser, lid tightener, lip corner depressor, lip stretcher, lip tightener
AU_INDEX = {au: i for i, au in enumerate(AUS)}

# Prototype intensities (0..5) per expression, in EXPRESSIONS order, over AUS = (1, 2, 4, 6, 9, 12, 25, 26).
_PROTOTYPES = {
    "surprise": (4.0, 4.0, 0.0, 0.0, 0.0, 0.0, 3.0, 3.5),
    "fear": (3.5, 2.5, 3.0, 0.0, 0.0, 0.0, 3.0, 1.5),
    "disgust": (0.0, 0.0, 2.5, 1.5, 4.0, 0.0, 1.0, 0.0),
    "happiness": (0.0, 0.0, 0.0, 3.5, 0.0, 4.5, 2.5, 0.5),
    "sadness": (3.5, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "anger": (0.0, 0.0, 4.5, 0.0, 1.0, 0.0, 0.0, 0.0),
    "neutral": (0.0,) * 8,
}
EXPRESSION_PROTOTYPES = torch.tensor([_PROTOTYPES[name] for name in EXPRESSIONS])


def _centred_uniform(n: int, generator: torch.Generator) -> torch.Tensor:
    """Mean of two uniforms: a triangular law on [0, 1], so typical faces are common and extremes rare."""
    return torch.rand(n, 2, generator=generator).mean(dim=1)


def sample_identities(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, N_ID_PARAMS) identity parameters in [0, 1]; see ID_PARAMS for their meaning."""
    ids = torch.empty(n, N_ID_PARAMS)
    for i in range(N_ID_PARAMS):
        ids[:, i] = _centred_uniform(n, generator)
    u = torch.rand(n, 3, generator=generator)
    # Beards, glasses and baldness are occasional traits, not a continuum present in everyone.
    ids[:, ID_INDEX["beard"]] = torch.where(u[:, 0] < 0.25, 0.35 + 0.65 * ids[:, ID_INDEX["beard"]], 0.0)
    ids[:, ID_INDEX["glasses"]] = torch.where(u[:, 1] < 0.2, 0.5 + 0.5 * ids[:, ID_INDEX["glasses"]], 0.0)
    ids[:, ID_INDEX["hair_volume"]] = torch.where(u[:, 2] < 0.08, 0.0, ids[:, ID_INDEX["hair_volume"]])
    return ids


def _truncated_normal(n: int, std: float, limit: float, generator: torch.Generator) -> torch.Tensor:
    """Normal(0, std) truncated to [-limit, limit] by inverse CDF (one uniform per sample, exact)."""
    edge = torch.special.ndtr(torch.tensor(limit / std))
    u = torch.rand(n, generator=generator) * (2 * edge - 1) + (1 - edge)
    return (std * torch.special.ndtri(u.clamp(1e-7, 1 - 1e-7))).clamp(-limit, limit)


def _mixture(n: int, stds: tuple[float, float], tail: float, limit: float, generator) -> torch.Tensor:
    core = _truncated_normal(n, stds[0], limit, generator)
    wide = _truncated_normal(n, stds[1], limit, generator)
    return torch.where(torch.rand(n, generator=generator) < tail, wide, core)


def sample_poses(n: int, generator: torch.Generator, distribution: str = "voxceleb") -> torch.Tensor:
    """(n, 3) head poses in degrees (yaw, pitch, roll); yaw in [-90, 90], pitch and roll in [-45, 45].

    "voxceleb": mostly near-frontal with real tails (talking-head videos); "uniform": yaw uniform over
    [-90, 90] and pitch/roll truncated normals (std 20 deg), like the 300W-LP / AFLW2000 sets.
    """
    if distribution == "voxceleb":
        yaw = _mixture(n, (14.0, 45.0), 0.25, 90.0, generator)
        pitch = _mixture(n, (8.0, 20.0), 0.2, 45.0, generator)
        roll = _mixture(n, (5.0, 15.0), 0.2, 45.0, generator)
    elif distribution == "uniform":
        yaw = (torch.rand(n, generator=generator) * 2 - 1) * 90.0
        pitch = _truncated_normal(n, 20.0, 45.0, generator)
        roll = _truncated_normal(n, 20.0, 45.0, generator)
    else:
        raise ValueError(f"pose distribution must be 'voxceleb' or 'uniform', got {distribution!r}")
    return torch.stack([yaw, pitch, roll], dim=1)


def expression_aus(expression: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(n,) internal expression indices -> (n, 8) AU intensities in [0, 5] (AUS order), varied per sample.

    Each sample scales its prototype by a random strength, jitters every AU, and adds small
    spontaneous activity, so neutral faces have all-small AUs and a class is a cloud, not a point.
    """
    expression = torch.as_tensor(expression, dtype=torch.long).reshape(-1)
    n = expression.numel()
    proto = EXPRESSION_PROTOTYPES[expression]
    strength = 0.55 + 0.6 * torch.rand(n, 1, generator=generator)
    jitter = 1.0 + 0.25 * torch.randn(n, 8, generator=generator)
    background = 0.6 * torch.rand(n, 8, generator=generator) ** 3
    return (proto * strength * jitter + background).clamp(0.0, 5.0)


def infer_extra_aus(aus: torch.Tensor) -> torch.Tensor:
    """(n, 8) labelled AUs -> (n, len(EXTRA_AUS)) co-occurring internal AUs (FACS expression patterns)."""
    au = {a: aus[:, i] for a, i in AU_INDEX.items()}
    au5 = torch.minimum(au[1], au[2]) * 0.9                            # surprise / fear: eyes wide
    au7 = (au[4] - au[1]).clamp_min(0) * 0.6                           # anger / disgust: lids tense
    au15 = (torch.minimum(au[1], au[4]) - au[2] - au[12]).clamp_min(0)  # sadness: mouth corners down
    au20 = torch.minimum(torch.minimum(au[1], au[2]), au[4])           # fear: lips stretched
    au23 = (au[4] - au[1] - au[9] - au[12]).clamp_min(0) * 0.8         # anger: lips pressed
    return torch.stack([au5, au7, au15, au20, au23], dim=1).clamp(0.0, 5.0)
