"""The demo's comparison rule, claim verdicts, targets, and the pooling of pretraining seeds."""
import math
from pathlib import Path

import numpy as np

from facessl.demo import pipeline
from facessl.demo.verdicts import compare, paper_claims, targets


def test_compare_needs_a_difference_beyond_the_combined_spread():
    # combined spread of 3 and 4 is 5: a difference of 5.1 wins, 4.9 does not
    assert compare([60.1, 3.0], [55.0, 4.0]) == "better"
    assert compare([59.9, 3.0], [55.0, 4.0]) == "level"
    assert compare([55.0, 4.0], [60.1, 3.0]) == "worse"
    # lower is better (errors): the smaller mean wins
    assert compare([10.0, 0.1], [12.0, 0.1], lower=True) == "better"
    assert compare([10.0, 0.1], [12.0, 0.1], lower=False) == "worse"
    assert compare(None, [1.0, 0.0]) == "missing"
    # one value (one seed, spread null in tables.json): not a spread of 0, under which any difference would win
    assert compare([10.0, None], [10.5, None], lower=True) == "spread not measured"
    assert compare([10.0, 0.1], [12.0, None], lower=True) == "spread not measured"
    assert compare([10.0, 0.1], 12.0, lower=True) == "better"  # a plain number (a fixed threshold) has spread 0


def test_a_row_of_one_seed_decides_no_claim_and_meets_no_target():
    from facessl.report.verdicts import targets_table

    main = _main()
    main["pcl"] = {k: [v[0], None] for k, v in main["pcl"].items()}  # PCL pretrained and probed with one seed each
    claims = {c["claim"]: c for c in paper_claims(main, {}, None, {})}
    pose = claims["PCL beats SimCLR on head pose (AFLW2000 MAE)"]  # 13.0 against 14.0: a win at spread 0
    assert pose["verdict"] == "inconclusive" and "spread not measured" in pose["rule"]
    by = {(t["row"], t["metric"]): t for t in targets(main)}
    pcl_pose = by[("pcl", "aflw2000/mae")]  # 13.0 <= 0.8 x 18: the threshold holds, the spread is unknown
    assert pcl_pose["met"] is None and pcl_pose["spread_not_measured"] and pcl_pose["value"] == [13.0, None]
    assert by[("simclr", "aflw2000/mae")]["met"]  # the rows with their spreads are decided as before
    rows = targets_table(targets(main)).rows
    assert ["pcl", "aflw2000/mae"] + ["inconclusive (one seed: spread not measured)"] == rows[4][:2] + rows[4][-1:]


def _main():
    return {"random": {"aflw2000/mae": [18.0, 0.1], "lfw/accuracy": [50.0, 4.0], "300w/nme": [35.0, 0.1],
                       "rafdb/accuracy": [20.0, 0.5], "mafl/nme": [18.0, 0.1], "disfa/f1_mean": [27.0, 1.0]},
            "simclr": {"aflw2000/mae": [14.0, 0.3], "lfw/accuracy": [60.0, 4.0], "300w/nme": [30.0, 0.2],
                       "rafdb/accuracy": [23.0, 0.5], "disfa/f1_mean": [28.0, 1.0]},
            "pcl": {"aflw2000/mae": [13.0, 0.3], "lfw/accuracy": [59.0, 8.5], "300w/nme": [33.0, 0.2],
                    "rafdb/accuracy": [26.0, 0.5], "disfa/f1_mean": [27.5, 0.2]},
            "fabnet": {"aflw2000/mae": [15.0, 0.2], "300w/nme": [31.0, 0.2], "mafl/nme": [18.5, 0.1]}}


def test_claims_follow_the_rule():
    features = {"fp": {"aflw2000/mae": [15.0, 0.2]}, "ff": {"aflw2000/mae": [18.1, 0.2]}}  # F_f at random's 18.0
    retrieval = {"neighbour_yaw_error": 10.0, "random_yaw_error": 25.0, "neighbour_yaw_error_se": 1.0,
                 "random_yaw_error_se": 1.0}
    claims = {c["claim"].split(" (")[0]: c["verdict"] for c in paper_claims(_main(), features, None,
                                                                            {"fabnet": {"retrieval": retrieval}})}
    assert claims["PCL beats SimCLR on head pose"] == "reproduced"  # 13 vs 14, spread 0.42
    assert claims["PCL beats SimCLR on verification"] == "inconclusive"  # 59 vs 60, spread 9.4
    assert claims["PCL beats SimCLR on expression"] == "reproduced"
    assert claims["PCL beats SimCLR on action units"] == "inconclusive"  # SimCLR 0.5 ahead, spread 1.02
    assert claims["F_p holds pose and F_f does not"] == "reproduced"
    assert claims["The ablation is ordered: SimCLR < + L_dis < + L_orth < + L_pose < + DWA"] == "inconclusive"
    assert claims["FAb-Net encodes pose and landmarks"] == "not reproduced"  # random beats it on MAFL (18.5 vs 18.0)
    assert claims["FAb-Net retrieval finds the same pose across identities"] == "reproduced"


