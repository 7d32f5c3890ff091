"""What each demo scale runs: the same study, sized for 2 CPU cores (tiny, small) or a GPU (paper)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from facessl.errors import FacesslError

CONFIG_DIR = Path(__file__).resolve().parents[3] / "configs"  # the repository's configs/ (editable install)


@dataclass(frozen=True)
class DemoPlan:
    data_scale: str  # facessl synth --scale
    backbone: str  # one backbone for every method ("same backbone and budget")
    steps: int  # optimiser iterations per method
    batch_size: int
    size: int = 64  # training and probing input size (the data is written at 64 px and resized on load)
    width: float = 1.0  # backbone width multiplier
    config_suffix: str = "synth"  # configs/<method>_<suffix>.yaml
    eval_seeds: int = 3
    eval_epochs: int = 100
    supervised_epochs: int = 10  # the cap: the supervised row stops early on its validation split
    pretrain_seeds: int = 2  # pretraining seeds of the methods the papers' claims compare
    seeded_methods: tuple = ("simclr", "pcl")
    ablation_steps: int = 0  # steps of each `facessl ablate` run (the ablation is not part of the demo)
    ablation_seeds: int = 1
    methods: tuple = ("simclr", "pcl", "fabnet")
    overrides: dict = field(default_factory=dict)  # method -> extra key=value overrides
    precision: str = "auto"  # train.precision of every pretraining run
    probe_sizes: dict = field(default_factory=dict)  # table column -> its probes' input size (default: size)
    supervised_precision: str = "auto"  # the supervised rows' arithmetic (facessl eval --supervised-precision)
    random_inits: int = 1  # initialisations of the random-weights row (facessl eval --random-inits)
    # how that row is drawn: the architecture as its config builds it (since session 24; before, a copy re-initialised
    # with PyTorch's default init). Recorded in plan.json, so a directory whose random row was drawn the old way
    # is refused rather than reported under the new description
    random_init: str = "architecture"
    # the supervised rows' learning rates (facessl.evaluate.baselines.SUPERVISED_LR; since session 25 landmarks train at
    # 3e-3), recorded in plan.json for the same reason: a directory whose supervised rows trained otherwise is refused
    # (a copy of that table, not an import: it would load torch with the plan; a test keeps the two equal)
    supervised_lrs: dict = field(default_factory=lambda: {"landmarks": 3e-3, "other tasks": 1e-3})
    # LFW / CPLFW's supervised row: the identity classifier's epoch cap (facessl eval --identity-epochs; trained on
    # the pretraining frames' identities, evaluate/identity.py)
    identity_epochs: int = 4


PLANS = {
    # A smoke run of the whole pipeline (tests, a first look): a couple of minutes on 2 cores.
    "tiny": DemoPlan(data_scale="small", backbone="small", steps=6, batch_size=16, size=32, eval_seeds=1, eval_epochs=20,
                     supervised_epochs=1, ablation_steps=3, probe_sizes={"RAF-DB": 48}, identity_epochs=1),
    # `make demo`: the study on 2 CPU cores in under 20 minutes; size, width, lr and steps chosen on a
    # separately generated validation build (docs/demo_study.md).
    # A fresh-clone run at 480 steps, one stage at a time, took 20 min 53 s (400 steps: 18 min 16 s). A step
    # of this model gains little from a second thread, so the stages now run two at a time, one thread
    # each (facessl.demo.stages): 1,000 steps took 18 min 23 s (docs/demo_study.md).
    # PCL's face views: the paper's SimCLR views, not the reference code's distance crops, which at 32 px
    # are two 13 px patches. Validation build, 1,000 steps, seeds 0 / 1: AFLW2000 MAE 14.13 / 14.31 against
    # 15.72 / 15.91 with distance crops, 300-W NME 36.74 / 37.29 against 41.14 / 40.07 (docs/demo_study.md).
    # SimCLR's crops (and PCL's face views with them) keep at least half the face and its proportions
    # (area 0.5-1, aspect ratio 1): on the validation build, 2 seeds each, SimCLR's LFW 60.50 against 55.50
    # (random 52.33) with pose and landmarks unchanged, PCL's AFLW2000 14.05 against 14.40° and its 300-W
    # 38.79 against 36.82; the demo targets met there went from 4 to 5 (docs/demo_study.md, session 16).
    # Pretraining precision auto: bf16 autocast where the CPU computes bf16 natively (AVX-512 BF16, AMX), fp32 elsewhere
    # (on AVX2 bf16 is several times slower). Sessions 19-26 pinned fp32, because every setting had been chosen in fp32
    # and bf16 had saved only 14 s of an 18-minute demo. Session 27 measured it again on an AVX-512 BF16 CPU with the demo's
    # two runs side by side: PCL 1,000 steps in 451 / 455 s against 656 / 675 s, SimCLR 113 / 120 against 149 / 141 s,
    # FAb-Net 164 against 259 s. On the validation build the two precisions are level within the seeds' spread (SimCLR:
    # every cell within 0.4 except FER-2013; PCL: RAF-DB 30.54 against 32.54 %, AFLW2000 11.75 against 11.22 deg, 300-W
    # 39.64 against 43.02 NME; FAb-Net level or better), and the targets met there are as many (docs/demo_study.md).
    # Since session 28 every backbone's stem computes in fp32 under autocast (models.registry.StemConv2d): PCL's
    # AFLW2000 on the validation build 11.30 against 11.75 deg with the stem in bf16 (fp32: 11.22).
    # RAF-DB and AFLW2000 are probed at 64 px, the rest at 32 (the reference probes each task at its own size, larger
    # than its 64 px pretraining: expression at 100 px, pose at 256). On the validation build, the demo's weights
    # (SimCLR, PCL; seeds 0 / 1) at 64 against 32 px: RAF-DB 38.17 / 45.08, 30.75 / 34.33 against 25.58 / 27.00,
    # 25.67 / 25.67 (random weights 25.67 at both); AFLW2000 0.71-0.74 x random weights against 0.77-0.80 x (48 and
    # 40 px: PCL 0.77-0.79 x, no better than 32; session 21). 300-W gains too (0.75-0.81 against 0.84-1.04 x) but
    # meets its target at 32 px. LFW gains less over random at 64 (docs/demo_study.md, sessions 20-21).
    # The random-weights row is drawn twice (as many as the pretraining seeds): on LFW five draws ranged over
    # 5.7 points (docs/demo_study.md, session 23), so one draw is no floor.
    # The supervised rows train in bf16 autocast where the CPU computes bf16 natively (supervised_precision auto;
    # a 64 px step 1.7-1.9x faster on the AMD EPYC of sessions 19-21), which pays for part of AFLW2000 at 64 px.
    # Their cap is 20 epochs (25 until session 35; the cosine decay spans the cap): on the validation build, with the
    # demo's recipe otherwise, RAF-DB 82.67 against 85.83 %, FER-2013 68.33 / 70.00, AFLW2000 5.21 / 5.10 deg, DISFA F1
    # 40.71 / 40.26 and AUC 77.02 / 76.73, 300-W 23.39 / 23.18, MAFL 7.73 / 7.51, BU-3DFE 92.06 / 91.27: still far
    # above every self-supervised row, for 20 % less of the baselines stage's time (392 against 470 s with the random
    # rows; session 36, docs/demo_study.md), which keeps the demo within its 20 minutes on this machine's slower hours.
    "small": DemoPlan(data_scale="default", backbone="small", steps=1000, batch_size=64, size=32, eval_seeds=2,
                      supervised_epochs=20, ablation_steps=1000, ablation_seeds=2,
                      probe_sizes={"RAF-DB": 64, "AFLW2000": 64}, random_inits=2,
                      overrides={"simclr": ("method.crop_min_scale=0.5", "method.crop_max_aspect=1"),
                                 "pcl": ("method.face_views=simclr", "method.face_crop_min_scale=0.5",
                                         "method.face_crop_max_aspect=1")}),
    # The same study at the papers' settings on a GPU (facecycle backbone, paper configs, larger data).
    "paper": DemoPlan(data_scale="large", backbone="facecycle", steps=20000, batch_size=256, config_suffix="voxceleb",
                      eval_seeds=3, eval_epochs=300, supervised_epochs=60, pretrain_seeds=3, ablation_steps=10000,
                      ablation_seeds=3, random_inits=3, identity_epochs=10),
}


PRECISIONS = ("auto", "fp32", "bf16")


def get_plan(scale: str, precision: str | None = None) -> DemoPlan:
    """The scale's plan; `precision` (facessl demo/ablate --precision) replaces its pretraining precision, e.g. fp32
    on a CPU where auto means bf16, to reproduce a table made on an AVX2 machine (recorded in plan.json as any field)."""
    if scale not in PLANS:
        raise FacesslError(f"unknown --scale {scale!r}; expected one of {', '.join(PLANS)}")
    if precision is None:
        return PLANS[scale]
    if precision not in PRECISIONS:
        raise FacesslError(f"unknown --precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    return replace(PLANS[scale], precision=precision)


def config_path(method: str, plan: DemoPlan) -> Path:
    path = CONFIG_DIR / f"{method}_{plan.config_suffix}.yaml"
    if not path.is_file():
        raise FacesslError(f"{path}: config not found (run facessl from a checkout of the repository)")
    return path


# `facessl ablate --seeds/--steps` change these for its own runs, whose stages are named apart
ABLATION_FIELDS = ("ablation_steps", "ablation_seeds")


def check_made_with(out: Path, plan: DemoPlan, seed: int) -> None:
    """A demo directory's finished stages are reused by the next run, so they must come from this same plan and
    seed: the first run records them (plan.json); another plan (another --scale or --seed, or a facessl whose
    plan changed, e.g. a probe size) is refused, instead of mixing stale stages into a report that names the new
    settings."""
    from facessl.demo.stages import check_recorded

    wanted = {k: v for k, v in asdict(plan).items() if k not in ABLATION_FIELDS}
    check_recorded(Path(out), "plan.json", {"seed": seed, **wanted}, "demo plan", "plan")
