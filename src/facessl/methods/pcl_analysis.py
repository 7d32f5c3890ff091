"""Looking inside a trained PCL: reconstruction grids and the feature-swap disentanglement test.

Both run without gradients in eval mode on clean inputs (no PDD noise) and restore the mode after.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

from facessl.methods.pcl_views import to_unit

# rows of the reconstruction grid, top to bottom
GRID_ROWS = ("s", "s_hat", "D(ff,fp)", "D(ff,fp_hat)", "D(ff_hat,fp)", "D(ff)", "D(fp)", "D(fp_hat)")


@contextmanager
def evaluating(module: torch.nn.Module):
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was)


def reconstructions(method, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every image of GRID_ROWS for `images` (uint8 or float [0,1]): name -> (N,3,H,W) in [0,1].

    D(ff) alone / D(fp) alone: the other feature is zeroed before the combination (sum + normalise,
    or concatenation), as the paper's figure (d)-(f).
    """
    net = method.net
    with evaluating(method):
        s = to_unit(images)
        s_hat = method.views.pose_augment(s)
        ff, fp = net.split(s)
        ff_h, fp_h = net.split(s_hat)
        out = {"s": s, "s_hat": s_hat}
        if net.decoder is None:
            return out
        pairs = {"D(ff,fp)": (ff, fp), "D(ff,fp_hat)": (ff, fp_h), "D(ff_hat,fp)": (ff_h, fp),
                 "D(ff)": (ff, None), "D(fp)": (None, fp), "D(fp_hat)": (None, fp_h)}
        for name, (a, b) in pairs.items():
            out[name] = net.decoder.to_image(net.decode(a, b).float())
    return out


def grid_row_names(method) -> list[str]:
    """The GRID_ROWS a reconstruction grid of this model holds (parts switched off leave theirs out)."""
    return list(GRID_ROWS if method.net.decoder is not None else GRID_ROWS[:2])  # as reconstructions() gives them


def reconstruction_grid(method, images: torch.Tensor, columns: int = 8) -> torch.Tensor:
    """(rows*columns, 3, H, W): one row per GRID_ROWS entry, `columns` samples (white padding if fewer)."""
    recon = reconstructions(method, images[:columns])
    rows = []
    for name in GRID_ROWS:
        if name not in recon:
            continue
        row = recon[name]
        if row.shape[0] < columns:
            pad = torch.ones(columns - row.shape[0], *row.shape[1:], dtype=row.dtype, device=row.device)
            row = torch.cat([row, pad])
        rows.append(row)
    return torch.cat(rows)


def swap_test(method, images: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
    """Disentanglement check on held-out frames (uint8 or float [0,1], (N,3,H,W)).

    With s-hat the pose-augmented s (a mirror by default), mean per-pixel L1 of:
      fp_swap_to_target  D(F_f(s), F_p(s-hat)) vs s-hat   (low if the pose follows F_p)
      fp_swap_to_source  D(F_f(s), F_p(s-hat)) vs s       (higher if it does)
      ff_swap_to_target  D(F_f(s-hat), F_p(s)) vs s       (low if F_f carries no pose)
      ff_swap_to_source  D(F_f(s-hat), F_p(s)) vs s-hat
    plus recon (D(F_f(s), F_p(s)) vs s), pose_gap (L1 between s and s-hat themselves: how far apart
    the two targets are), fp_margin = fp_swap_to_source - fp_swap_to_target and ff_margin likewise;
    positive margins mean the swaps behave as disentangled features should.
    """
    net = method.net
    if net.decoder is None:
        from facessl.errors import FacesslError

        raise FacesslError("swap_test needs the PCL decoder (method.use_dis: true)")
    sums: dict[str, float] = {}
    count = 0
    device = next(method.parameters()).device
    with evaluating(method):
        for start in range(0, images.shape[0], batch_size):
            s = to_unit(images[start:start + batch_size].to(device))
            s_hat = method.views.pose_augment(s)
            ff, fp = net.split(s)
            ff_h, fp_h = net.split(s_hat)
            img = net.decoder.to_image
            a = img(net.decode(ff, fp_h).float())
            b = img(net.decode(ff_h, fp).float())
            rec = img(net.decode(ff, fp).float())
            n = s.shape[0]
            terms = {"fp_swap_to_target": F.l1_loss(a, s_hat), "fp_swap_to_source": F.l1_loss(a, s),
                     "ff_swap_to_target": F.l1_loss(b, s), "ff_swap_to_source": F.l1_loss(b, s_hat),
                     "recon": F.l1_loss(rec, s), "pose_gap": F.l1_loss(s_hat, s)}
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * n
            count += n
    out = {k: v / max(count, 1) for k, v in sums.items()}
    out["fp_margin"] = out["fp_swap_to_source"] - out["fp_swap_to_target"]
    out["ff_margin"] = out["ff_swap_to_source"] - out["ff_swap_to_target"]
    out["images"] = count
    return out
