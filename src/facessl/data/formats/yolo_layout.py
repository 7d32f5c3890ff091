"""Where a YOLO-format face set's files are (for formats/yolo.py, whose docstring describes the layouts): the
dataset's folder and its config (data.yaml, Darknet's obj.data), the class names (the yaml's names:, obj.names,
LabelImg's classes.txt) and each split's images (the config's split paths as they exist here, else split folders).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from facessl.data.formats.boxed_faces import shown_below
from facessl.data.formats.imagefiles import BELOW, MissingImages, find_wrapped, parse_number, read_lines
from facessl.data.formats.imagefolder import split_of, walk_images
from facessl.data.formats.text import read_text, shortened
from facessl.data.image_decode import IMAGE_SUFFIXES
from facessl.errors import DataFormatError

YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
YAML_SUFFIXES = (".yaml", ".yml")
DARKNET_DATA = "obj.data"  # Darknet's file of keys; given directly, any *.data (coco.data, voc.data) is read
DARKNET_ROOT = "data/"  # Darknet runs from the folder above the export, named data/: `train = data/train.txt`
# one class name a line: Darknet / CVAT YOLO 1.1, LabelImg, Roboflow's "YOLO Darknet" export (train/ valid/ test/,
# images with their .txt beside them and _darknet.labels in each)
NAMES_FILES = ("obj.names", "classes.txt", "_darknet.labels")
SPLIT_ORDER = ("train", "test", "val")  # an image in two splits is read in the first
EXPECTED = ("expected data.yaml, or train/images + train/labels (Roboflow), or images/train + labels/train "
            "(Ultralytics), or images/ + labels/, or obj.data / obj.names + obj_train_data/ (Darknet, CVAT YOLO 1.1), "
            "or classes.txt beside images and their .txt labels (LabelImg)")


# --- where the dataset is ----------------------------------------------------------------------------------
def find_dataset(root: Path) -> tuple[Path, Path | None]:
    """(the dataset's folder, its yaml or None): the path given, a yaml file, or found up to two folders below."""
    if root.is_file():
        if root.suffix.lower() not in (*YAML_SUFFIXES, ".data"):
            raise DataFormatError(root, f"not a YOLO dataset: give its folder, its data.yaml or obj.data ({EXPECTED})")
        return root.parent, root
    folder = find_wrapped(root, lambda f: _config_in(f) is not None or bool(_split_folders(f))) if root.is_dir() \
        else None
    if folder is None:
        raise DataFormatError(root, f"no YOLO dataset found here or {BELOW}: {EXPECTED}")
    return folder, _config_in(folder)


def _config_in(folder: Path) -> Path | None:
    """The yaml (see _yaml_in), else Darknet's obj.data."""
    found = _yaml_in(folder)
    if found is None and (folder / DARKNET_DATA).is_file():
        found = folder / DARKNET_DATA
    return found


def _yaml_in(folder: Path) -> Path | None:
    """data.yaml or dataset.yaml; else the one *.yaml that names classes (a second one is an error)."""
    named = next((folder / n for n in YAML_NAMES if (folder / n).is_file()), None)
    if named is not None:
        return named
    try:
        others = sorted(p for p in folder.iterdir() if p.suffix.lower() in YAML_SUFFIXES and p.is_file())
    except OSError:
        return None
    others = [p for p in others if _names_classes(p)]
    if len(others) > 1:
        raise DataFormatError(folder, f"several YOLO yaml files ({', '.join(p.name for p in others)}); "
                                      f"give the one to read as yolo:{others[0]}")
    return others[0] if others else None


def _names_classes(path: Path) -> bool:
    try:
        return bool(re.search(r"^(names|nc)\s*:", path.read_text(errors="replace"), re.MULTILINE))
    except OSError:
        return False


def _split_folders(folder: Path) -> dict[str | None, Path]:
    """split (None: unsplit) -> images folder, for the layouts without a yaml (or whose split paths are not
    found): Roboflow's, Ultralytics', else Darknet's and LabelImg's (labels beside the images)."""
    return _roboflow_folders(folder) or _ultralytics_folders(folder) or _beside_folders(folder)


def _roboflow_folders(folder: Path) -> dict[str | None, Path]:
    """<split>/images/ beside <split>/labels/."""
    found: dict[str | None, Path] = {}
    for sub in _subfolders(folder):
        split = split_of(sub.name)
        if split and (sub / "images").is_dir() and (sub / "labels").is_dir():
            found.setdefault(split, sub / "images")
    return found


def _ultralytics_folders(folder: Path) -> dict[str | None, Path]:
    """images/<split>/ beside labels/<split>/, or images/ beside labels/ (unsplit)."""
    if not ((folder / "images").is_dir() and (folder / "labels").is_dir()):
        return {}
    found: dict[str | None, Path] = {}
    for sub in _subfolders(folder / "images"):
        if split_of(sub.name) and (folder / "labels" / sub.name).is_dir():
            found.setdefault(split_of(sub.name), sub)
    return found or {None: folder / "images"}


def _beside_folders(folder: Path) -> dict[str | None, Path]:
    """Darknet's obj_<split>_data/ or LabelImg's split folders, else the folder itself, holding images with their
    .txt labels beside them. Only with a names file (or obj.data) in the folder: a folder of images and .txt
    notes is not taken for a YOLO set without one."""
    if not (_names_files(folder) or (folder / DARKNET_DATA).is_file()):
        return {}
    found: dict[str | None, Path] = {}
    for sub in _subfolders(folder):  # at any depth: CVAT keeps a task's own folders inside obj_train_data/
        if split_of(sub.name) and any(_labels_beside(files) for _, _, files in os.walk(sub)):
            found.setdefault(split_of(sub.name), sub)
    return found or ({None: folder} if _labels_beside(_file_names(folder)) else {})


def _file_names(folder: Path) -> list[str]:
    try:
        return [p.name for p in folder.iterdir()]
    except OSError:
        return []


def _labels_beside(names) -> bool:
    """Whether some image among a folder's file names has its <stem>.txt beside it (a names file is no label)."""
    labels = {n[:-len(".txt")] for n in names if n.endswith(".txt") and n not in NAMES_FILES}
    return any(n.lower().endswith(IMAGE_SUFFIXES) and n.rsplit(".", 1)[0] in labels for n in names)


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    except OSError:
        return []


# --- data.yaml, obj.data, names files ----------------------------------------------------------------------------
def read_config(path: Path) -> dict:
    return _read_darknet_data(path) if path.suffix.lower() == ".data" else _read_yaml(path)


def _read_darknet_data(path: Path) -> dict:
    """obj.data as the yaml's keys: its train / valid / test lists as they are, `classes` as nc, and the file
    `names =` points to (None when it is not found here) as names_file."""
    entries = {}
    for number, line in enumerate(read_lines(path, "Darknet obj.data"), start=1):
        text = line.strip()
        if not text or text.startswith(("#", ";")):  # comments, as darknet's read_data_cfg skips them
            continue
        key, equals, value = text.partition("=")
        if not equals:
            raise DataFormatError(path, f"expected 'key = value' (train = data/train.txt), got "
                                        f"{shortened(text, 60)!r}", number)
        entries[key.strip().lower()] = (value.strip(), number)
    config = {key: value for key, (value, _) in entries.items() if split_of(key) and value}
    if "classes" in entries:
        value, number = entries["classes"]
        config["nc"] = parse_number(value, path, number, "classes = the number of classes", int)
    if entries.get("names", ("",))[0]:
        config["names_file"] = _resolved(entries["names"][0], [path.parent])
    return config


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        config = yaml.safe_load(read_text(path, "YOLO data.yaml"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataFormatError(path, f"not valid YAML ({getattr(exc, 'problem', None) or 'unreadable'})",
                              mark.line + 1 if mark is not None else None) from None
    if not isinstance(config, dict):
        raise DataFormatError(path, "expected YOLO keys (names:, train:, val:), got "
                                    + ("an empty file" if config is None else type(config).__name__))
    return config


def names_and_source(config: dict, config_path: Path | None, folder: Path) -> tuple[list[str] | None, Path | None]:
    """(the class names in id order or None, the file that names them): the yaml's names:, else the names file
    obj.data points to, else obj.names / classes.txt (whose count must match nc: or `classes =`)."""
    counted = _class_names(config, config_path)
    if config.get("names") is not None:
        return counted, config_path
    files = [config["names_file"]] if config.get("names_file") else _names_files(folder)
    if not files:
        return counted, config_path
    names = _agreeing_names(files, folder)
    if counted is not None and len(counted) != len(names):
        key = "classes =" if config_path.suffix.lower() == ".data" else "nc:"
        raise DataFormatError(config_path, f"{key} {len(counted)} but {shown_below(files[0], folder)} lists "
                                           f"{len(names)} classes")
    return names, files[0]


def _names_files(folder: Path) -> list[Path]:
    """obj.names / classes.txt in the dataset's folder (Darknet, LabelImg, converters writing images/ + labels/ +
    classes.txt) or in its split folders (LabelImg run on each split)."""
    places = [folder, *(sub for sub in _subfolders(folder) if split_of(sub.name))]
    return [place / name for place in places for name in NAMES_FILES if (place / name).is_file()]


def _names_in(path: Path) -> list[str]:
    names = [line.strip() for line in read_lines(path, "YOLO class names file") if line.strip()]
    if not names:
        raise DataFormatError(path, "expected one class name a line, got none")
    return names


def _agreeing_names(files: list[Path], folder: Path) -> list[str]:
    """The names of several names files: the longest, when each of the others is its beginning (LabelImg appends
    the classes it meets, so the ids of a shorter file mean the same classes); else a class id would mean two
    classes: an error."""
    listed = sorted(((_names_in(f), f) for f in files), key=lambda pair: -len(pair[0]))
    longest, where = listed[0]
    for names, path in listed[1:]:
        if longest[:len(names)] != names:
            raise DataFormatError(path, f"lists classes {shortened(str(names), 80)} but {shown_below(where, folder)} "
                                        f"lists {shortened(str(longest), 80)}: the class ids would mean different "
                                        f"classes")
    return longest


def _class_names(config: dict, path: Path | None) -> list[str] | None:
    """The names in class-id order, or None when the yaml gives neither names nor nc."""
    names, nc = config.get("names"), config.get("nc")
    if nc is not None and (isinstance(nc, bool) or not isinstance(nc, int) or nc < 1):
        raise DataFormatError(path, f"nc: expected the number of classes, got {nc!r}")
    if names is None:
        return None if nc is None else [str(i) for i in range(nc)]
    if isinstance(names, dict):
        try:
            ids = {int(k): v for k, v in names.items()}
        except (TypeError, ValueError):
            raise DataFormatError(path, f"names: expected class ids 0, 1, ... as keys, got "
                                        f"{shortened(repr(list(names)), 80)}") from None
        if sorted(ids) != list(range(len(ids))):
            raise DataFormatError(path, f"names: expected class ids 0..{len(ids) - 1}, got {sorted(ids)}")
        names = [ids[i] for i in range(len(ids))]
    if not isinstance(names, list) or not names:
        raise DataFormatError(path, f"names: expected a list [anger, ...] or ids {{0: anger, ...}}, got {names!r}")
    if nc is not None and nc != len(names):
        raise DataFormatError(path, f"nc: {nc} but names lists {len(names)} classes")
    return [str(n).strip() or str(n) for n in names]


def split_images(folder: Path, config: dict, yaml_path: Path | None, missing: MissingImages):
    """([(split, images)] in SPLIT_ORDER, how the splits were found): the yaml's split paths where they are
    found here, else the split folders beside it."""
    folders = _split_folders(folder)
    base = _yaml_base(folder, config)
    found, notes = {}, []
    for key, value in config.items():
        split = split_of(str(key)) if key not in ("path", "names", "nc") and value else None
        if split is None or split in found:
            continue
        images = _listed_images(value, base, folder, missing)
        if images is None and split in folders:
            shown = folders[split].relative_to(folder).as_posix()
            notes.append(f"{key}: {shortened(str(value), 60)} not found here, read {shown}/")
        if images is not None:
            found[split] = images
    for split, images_folder in folders.items():
        if split not in found and not (split is None and found):
            found[split] = walk_images(images_folder)
    if not found:
        keys = "train =/valid =" if yaml_path and yaml_path.suffix.lower() == ".data" else "train:/val:"
        where = f"{yaml_path.name}'s {keys} paths not found here and " if yaml_path else ""
        raise DataFormatError(yaml_path or folder, f"{where}no split folders beside it; {EXPECTED}")
    parts = [(s, found[s]) for s in (*SPLIT_ORDER, None) if s in found]
    how = (f"{yaml_path.name} " if yaml_path and not notes else "folders ") + ", ".join(str(s or "unsplit")
                                                                                        for s, _ in parts)
    return parts, how + (f" ({'; '.join(notes)})" if notes else "")


def _yaml_base(folder: Path, config: dict) -> Path:
    """What the split paths are relative to: `path:` where it exists here, else the yaml's folder."""
    given = config.get("path")
    if isinstance(given, str) and given.strip():
        candidate = folder / given.strip()
        if candidate.is_dir():
            return candidate
    return folder


def _resolved(text: str, bases: list[Path]) -> Path | None:
    """A split path from the yaml as it exists here: relative to the bases; without Roboflow's leading `../` or
    Darknet's leading `data/`; or, for a path from the exporter's machine, its last two or more parts below the
    bases."""
    text = text.strip().replace("\\", "/")
    plain = text
    while plain.startswith(("../", "./")):
        plain = plain[3:] if plain.startswith("../") else plain[2:]
    path = Path(text)
    tries = [b / plain for b in bases if plain]  # inside the dataset first: `../` must not reach a neighbour
    tries += [path] if path.is_absolute() else [b / text for b in bases]
    if plain.startswith(DARKNET_ROOT):  # `data/train.txt`: from the folder above an export Darknet calls data/
        tries += [b / plain[len(DARKNET_ROOT):] for b in bases]
    parts = Path(plain).parts
    tries += [b.joinpath(*parts[i:]) for i in range(1, len(parts) - 1) for b in bases]
    return next((t for t in tries if t.exists()), None)


def _listed_images(value, base: Path, folder: Path, missing: MissingImages) -> list[Path] | None:
    """The images of one split entry (a folder, a *.txt list of images, or a list of those); None when none of
    it is found here."""
    entries = value if isinstance(value, list) else [value]
    images, any_found = [], False
    for entry in entries:
        target = _resolved(str(entry), [base, folder])
        if target is None:
            continue
        any_found = True
        images += walk_images(target) if target.is_dir() else _image_list(target, base, missing)
    return images if any_found else None


def _image_list(path: Path, base: Path, missing: MissingImages) -> list[Path]:
    """Images named one a line in a split's *.txt (`./images/train/a.jpg`: relative to the list's folder)."""
    images = []
    for number, line in enumerate(read_lines(path, "YOLO image list"), start=1):
        name = line.strip().replace("\\", "/")
        if not name:
            continue
        image = _resolved(name, [path.parent, base]) or path.parent / name
        if missing.ok(image, path, number):
            images.append(image)
    return images