def _split_verdict(fp, ff, random=(18.0, 0.1)):
    main = {"random": {"aflw2000/mae": list(random)}} if random else {}
    features = {"fp": {"aflw2000/mae": list(fp)}, "ff": {"aflw2000/mae": list(ff)}}
    claim = next(c for c in paper_claims(main, features, None, {}) if c["claim"].startswith("F_p holds pose"))
    return claim["verdict"], claim["rule"]


def test_f_p_holds_pose_and_f_f_does_not_needs_both_halves():
    # F_p ahead and F_f no better than random weights: both halves hold
    assert _split_verdict((15.0, 0.2), (18.1, 0.2))[0] == "reproduced"
    # F_p ahead, but F_f also beats random weights (17.0 vs 18.0 beyond 0.22): F_f holds pose too
    verdict, rule = _split_verdict((15.0, 0.2), (17.0, 0.2))
    assert verdict == "not reproduced" and "F_f beats random weights" in rule and "F_f holds it too" in rule
    # F_f ahead of F_p (and of random weights): the first half fails
    assert _split_verdict((17.0, 0.2), (15.0, 0.2))[0] == "not reproduced"
    # F_f ahead of F_p, but both worse than random weights: a win without signal decides nothing
    assert _split_verdict((19.0, 0.05), (18.5, 0.05))[0] == "inconclusive"
    # F_p level with F_f, both at random weights' level: nothing to decide
    assert _split_verdict((18.05, 0.2), (18.1, 0.2))[0] == "inconclusive"
    # F_p ahead of F_f but not of random weights (F_f is worse than random): no signal in F_p
    assert _split_verdict((18.0, 0.05), (19.0, 0.05))[0] == "inconclusive"
    # without random weights only "F_f beats F_p" can decide
    assert _split_verdict((15.0, 0.2), (18.1, 0.2), random=None)[0] == "inconclusive"
    assert _split_verdict((18.1, 0.2), (15.0, 0.2), random=None)[0] == "not reproduced"


def test_action_unit_claim_is_not_reproduced_when_simclr_wins_beyond_the_spread():
    main = _main()
    main["simclr"]["disfa/f1_mean"] = [30.0, 0.1]
    claim = next(c for c in paper_claims(main, {}, None, {}) if "action units" in c["claim"])
    assert claim["verdict"] == "not reproduced" and "SimCLR beats PCL F_s" in claim["rule"]


def test_targets_need_threshold_and_spread():
    by = {(t["row"], t["metric"]): t for t in targets(_main())}
    assert by[("simclr", "aflw2000/mae")]["met"]  # 14.0 <= 0.8 * 18 = 14.4, beyond the spread
    assert not by[("pcl", "300w/nme")]["met"]  # 33 > 0.9 * 35 = 31.5
    assert not by[("pcl", "lfw/accuracy")]["met"]  # 59 >= 58 but 9 points are within the spread (9.4)
    assert by[("fabnet", "300w/nme")]["met"] and not by[("fabnet", "mafl/nme")]["met"]
    assert "supervised" not in by[("simclr", "lfw/accuracy")]  # no supervised row in this table
    main = {**_main(), "supervised": {"lfw/accuracy": [72.0, 1.3]}}
    by = {(t["row"], t["metric"]): t for t in targets(main)}
    assert by[("pcl", "lfw/accuracy")]["supervised"] == [72.0, 1.3] and "supervised" not in by[("pcl", "300w/nme")]


def _results(per_seed_acc, fold_std):
    metrics = {"accuracy": {"per_seed": per_seed_acc, "mean": float(np.mean(per_seed_acc))}}
    verification = {"accuracy": {"per_seed": [0.6], "mean": 0.6}, "accuracy_fold_std": {"per_seed": [fold_std],
                                                                                            "mean": fold_std}}
    return {"tasks": [{"name": "RAF-DB", "task": "expression", "rows": {"checkpoint": {"fs": {"metrics": metrics}}}},
                      {"name": "LFW", "task": "verification", "rows": {"checkpoint": {"fs": {"metrics": verification}}}}]}


def test_pooled_rows_pool_every_pretraining_and_probe_seed():
    rows = pipeline.pooled_rows([_results([0.20, 0.22], 0.01), _results([0.30, 0.32], 0.03)])
    values = [20.0, 22.0, 30.0, 32.0]
    assert np.allclose(rows["rafdb/accuracy"], [np.mean(values), math.sqrt(np.mean((np.array(values) - 26) ** 2))])
    assert np.allclose(rows["lfw/accuracy"], [60.0, 0.0])  # the seed spread, not the 10-fold std
    assert np.allclose(rows["lfw/accuracy_fold_std"], [2.0, 1.0])
    single = pipeline.pooled_rows([_results([0.20], 0.01)])
    assert single["rafdb/accuracy"] == [20.0, None]  # one value: no spread (not zero)


