"""The report's opening tables: the verdict on each paper claim (results/verdicts.json) and the
demo's targets against random weights (results/targets.json); see facessl.demo.verdicts."""
from __future__ import annotations

from facessl.report.sections import Table
from facessl.report.tables import format_mean_std


def _number(value) -> str:
    if isinstance(value, (list, tuple)):
        return format_mean_std(*(list(value) + [None])[:2])
    return format_mean_std(value) if isinstance(value, (int, float)) else "—"


def _target_result(target: dict) -> str:
    if target.get("not_finite"):
        return "inconclusive (not finite)"
    if target.get("spread_not_measured"):
        return "inconclusive (one seed: spread not measured)"
    return {True: "met", False: "missed", None: "not measured"}[target.get("met")]


def verdict_table(claims: list[dict]) -> Table:
    # the verdict first: the claims are long, and a narrow window must still show the answer
    rows = [[c["verdict"], c["claim"], "; ".join(f"{k} {_number(v)}" for k, v in c.get("numbers", {}).items()) or "—",
             c.get("rule", "")] for c in claims]
    return Table(["verdict at this budget", "claim (PCL, CVPR 2023; FAb-Net, BMVC 2018)", "numbers (mean ± spread)",
                  "decided by"], rows, align=["left", "left", "left", "left"],
                 emphasis={(i, 0) for i, c in enumerate(claims) if c["verdict"] == "reproduced"},
                 caption="Reproduced: the paper's direction wins by more than the combined spread "
                         "sqrt(s_A² + s_B²), its winner beating random weights; not reproduced: the opposite direction "
                         "does; inconclusive: level. A claim of two halves (F_p holds pose and F_f does not) needs both.")


def targets_table(targets: list[dict]) -> Table:
    rows = [[t["row"], t["metric"], t.get("target", ""), _number(t.get("value")), _number(t.get("random")),
             _number(t.get("supervised")), _target_result(t)] for t in targets]
    return Table(["method", "metric", "target", "measured", "random weights", "supervised", "result"], rows,
                 caption="A target is met when its threshold holds and the method beats random weights "
                         "beyond the combined spread. Supervised: the same architecture trained with the task's "
                         "labels (LFW: the pretraining frames' identities), how far the column reaches.")
