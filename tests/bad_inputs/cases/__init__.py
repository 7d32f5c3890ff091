"""Importing this package registers every corpus case (one module per area)."""
from bad_inputs.cases import checkpoints, demo, embed, eval_cli, formats, formats_pose, pretrain, synth_report  # noqa: F401
