"""`facessl study`: the demo's comparison on real faces (plan, stages, report)."""
