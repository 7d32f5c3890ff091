"""Every "A beats B" of the demo's report, decided by one rule, and the verdict on each paper claim.

The rule (`compare`): A beats B when A is better than B by more than the combined spread
sqrt(spread_A² + spread_B²); B beats A the other way round; otherwise they are level. A row of one
value (one seed: results/tables.json holds its spread as null) has no spread to measure a difference against, so
it decides nothing ('spread not measured'); a plain number (a fixed threshold) has spread 0.
Rows are {metric_key: [mean, spread]} as in results/tables.json.

A claim is 'reproduced' when the paper's direction wins by the rule, 'not reproduced' when the
opposite direction wins by the rule, and 'inconclusive' when the two are level (or a row is missing, or a
value is NaN or infinite: a diverged probe neither wins nor loses).
A claim with two halves ("F_p holds pose and F_f does not") needs both: see split_claim.
"""
from __future__ import annotations

import math

LOWER_IS_BETTER = ("mae", "nme", "error")

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
NOT_FINITE = "not finite"  # compare's outcome when a value is NaN or infinite
NO_SPREAD = "spread not measured"  # compare's outcome when a row holds one value (one seed)
UNDECIDED = ("missing", NOT_FINITE, NO_SPREAD)  # outcomes that decide no claim
LABELS = {"simclr": "SimCLR", "pcl": "PCL F_s", "fabnet": "FAb-Net", "random": "random weights", "ff": "F_f",
          "fp": "F_p", "fs": "F_s", "supervised": "supervised"}


def label(name: str) -> str:
    return LABELS.get(name, name)


def lower_is_better(metric: str) -> bool:
    return any(word in metric.split("/")[-1] for word in LOWER_IS_BETTER)


def _pair(value):
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value), 0.0
    mean, spread = (list(value) + [None])[:2]
    return (None if mean is None else float(mean)), (None if spread is None else float(spread))


def compare(a, b, lower: bool = False) -> str:
    """'better' (a beats b beyond the combined spread), 'worse' (b beats a), 'level', 'missing', 'not finite'
    (a mean or spread is NaN or infinite: NaN compares as neither, and an infinite error would 'lose' to anything,
    yet both only say the probe diverged; verdict_of makes it inconclusive), or 'spread not measured' (a row of one
    value: any difference would count as beyond a spread of 0)."""
    a, b = _pair(a), _pair(b)
    if a is None or b is None or a[0] is None or b[0] is None:
        return "missing"
    if not (math.isfinite(a[0]) and math.isfinite(b[0])):  # a diverged probe says more than its missing spread
        return NOT_FINITE
    if a[1] is None or b[1] is None:
        return NO_SPREAD
    if not (math.isfinite(a[1]) and math.isfinite(b[1])):
        return NOT_FINITE
    diff = (b[0] - a[0]) if lower else (a[0] - b[0])
    margin = math.hypot(a[1], b[1])
    if diff > margin:
        return "better"
    if -diff > margin:
        return "worse"
    return "level"


def verdict_of(outcome: str) -> str:
    return {"better": REPRODUCED, "worse": NOT_REPRODUCED}.get(outcome, INCONCLUSIVE)


def sentence(name_a: str, name_b: str, outcome: str) -> str:
    """The report's wording for one comparison (only 'beats' when the rule says so)."""
    return {"better": f"{name_a} beats {name_b}", "worse": f"{name_b} beats {name_a}",
            "level": f"{name_a} and {name_b} are level (within the combined spread)",
            "missing": f"{name_a} vs {name_b}: not measured",
            NOT_FINITE: f"{name_a} vs {name_b}: a value is not finite (NaN or infinite), no comparison",
            NO_SPREAD: f"{name_a} vs {name_b}: one value on a side, its spread not measured (run 2 or more seeds), "
                       f"no comparison"}[outcome]


def _entry(claim: str, verdict: str, numbers: dict, why: str) -> dict:
    return {"claim": claim, "verdict": verdict, "numbers": numbers, "rule": why}


def _numbers(rows: dict, metric: str, names) -> dict:
    return {f"{label(name)} {metric}": rows.get(name, {}).get(metric) for name in names}


def pairwise_claim(claim: str, rows: dict, a: str, b: str, metric: str, floor=None) -> dict:
    """a beats b -> reproduced, b beats a -> not reproduced. With `floor` (the random-weights value of
    the metric), a win counts only when the winner also beats the floor: two rows that both sit at
    chance level can differ beyond their spread, and that says nothing about what either learned."""
    lower = lower_is_better(metric)
    value_a, value_b = rows.get(a, {}).get(metric), rows.get(b, {}).get(metric)
    outcome = compare(value_a, value_b, lower)
    numbers, why = _numbers(rows, metric, (a, b)), sentence(label(a), label(b), outcome)
    if floor is not None and outcome in ("better", "worse"):
        winner = a if outcome == "better" else b
        numbers[f"random weights {metric}"] = floor
        if not _winner_beats_floor(outcome, value_a, value_b, floor, lower):
            return _entry(claim, INCONCLUSIVE, numbers,
                          f"{why}, but {label(winner)} does not beat random weights: no signal to compare")
    return _entry(claim, verdict_of(outcome), numbers, why)


