"""Malformed AFLW2000-3D / 300W-LP head-pose files through `facessl eval`: poses that are not numbers are
skipped and counted (an error when none is left), damaged .mat files are one line."""
import numpy as np

from bad_inputs.cases.common import evaluate
from bad_inputs.corpus import case


# ---- AFLW2000-3D / 300W-LP ----------------------------------------------------------------------
def aflw_with(w, s, pose_para, index=0):
    """An AFLW2000 + 300W-LP pair of folders where one AFLW2000 .mat holds `pose_para`."""
    from scipy.io import loadmat

    from facessl.data.formats.aflw2000 import savemat_deterministic

    root = s.aflw2000(w / "aflw2000")
    s.w300lp(w / "300wlp")
    mat_path = sorted(root.glob("*.mat"))[index]
    fields = {k: v for k, v in loadmat(mat_path).items() if not k.startswith("__")}
    if pose_para is None:
        fields.pop("Pose_Para")
    else:
        fields["Pose_Para"] = pose_para
    savemat_deterministic(mat_path, fields)
    return root


NAN_POSE = np.array([[np.nan, 0.1, 0.2, 10, 10, 0, 1]])


@case("formats/aflw2000-pose-nan", 0, "invalid pose")
def _(w, s):
    args = evaluate(w, s, f"aflw2000:{aflw_with(w, s, NAN_POSE)}")
    args.remove("--quiet")
    return args


@case("formats/aflw2000-pose-string", 0, "invalid pose")
def _(w, s):
    args = evaluate(w, s, f"aflw2000:{aflw_with(w, s, 'not a pose')}")
    args.remove("--quiet")
    return args


@case("formats/aflw2000-pose-inf", 0, "invalid pose")
def _(w, s):
    args = evaluate(w, s, f"aflw2000:{aflw_with(w, s, np.array([[np.inf, 0, 0, 0, 0, 0, 1]]))}")
    args.remove("--quiet")
    return args


@case("formats/aflw2000-pose-too-short", 2, ".mat", "Pose_Para has 2 values")
def _(w, s):
    return evaluate(w, s, f"aflw2000:{aflw_with(w, s, np.array([[0.1, 0.2]]))}")


@case("formats/aflw2000-no-pose-field", 2, ".mat", "missing field Pose_Para")
def _(w, s):
    return evaluate(w, s, f"aflw2000:{aflw_with(w, s, None)}")


@case("formats/aflw2000-all-poses-nan", 2, "Pose_Para")
def _(w, s):
    from facessl.data.formats.aflw2000 import savemat_deterministic

    root = s.aflw2000(w / "aflw2000")
    s.w300lp(w / "300wlp")
    for mat in root.glob("*.mat"):
        savemat_deterministic(mat, {"Pose_Para": NAN_POSE, "pt3d_68": np.zeros((3, 68))})
    return evaluate(w, s, f"aflw2000:{root}")


@case("formats/aflw2000-mat-corrupt", 2, ".mat", "not a readable MATLAB")
def _(w, s):
    root = s.aflw2000(w / "aflw2000")
    s.w300lp(w / "300wlp")
    sorted(root.glob("*.mat"))[1].write_bytes(b"MATLAB 5.0 MAT-file garbage")
    return evaluate(w, s, f"aflw2000:{root}")


@case("formats/aflw2000-missing-image", 2, "no image beside", "--skip-missing")
def _(w, s):
    root = s.aflw2000(w / "aflw2000")
    s.w300lp(w / "300wlp")
    sorted(root.glob("*.jpg"))[0].unlink()
    return evaluate(w, s, f"aflw2000:{root}")


@case("formats/aflw2000-no-training-set", 2, "--train-dataset", "300wlp")
def _(w, s):
    return evaluate(w, s, f"aflw2000:{s.aflw2000(w / 'aflw2000')}")


@case("formats/aflw2000-no-mat-files", 2, "no .mat files")
def _(w, s):
    (w / "aflw2000").mkdir()
    s.w300lp(w / "300wlp")
    return evaluate(w, s, f"aflw2000:{w / 'aflw2000'}")