def test_a_feature_choice_row_leaves_out_the_tasks_not_probed_on_that_feature():
    rows = [_results([0.20, 0.22], 0.01)]
    assert pipeline.pooled_rows(rows, feature="ff+fp")["rafdb/accuracy"][0] == 21.0  # a main row: its first feature
    assert pipeline.pooled_rows(rows, feature="ff+fp", strict=True) == {}  # a feature-choice row: none
    assert pipeline.pooled_rows(rows, feature="fs", strict=True)["rafdb/accuracy"][0] == 21.0


def test_pcl_reads_pose_on_fs_ff_and_fp_and_the_papers_tasks_on_all_four():
    from facessl.demo.plan import get_plan

    plan, choice = get_plan("small"), pipeline.FEATURE_CHOICE_TASKS
    assert choice["AFLW2000"] == ("fs", "ff", "fp") and choice["RAF-DB"] == choice["LFW"] == choice["DISFA"] \
        == pipeline.PCL_FEATURES
    assert {s.name for s in pipeline.suite_specs(Path("demo"), plan)} >= set(choice)


def test_ablate_decides_the_ablation_claim_in_a_demo_directory(tmp_path):
    import json

    from facessl.commands.ablate import update_demo_report
    from facessl.demo.plan import get_plan

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "tables.json").write_text(json.dumps({"main": _main(), "feature_choice": {}}))
    (tmp_path / "results" / "analysis.json").write_text("{}")
    (tmp_path / "hardware.json").write_text("{}")
    (tmp_path / "timings.json").write_text("{}")
    rows = {step: {"rafdb/accuracy": [20.0 + i, 0.1]}
            for i, step in enumerate(("simclr", "+l_dis", "+l_orth", "+l_pose", "+dwa"))}
    update_demo_report(tmp_path, rows, get_plan("tiny"))
    claims = json.loads((tmp_path / "results" / "verdicts.json").read_text())
    assert next(c for c in claims if "ablation" in c["claim"])["verdict"] == "reproduced"
    assert "`facessl ablate --out <this directory>` has run it here" in (tmp_path / "summary.md").read_text()
    rows["+l_orth"] = {"rafdb/accuracy": [18.0, 0.1]}  # a step that loses beyond the spread
    update_demo_report(tmp_path, rows, get_plan("tiny"))
    claims = json.loads((tmp_path / "results" / "verdicts.json").read_text())
    assert next(c for c in claims if "ablation" in c["claim"])["verdict"] == "not reproduced"
    assert "PCL ablation" in (tmp_path / "report.md").read_text()


def test_a_win_between_chance_level_rows_is_inconclusive():
    # PCL 22 vs SimCLR 18 on RAF-DB is beyond their spread, but random weights sit at 21.5 +- 1: PCL does
    # not beat the floor, so the difference carries no evidence about what either method learned
    main = _main()
    main["random"]["rafdb/accuracy"] = [21.5, 1.0]
    main["pcl"]["rafdb/accuracy"], main["simclr"]["rafdb/accuracy"] = [22.0, 0.5], [18.0, 0.5]
    claim = next(c for c in paper_claims(main, {}, None, {}) if "expression" in c["claim"])
    assert claim["verdict"] == "inconclusive" and "does not beat random weights" in claim["rule"]
    main["random"]["rafdb/accuracy"] = [19.0, 1.0]  # now PCL carries signal: the win counts
    claim = next(c for c in paper_claims(main, {}, None, {}) if "expression" in c["claim"])
    assert claim["verdict"] == "reproduced"


def test_an_ablation_step_between_chance_level_rows_is_not_decided():
    # + L_orth loses to + L_dis beyond their spread, but + L_dis does not beat random weights (21.5 +- 1):
    # at chance level the step says nothing, so the ordering claim is inconclusive, not refuted
    main = _main()
    main["random"]["rafdb/accuracy"] = [21.5, 1.0]
    rows = {"simclr": {"rafdb/accuracy": [21.0, 0.1]}, "+l_dis": {"rafdb/accuracy": [22.0, 0.1]},
            "+l_orth": {"rafdb/accuracy": [21.0, 0.1]}, "+l_pose": {"rafdb/accuracy": [21.5, 0.1]},
            "+dwa": {"rafdb/accuracy": [21.8, 0.1]}}

    def ordering(main):
        return next(c for c in paper_claims(main, {}, rows, {}) if "ablation" in c["claim"])

    claim = ordering(main)
    assert claim["verdict"] == "inconclusive" and "no signal" in claim["rule"]
    assert claim["numbers"]["random weights rafdb/accuracy"] == [21.5, 1.0]
    main["random"]["rafdb/accuracy"] = [20.0, 0.5]  # + L_dis now beats the floor: its win over + L_orth counts
    assert ordering(main)["verdict"] == "not reproduced"