def _winner_beats_floor(outcome: str, a, b, floor, lower: bool) -> bool:
    """Whether the winner of a decided comparison of a and b also beats the random-weights floor."""
    return compare(a if outcome == "better" else b, floor, lower) == "better"


def split_claim(claim: str, rows: dict, holder: str, other: str, metric: str, floor=None) -> dict:
    """`holder` holds what `metric` measures and `other` does not (PCL: F_p holds pose, F_f does not).

    Both halves are decided by the rule. Reproduced: holder beats other, holder beats random weights, and other
    does not beat random weights (it holds no more than an untrained net). Not reproduced: other beats random
    weights (it holds the factor too, whatever holder's lead; this covers other beating holder, since a winner
    must beat random weights to count, as in pairwise_claim). Otherwise inconclusive. Without the random-weights
    value the second half cannot be decided, and only 'other beats holder' decides."""
    lower = lower_is_better(metric)
    value_h, value_o = rows.get(holder, {}).get(metric), rows.get(other, {}).get(metric)
    first = compare(value_h, value_o, lower)
    numbers, why = _numbers(rows, metric, (holder, other)), sentence(label(holder), label(other), first)
    if first in UNDECIDED:
        return _entry(claim, INCONCLUSIVE, numbers, why)
    if floor is None:
        if first == "worse":
            return _entry(claim, NOT_REPRODUCED, numbers, why)
        return _entry(claim, INCONCLUSIVE, numbers, f"{why}; random weights not measured, so whether "
                                                    f"{label(other)} holds it is not known")
    numbers[f"random weights {metric}"] = floor
    other_vs_floor = compare(value_o, floor, lower)
    why = f"{why}; {sentence(label(other), 'random weights', other_vs_floor)}"
    if other_vs_floor == "better":
        return _entry(claim, NOT_REPRODUCED, numbers, f"{why}: {label(other)} holds it too")
    if first == "better" and compare(value_h, floor, lower) == "better":
        return _entry(claim, REPRODUCED, numbers, why)
    return _entry(claim, INCONCLUSIVE, numbers, why)


def all_claim(claim: str, rows: dict, a: str, b: str, metrics) -> dict:
    """a beats b on every metric -> reproduced; b beats a on any -> not reproduced; else inconclusive."""
    outcomes = {m: compare(rows.get(a, {}).get(m), rows.get(b, {}).get(m), lower_is_better(m)) for m in metrics}
    if all(o == "better" for o in outcomes.values()):
        verdict = REPRODUCED
    elif any(o == "worse" for o in outcomes.values()):
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    numbers = {}
    for m in metrics:
        numbers.update(_numbers(rows, m, (a, b)))
    return _entry(claim, verdict, numbers, "; ".join(f"{m}: {sentence(label(a), label(b), o)}" for m, o in outcomes.items()))


def ordered_claim(claim: str, ablation: dict | None, order, metric: str, floor=None) -> dict:
    """The ablation rows improve in `order`: no step worse than the previous beyond the spread and the
    last beats the first -> reproduced; a step worse beyond the spread -> not reproduced. With `floor`
    (the random-weights value), as in pairwise_claim, a step or the overall comparison is decided only when
    its winner beats the floor; otherwise it counts as level (no signal)."""
    if not ablation or not all(step in ablation for step in order):
        return _entry(claim, INCONCLUSIVE, {}, "not run in the demo: `facessl ablate` measures it")
    lower = lower_is_better(metric)
    values = [ablation[step].get(metric) for step in order]

    def decide(a, b) -> str:
        outcome = compare(a, b, lower)
        if floor is not None and outcome in ("better", "worse") and not _winner_beats_floor(outcome, a, b, floor, lower):
            return f"{outcome}, but its winner does not beat random weights: no signal"
        return outcome

    steps = [decide(values[i + 1], values[i]) for i in range(len(order) - 1)]
    overall = decide(values[-1], values[0])
    if "worse" in steps:
        verdict = NOT_REPRODUCED
    elif overall == "better":
        verdict = REPRODUCED
    else:
        verdict = INCONCLUSIVE
    why = "; ".join(f"{order[i + 1]} vs {order[i]}: {o}" for i, o in enumerate(steps)) + f"; last vs first: {overall}"
    numbers = {f"{s} {metric}": v for s, v in zip(order, values)}
    if floor is not None:
        numbers[f"random weights {metric}"] = floor
    return _entry(claim, verdict, numbers, why)


