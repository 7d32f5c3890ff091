"""The end-to-end study behind `facessl demo` and `facessl ablate`: data, pretraining, evaluation,
analysis, figures and report, as resumable stages."""
