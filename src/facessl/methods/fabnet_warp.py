"""Flow warping for FAb-Net: sampling grids, bilinear resampling, multi-source blending, jitter.

Coordinates are PyTorch's normalised grid coordinates: x (columns) and y (rows) in [-1, 1], with
`align_corners=True` everywhere, so -1 and +1 are the CENTRES of the first and last pixels. Under
that convention the identity grid `linspace(-1, 1, W)` samples every pixel exactly at its centre,
which makes the zero flow return the source bit-for-bit, and a flow of 2k/(W-1) shifts the image
by exactly k pixels. (The reference code ran on PyTorch < 1.3, whose grid_sample behaved as
align_corners=True.)

A flow here is an OFFSET field (N,2,H,W): channel 0 is δx, channel 1 is δy, in normalised units;
the sampling grid is identity + flow, clamped to [-1, 1], and the output is
s'(x, y) = s(x + δx, y + δy).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from facessl.augment.color import grey

ALIGN_CORNERS = True


def identity_grid(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The (1,H,W,2) grid that samples every pixel at its own centre (last dim: x, y)."""
    ys = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype)
    xs = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=-1).unsqueeze(0)


def flow_to_grid(flow: torch.Tensor) -> torch.Tensor:
    """Offsets (N,2,H,W) -> sampling grid (N,H,W,2) = identity + offsets, clamped to [-1, 1]."""
    n, c, h, w = flow.shape
    if c != 2:
        raise ValueError(f"flow must have 2 channels (dx, dy), got shape {tuple(flow.shape)}")
    grid = identity_grid(h, w, flow.device, flow.dtype) + flow.permute(0, 2, 3, 1)
    return grid.clamp(-1.0, 1.0)


def warp(source: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Bilinearly resample `source` (N,C,H,W) at identity + `flow` (N,2,H,W); flow is resized to H,W if needed.

    Always computed in (at least) float32, autocast off: a bf16 grid would quantise coordinates to
    ~2^-8, i.e. half a pixel at 256 px, even for the identity."""
    dtype = torch.promote_types(source.dtype, torch.float32)
    with torch.autocast(source.device.type, enabled=False):
        flow, source = flow.to(dtype), source.to(dtype)
        if flow.shape[-2:] != source.shape[-2:]:
            flow = F.interpolate(flow, size=source.shape[-2:], mode="bilinear", align_corners=ALIGN_CORNERS)
        grid = flow_to_grid(flow)
        return F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=ALIGN_CORNERS)


def flow_in_pixels(flow: torch.Tensor) -> torch.Tensor:
    """Normalised offsets (N,2,H,W) -> offsets in pixels (align_corners=True: 1 unit = (size-1)/2 px)."""
    h, w = flow.shape[-2:]
    scale = flow.new_tensor([(w - 1) / 2.0, (h - 1) / 2.0]).view(1, 2, 1, 1)
    return flow * scale


def pixels_to_flow(shift_x: float, shift_y: float, height: int, width: int) -> tuple[float, float]:
    """A displacement in pixels -> the normalised (dx, dy) that produces it."""
    return 2.0 * shift_x / (width - 1), 2.0 * shift_y / (height - 1)


def combine_sources(warped: torch.Tensor, confidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend n warped sources with per-pixel confidences, as in the paper:

        prediction = Σ_i exp(C_i) · warp_i / Σ_j exp(C_j)   (a softmax over the sources, per pixel)

    warped (B,n,C,H,W), confidence (B,n,1,H,W) -> (prediction (B,C,H,W), weights (B,n,1,H,W)).
    """
    if warped.dim() != 5 or confidence.dim() != 5 or confidence.shape[2] != 1:
        raise ValueError(f"expected warped (B,n,C,H,W) and confidence (B,n,1,H,W), got "
                         f"{tuple(warped.shape)} and {tuple(confidence.shape)}")
    weights = torch.softmax(confidence, dim=1)
    return (weights * warped).sum(dim=1), weights


def random_jitter(images: torch.Tensor, translate: float = 0.05, scale: float = 0.1,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Mild per-image spatial jitter on the device: a random zoom in [1, 1/(1-scale)] and a random
    shift of up to ±translate of the image size, bilinear, border padding.

    Mirrors the reference data loader, which random-crops 170-190 px out of a 190 px centre crop of
    each frame independently and resizes back: frames of a tuple never line up exactly, so the
    flow has to come from the embeddings and not from a fixed alignment.
    """
    if translate <= 0 and scale <= 0:
        return images
    n = images.shape[0]
    dev, dt = images.device, images.dtype
    u = torch.rand(n, 3, generator=generator, device=dev).to(dt)  # generator must live on images.device
    # zoom factor z <= 1 (the sampled window is z times the image): 1 - scale*u
    z = 1.0 - scale * u[:, 0]
    tx = (2.0 * u[:, 1] - 1.0) * 2.0 * translate  # normalised units: the image spans 2
    ty = (2.0 * u[:, 2] - 1.0) * 2.0 * translate
    theta = torch.zeros(n, 2, 3, device=dev, dtype=dt)
    theta[:, 0, 0] = z
    theta[:, 1, 1] = z
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(images.shape), align_corners=ALIGN_CORNERS)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=ALIGN_CORNERS)


def random_elastic(images: torch.Tensor, amplitude: float, grid: int = 4,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A smooth random local warp per image: offsets drawn uniformly in ±amplitude (a fraction of the
    image size) on a (grid+1)x(grid+1) lattice, interpolated bicubically over the image."""
    if amplitude <= 0:
        return images
    n, _, h, w = images.shape
    u = torch.rand(n, 2, grid + 1, grid + 1, generator=generator, device=images.device).to(images.dtype)
    coarse = (2.0 * u - 1.0) * 2.0 * amplitude  # normalised units: the image spans 2
    return warp(images, F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=ALIGN_CORNERS))


def tuple_consistent_augment(frames: torch.Tensor, grayscale: float = 0.0, flip: float = 0.0,
                             generator: torch.Generator | None = None) -> torch.Tensor:
    """Turn whole tuples grey (probability `grayscale`) and mirror whole tuples (probability `flip`),
    every frame of a tuple alike, so the flow between them is still a flow: frames (B,K,3,H,W) in [0,1].

    Why: FAb-Net learns only from face tracks, often a few colour clips, while the faces it is then
    asked about may be grey photos (94 % of the shared expression photos); a consistent change of the
    whole tuple widens what the encoder sees without making the target unreachable from the source.
    """
    if grayscale <= 0 and flip <= 0:
        return frames
    b = frames.shape[0]
    u = torch.rand(b, 2, generator=generator, device=frames.device)
    if grayscale > 0:
        luma = grey(frames.flatten(0, 1)).view(*frames.shape[:2], 1, *frames.shape[3:])
        turn = (u[:, 0] < grayscale).view(b, 1, 1, 1, 1)
        frames = torch.where(turn, luma.expand_as(frames), frames)
    if flip > 0:
        mirror = (u[:, 1] < flip).view(b, 1, 1, 1, 1)
        frames = torch.where(mirror, frames.flip(-1), frames)
    return frames
