"""Importing this package registers every corpus case (one module per area); pending.py is imported apart."""
from bad_inputs.cases import (checkpoints, demo, embed, eval_cli, formats, formats_pose, items_2_to_4,  # noqa: F401
                              new_code, pretrain, synth_report)
