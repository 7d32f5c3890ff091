"""argv helpers the case modules share."""
from pathlib import Path


def pretrain(work: Path, shared, *extra, data=None):
    return ["pretrain", "--config", shared.config, "--data", data or shared.tree, "--out", work / "run", "--quiet", *extra]


def evaluate(work: Path, shared, dataset: str, *extra, checkpoint=None):
    return ["eval", "--checkpoint", checkpoint or shared.run, "--dataset", dataset, "--out", work / "out",
            "--seeds", "1", "--epochs", "1", "--baselines", "none", "--no-cache", "--quiet", *extra]


def embed(work: Path, shared, *extra, checkpoint=None, images=None, out=None):
    return ["embed", "--checkpoint", checkpoint or shared.run, "--images", images or shared.images,
            "--out", out or work / "f.npy", "--quiet", *extra]
