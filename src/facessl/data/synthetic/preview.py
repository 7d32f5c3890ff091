"""A labelled PNG contact sheet of the generator: identities across yaw, pitch and roll, the 7 expressions,
each AU alone at 0 / 2.5 / 5, landmarks (green visible, red occluded) and random scenes."""
from __future__ import annotations

import torch
from PIL import Image, ImageDraw

from facessl.data.labels import AU_NAMES, EXPRESSIONS
from facessl.engine.io import atomic_path

from .params import EXPRESSION_PROTOTYPES, sample_identities, sample_poses, expression_aus
from .render import render
from .scene import plain_scene, sample_scene

COLUMNS = 8
CAPTION = 12


def _tiles(out, captions, tile: int, landmarks: bool = False) -> list[Image.Image]:
    tiles = []
    size = out.images.shape[1]
    for i, caption in enumerate(captions):
        im = Image.fromarray(out.images[i].cpu().numpy()).resize((tile, tile), Image.NEAREST)
        cell = Image.new("RGB", (tile, tile + CAPTION), (255, 255, 255))
        cell.paste(im, (0, CAPTION))
        draw = ImageDraw.Draw(cell)
        draw.text((2, 0), caption, fill=(0, 0, 0))
        if landmarks:
            k = tile / size
            for (x, y), vis in zip(out.landmarks[i].tolist(), out.visible[i].tolist()):
                cx, cy = x * k, y * k + CAPTION
                draw.rectangle((cx - 1, cy - 1, cx + 1, cy + 1), fill=(0, 230, 0) if vis else (255, 40, 40))
        tiles.append(cell)
    return tiles


def _grid(tiles: list[Image.Image], tile: int) -> Image.Image:
    rows = (len(tiles) + COLUMNS - 1) // COLUMNS
    sheet = Image.new("RGB", (COLUMNS * tile, rows * (tile + CAPTION)), (255, 255, 255))
    for i, cell in enumerate(tiles):
        sheet.paste(cell, ((i % COLUMNS) * tile, (i // COLUMNS) * (tile + CAPTION)))
    return sheet


def preview_sheet(path, size: int = 64, seed: int = 0) -> None:
    """Write the contact sheet PNG at `path`; faces rendered at `size` px, shown at >= 96 px per tile."""
    g = torch.Generator().manual_seed(seed)
    tile = max(size, 96)
    ids = sample_identities(8, g)
    tiles: list[Image.Image] = []

    def add(identity, pose, aus, captions, scene=None, landmarks=False):
        n = len(captions)
        out = render(identity, pose, aus, plain_scene(n) if scene is None else scene, size, generator=g)
        tiles.extend(_tiles(out, captions, tile, landmarks))

    yaws = [-90, -60, -30, 0, 30, 60, 90, 0]
    for i in range(3):
        pose = torch.tensor([[y, 0.0, 0.0] for y in yaws])
        pose[-1] = torch.tensor([0.0, 30.0 if i == 0 else -30.0, 0.0 if i < 2 else 30.0])
        caps = [f"yaw {y}" for y in yaws[:-1]] + ["pitch 30" if i == 0 else ("pitch -30" if i == 1 else "p-30 r30")]
        add(ids[i:i + 1].expand(8, -1), pose, torch.zeros(8, 8), caps)
    for i in (3, 4):
        aus = torch.cat([EXPRESSION_PROTOTYPES, expression_aus(torch.tensor([3]), g)])
        add(ids[i:i + 1].expand(8, -1), torch.tensor([[10.0 * (i - 3.5), 0, 0]]).expand(8, 3).clone(), aus,
            list(EXPRESSIONS) + ["happy (sampled)"])
    for level in (0.0, 2.5, 5.0):
        aus = torch.eye(8) * level
        add(ids[5:6].expand(8, -1), torch.zeros(8, 3), aus, [f"{name} {level:g}" for name in AU_NAMES])
    lm_pose = torch.tensor([[0.0, 0, 0], [25, 10, 0], [-40, -10, 10], [60, 0, -15], [-75, 15, 0], [90, 0, 0],
                            [15, -30, 25], [-20, 20, -30]])
    add(ids, lm_pose, expression_aus(torch.arange(8) % 7, g), [f"lm y{int(p[0])}" for p in lm_pose], landmarks=True)
    for _ in range(2):
        n = 8
        ids_r = sample_identities(n, g)
        add(ids_r, sample_poses(n, g), expression_aus(torch.randint(0, 7, (n,), generator=g), g),
            ["random scene"] * n, scene=sample_scene(n, g, occluder_rate=0.3))
    sheet = _grid(tiles, tile)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
