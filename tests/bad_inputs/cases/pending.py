"""PENDING cases: expected behaviour of fixes not on main yet. `python -m bad_inputs --pending` runs them;
enable one (drop `pending=True`) when its fix lands.

  demo --seed -1 (issue 14 rewrites that option): refused before any stage starts
  (commands.options.non_negative_int, as `ablate --seed` uses)
"""
from bad_inputs.cases.demo import no_stage_may_start
from bad_inputs.corpus import case


@case("demo/seed-negative", 2, "--seed", patch=no_stage_may_start, pending=True)
def _(w, s):
    return ["demo", "--seed", "-1", "--out", w / "demo"]
