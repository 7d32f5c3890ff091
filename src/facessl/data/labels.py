"""Label vocabularies shared by the generator, the format readers/writers and evaluation.

Internal expression index = RAF-DB basic order minus one (RAF-DB files store 1..7).
"""
EXPRESSIONS = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")  # RAF-DB order
FER2013_ORDER = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")  # fer2013.csv 0..6
FER_TO_INTERNAL = tuple(EXPRESSIONS.index(name) for name in FER2013_ORDER)
INTERNAL_TO_FER = tuple(FER2013_ORDER.index(name) for name in EXPRESSIONS)

AUS = (1, 2, 4, 6, 9, 12, 25, 26)  # the DISFA subset of the PCL table; intensities 0..5
AU_NAMES = tuple(f"AU{n}" for n in AUS)

POSE_ANGLES = ("yaw", "pitch", "roll")  # internal pose order, degrees
N_LANDMARKS = 68  # iBUG / 300-W
# 0-based iBUG indices of the outer eye corners (interocular normaliser) and the MAFL 5 points
OUTER_EYE_CORNERS = (36, 45)
MAFL_FROM_68 = {"left_eye": (36, 39), "right_eye": (42, 45), "nose": (30,), "left_mouth": (48,), "right_mouth": (54,)}


def class_labels(images) -> tuple | None:
    """(class index per row, class names) of an ImageSet with classes (generic sets: names in its meta) or
    expressions (named readers: EXPRESSIONS), else None."""
    if "class" in images.labels:
        return images.labels["class"], images.meta.get("class_names")
    if "expression" in images.labels:
        return images.labels["expression"], list(EXPRESSIONS)
    return None
