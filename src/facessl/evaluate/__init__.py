"""Linear evaluation of frozen encoders: features (cached on disk), probes, task protocols, tables.

    from facessl.evaluate import metrics, EvalOptions, TaskSpec, evaluate, render
    results = evaluate(encoder, [TaskSpec("expression", "rafdb:data/rafdb")], EvalOptions(seeds=3),
                       features=["fs"], cache=FeatureCache("~/.cache/facessl"))
    print(render(results))          # results.md layout

Modules: metrics (numpy metrics), images (decode + resize), cache (disk cache, hashes), features
(FeatureSource: extraction + cache + frozen-weights check), probes (linear probes with validation
selection), splits, protocol (EvalOptions, folds, seed loop), expression / verification / pose /
au / attributes / landmarks (task builders), baselines (random and supervised rows), suite (task specs,
YAML), runner (evaluate), tables (results.md).
"""
from facessl.evaluate.cache import FeatureCache, default_cache_dir, weights_hash
from facessl.evaluate.features import FeatureSource, extract
from facessl.evaluate.probes import ProbeConfig, ProbeResult, fit_predict
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.runner import evaluate
from facessl.evaluate.suite import TaskSpec, load_suite
from facessl.evaluate.tables import render

__all__ = ["EvalOptions", "FeatureCache", "FeatureSource", "ProbeConfig", "ProbeResult", "TaskSpec", "default_cache_dir",
           "evaluate", "extract", "fit_predict", "load_suite", "render", "weights_hash"]
