"""Inputs the cases share, built once per session on first use: a tiny config, a face-track tree,
a trained 2-step checkpoint run and small valid datasets of every benchmark format (cases copy
what they corrupt)."""
from __future__ import annotations

import shutil
from functools import cached_property
from pathlib import Path

import numpy as np
import yaml

TINY = {
    "seed": 0,
    "method": {"name": "simclr", "proj_hidden": 32, "proj_dim": 16},
    "backbone": {"name": "small", "width": 0.25},
    "data": {"layout": "voxceleb", "size": 32, "workers": 0},
    "optim": {"name": "adam", "lr": 1.0e-3, "warmup_steps": 0},
    "train": {"steps": 1, "batch_size": 6, "precision": "fp32", "device": "cpu", "channels_last": False,
              "checkpoint_every": 1, "keep_checkpoints": 3, "log_every": 1, "image_every": 0},
}


def faces(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def write_yaml(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Shared:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @cached_property
    def config(self) -> Path:
        return write_yaml(self.root / "tiny.yaml", TINY)

    @cached_property
    def tree(self) -> Path:
        from train_helpers import make_track_tree

        return make_track_tree(self.root / "tree", identities=3, videos=1, tracks=2, frames=3, size=32)

    @cached_property
    def run(self) -> Path:
        """A run trained 2 steps with a checkpoint after each (step_00000001, step_00000002)."""
        from facessl.config import load_config
        from facessl.engine.train import train

        cfg = load_config(self.config, ["train.steps=2", f"data.path={self.tree}"])
        train(cfg, self.root / "run", quiet=True)
        return self.root / "run"

    def run_copy(self, dst: Path) -> Path:
        shutil.copytree(self.run, dst)
        return dst

    def newest_checkpoint(self, run: Path) -> Path:
        return sorted((run / "checkpoints").glob("step_*"))[-1]

    @cached_property
    def images(self) -> Path:
        """A folder of 4 small photos (embed input)."""
        from PIL import Image

        folder = self.root / "photos"
        folder.mkdir()
        for i, img in enumerate(faces(4)):
            Image.fromarray(img).save(folder / f"p{i}.jpg")
        return folder

    @cached_property
    def odd_images(self) -> Path:
        """Photos in the modes real files carry: L, LA, P, RGBA, CMYK, 16-bit grey, and a PNG."""
        from PIL import Image

        folder = self.root / "odd"
        folder.mkdir()
        rgb = Image.fromarray(faces(1, 40)[0])
        rgb.convert("L").save(folder / "grey.jpg")
        rgb.convert("LA").save(folder / "grey_alpha.png")
        rgb.convert("P").save(folder / "palette.png")
        rgb.convert("RGBA").save(folder / "rgba.png")
        rgb.convert("CMYK").save(folder / "cmyk.jpg")
        Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257)).save(folder / "grey16.png")
        rgb.save(folder / "plain.bmp")
        return folder

    # ---- benchmark formats (written fresh into the case's folder: cases damage them) -------------
    def rafdb(self, root: Path) -> Path:
        from facessl.data.formats.rafdb import RafdbWriter

        w = RafdbWriter(root)
        for i, img in enumerate(faces(8)):
            w.add(img, i % 7, "train" if i < 6 else "test")
        w.close()
        return root

    def fer2013(self, root: Path) -> Path:
        from facessl.data.formats.fer2013 import Fer2013Writer

        root.mkdir(parents=True, exist_ok=True)
        with Fer2013Writer(root / "fer2013.csv") as w:
            for i, img in enumerate(faces(9)):
                w.add(img, i % 7, ("Training", "PublicTest", "PrivateTest")[i // 4] if i < 8 else "PrivateTest")
        return root

    def lfw(self, root: Path) -> Path:
        from facessl.data.formats.lfw import LfwWriter, person_name

        w = LfwWriter(root)
        names = [person_name(i) for i in range(4)]
        for name in names:
            for img in faces(2, seed=len(name)):
                w.add(name, img)
        w.write_pairs([([(names[0], 1, 2)], [(names[1], 1, names[2], 1)]),
                       ([(names[3], 1, 2)], [(names[0], 1, names[3], 2)])])
        return root

    def aflw2000(self, root: Path, n: int = 6, stem: str = "image{:05d}") -> Path:
        from facessl.data.formats.aflw2000 import PoseMatWriter

        w = PoseMatWriter(root)
        rng = np.random.default_rng(1)
        marks = rng.uniform(4, 28, (68, 2))
        for i, img in enumerate(faces(n)):
            w.add(stem.format(i + 2), img, rng.uniform(-40, 40, 3), marks)
        return root

    def w300lp(self, root: Path) -> Path:
        from facessl.data.formats.aflw2000 import PoseMatWriter

        w = PoseMatWriter(root, landmark_field="pt2d")
        rng = np.random.default_rng(2)
        marks = rng.uniform(4, 28, (68, 2))
        for i, img in enumerate(faces(8, seed=3)):
            w.add(f"AFW/AFW_{i}_1_0", img, rng.uniform(-40, 40, 3), marks)
        return root

    def disfa(self, root: Path) -> Path:
        from facessl.data.formats.disfa import DisfaWriter

        w = DisfaWriter(root)
        for s in range(3):  # the protocol's 3 subject-exclusive folds need 3 subjects
            w.add_subject(f"SN00{s + 1}", faces(4, seed=s), np.random.default_rng(s).integers(0, 4, (4, 8)))
        return root

    def w300(self, root: Path) -> Path:
        from facessl.data.formats.w300 import W300Writer

        w = W300Writer(root)
        marks = np.random.default_rng(4).uniform(4, 28, (68, 2))
        for i, img in enumerate(faces(6)):
            w.add("afw" if i < 4 else "ibug", f"img{i}.jpg", img, marks + i)
        return root

    def mafl(self, root: Path) -> Path:
        from facessl.data.formats.mafl import MaflWriter

        w = MaflWriter(root)
        marks = np.random.default_rng(5).uniform(4, 28, (5, 2))
        for i, img in enumerate(faces(6)):
            w.add(img, marks, "train" if i < 4 else "test")
        w.close()
        return root

    def bu3dfe(self, root: Path) -> Path:
        from facessl.data.formats.bu3dfe import YAW_CLASSES, Bu3dfeWriter, subject_name

        w = Bu3dfeWriter(root)
        for i, img in enumerate(faces(6)):
            w.add(subject_name(i % 2, i % 2 == 0), i % 7, 1 + i % 4, "WH", YAW_CLASSES[i % len(YAW_CLASSES)], img, i % 2 == 1)
        w.close()
        return root