def retrieval_claim(claim: str, retrieval: dict | None) -> dict:
    if not retrieval:
        return _entry(claim, INCONCLUSIVE, {}, "retrieval not measured")
    nn = [retrieval["neighbour_yaw_error"], retrieval.get("neighbour_yaw_error_se")]
    rand = [retrieval["random_yaw_error"], retrieval.get("random_yaw_error_se")]
    outcome = compare(nn, rand, lower=True)
    return _entry(claim, verdict_of(outcome), {"top-5 neighbour |Δyaw| °": nn, "random pair |Δyaw| °": rand},
                  sentence("top-5 cross-identity neighbours", "random pairs", outcome) + " on |Δyaw| (± standard error)")


def paper_claims(main: dict, features: dict, ablation: dict | None, analysis: dict) -> list[dict]:
    """The verdict on each claim of the two papers, from the demo's tables (see module docstring)."""
    def floor(metric):
        return main.get("random", {}).get(metric)

    claims = [
        pairwise_claim("PCL beats SimCLR on head pose (AFLW2000 MAE)", main, "pcl", "simclr", "aflw2000/mae",
                       floor("aflw2000/mae")),
        pairwise_claim("PCL beats SimCLR on action units (DISFA mean F1)", main, "pcl", "simclr", "disfa/f1_mean",
                       floor("disfa/f1_mean")),
        pairwise_claim("PCL beats SimCLR on expression (RAF-DB accuracy)", main, "pcl", "simclr", "rafdb/accuracy",
                       floor("rafdb/accuracy")),
        pairwise_claim("PCL beats SimCLR on verification (LFW accuracy)", main, "pcl", "simclr", "lfw/accuracy",
                       floor("lfw/accuracy")),
        split_claim("F_p holds pose and F_f does not (AFLW2000 MAE from F_p vs F_f)", features, "fp", "ff",
                    "aflw2000/mae", floor("aflw2000/mae")),
        ordered_claim("The ablation is ordered: SimCLR < + L_dis < + L_orth < + L_pose < + DWA (RAF-DB)", ablation,
                      ("simclr", "+l_dis", "+l_orth", "+l_pose", "+dwa"), "rafdb/accuracy", floor("rafdb/accuracy")),
        all_claim("FAb-Net encodes pose and landmarks (beats random weights on AFLW2000 MAE, 300-W and MAFL NME)",
                  main, "fabnet", "random", ("aflw2000/mae", "300w/nme", "mafl/nme")),
        retrieval_claim("FAb-Net retrieval finds the same pose across identities", analysis.get("fabnet", {}).get("retrieval")),
    ]
    return claims


TARGETS = (  # (method row, metric, kind, amount): ratio = at most amount x random; points = at least random + amount
    ("simclr", "aflw2000/mae", "ratio", 0.8), ("simclr", "lfw/accuracy", "points", 8.0),
    ("simclr", "300w/nme", "ratio", 0.9), ("simclr", "rafdb/accuracy", "points", 5.0),
    ("pcl", "aflw2000/mae", "ratio", 0.8), ("pcl", "lfw/accuracy", "points", 8.0),
    ("pcl", "300w/nme", "ratio", 0.9), ("pcl", "rafdb/accuracy", "points", 5.0),
    ("fabnet", "300w/nme", "beats", None), ("fabnet", "mafl/nme", "beats", None), ("fabnet", "aflw2000/mae", "beats", None),
)


def targets(main: dict) -> list[dict]:
    """The demo's targets against random weights: each met only when the threshold holds AND the
    method beats random beyond the combined spread. Each carries the supervised row's value too (the same
    architecture trained with labels: how far the column reaches), where the table has one."""
    out = []
    for row, metric, kind, amount in TARGETS:
        value, random = main.get(row, {}).get(metric), main.get("random", {}).get(metric)
        bound = {"supervised": main["supervised"][metric]} if metric in main.get("supervised", {}) else {}
        if value is None or random is None or value[0] is None or random[0] is None:
            out.append({"row": row, "metric": metric, "target": kind, "met": None, **bound})
            continue
        outcome = compare(value, random, lower_is_better(metric))
        if outcome in (NOT_FINITE, NO_SPREAD):  # neither met nor missed; the numbers stay, so that the table shows which
            why = {"not_finite": True} if outcome == NOT_FINITE else {"spread_not_measured": True}
            out.append({"row": row, "metric": metric, "target": kind, "value": value, "random": random,
                        "met": None, **why, **bound})
            continue
        if kind == "ratio":
            threshold, ok = amount * random[0], value[0] <= amount * random[0]
            target = f"≤ {amount:g} × random = {threshold:.2f}"
        elif kind == "points":
            threshold, ok = random[0] + amount, value[0] >= random[0] + amount
            target = f"≥ random + {amount:g} = {threshold:.2f}"
        else:
            ok, target = True, "beats random"
        out.append({"row": row, "metric": metric, "target": target, "value": value, "random": random,
                    "beyond_spread": outcome == "better", "met": bool(ok and outcome == "better"), **bound})
    return out
