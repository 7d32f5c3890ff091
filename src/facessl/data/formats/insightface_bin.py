"""InsightFace's verification bundles: `lfw.bin`, `cfp_fp.bin`, `cfp_ff.bin`, `agedb_30.bin`, `calfw.bin`,
`cplfw.bin`, `vgg2_fp.bin`, as shipped beside the training records in `faces_emore/`, `faces_webface_112x112/`,
`ms1m-retinaface-t1/`, `faces_glint/` ... (and the same form written by users' own pack scripts).

Layout: one file per benchmark, a Python pickle of the pair `(bins, issame)`:
    bins    2P encoded images (JPEG, some PNG), aligned faces of 112x112 (older packs 112x96); images 2k and
            2k+1 are pair k
    issame  P flags, True for a same-identity pair
Forms met in real files, all read here:
- Python 2 pickles (protocol 2, the packs as shipped): each image a `str`, so SHORT_BINSTRING / BINSTRING
  opcodes (why `pickle.load` needs encoding='bytes' under Python 3); a py2 script's default protocol 0
  writes them as quoted text (STRING) and the flags as `I01` / `I00`;
- Python 3 pickles (protocol 3-5: SHORT_BINBYTES / BINBYTES / BINBYTES8, FRAME, MEMOIZE ...); at protocol
  0-2 Python 3 writes bytes as `_codecs.encode(latin-1 text, 'latin1')`, decoded here without calling it;
- images as numpy uint8 arrays (InsightFace's own pack scripts append the array `cv2.imencode` returns);
- images as latin-1 text (a py2 bundle loaded with encoding='latin1', the usual advice, and pickled again);
- issame as a list of bools, of 0/1 ints or numpy bool scalars, or as one numpy bool/int array.
numpy objects are recognised by their exact pickle form (`numpy[._]core.multiarray._reconstruct` +
`numpy.ndarray` + `numpy.dtype` + a BUILD state holding the raw bytes; protocol 5's
`numpy[._]core.numeric._frombuffer`; `...multiarray.scalar`) and rebuilt from the raw bytes with a checked
plain dtype (bool or integers; object arrays are refused).

Never unpickled: `pickletools.genops` only parses the opcodes, and a small interpreter here builds the
tuple from a whitelist of them (the memo included). Any other global (e.g. `os.system`) or opcode is
refused before anything runs, as one line naming the file, the byte offset and what was met.

Read into a PairSet: pair k = images (2k, 2k+1) in file order; fold = InsightFace's evaluation folds,
sklearn KFold(n_splits=10, shuffle=False) over the pairs, i.e. 10 consecutive blocks (the first P mod 10
one pair longer). For lfw.bin this is pairs.txt's order, so LFW's own 10 folds of 300 + 300.
Images are decoded once into one uint8 (N,H,W,3) RGB array (ImageSet has no lazy in-memory form; 37.6 KB
per 112x112 face): H,W = the bundle's common size, an odd-sized image is resized to it (as load_bin does)
and counted in images.meta['resized_images']. An image that does not decode is skipped with its pair and
counted (dropped 'undecodable image', 'pair with an undecodable image'). A pair of two images with the same
pixels (a cosine of 1 whatever the model) is skipped, counted and named by its number in a note
(images.meta['pair_notes']), as LFW's pair of an image with itself is. No identity is stored in the
file: images.labels['position'] is each image's 0-based index in the bundle.

The path may be a `.bin` file or a folder holding bundles (or a folder holding that folder, e.g. the
folder above `faces_emore/`); `variant` (--variant agedb_30) picks one by name when there are several.

Sources checked: deepinsight/insightface src/data/lfw2pack.py (raw image file bytes,
pickle.HIGHEST_PROTOCOL under Python 2), src/data/cfp2pack.py and src/data/agedb2pack2.py (cv2.imencode
arrays; issame from the protocol files; pairs as consecutive images), recognition/arcface_torch/eval/
verification.py (load_bin: pickle.load, then encoding='bytes'; image idx of 2*len(issame); resize when the
width differs; embeddings[0::2] vs [1::2]; LFold -> KFold(n_splits=10, shuffle=False)), issue #70 of that
repository (Python 3 pickle.load of lfw.bin: "'ascii' codec can't decode byte 0xff in position 0", a py2
str holding a JPEG), leondgarse/Keras_insightface evals.py (tf decode_jpeg straight over the shipped lists:
the shipped bins are plain byte strings), a user's pack script writing `np.array(issame_list)`.
"""
from __future__ import annotations

import codecs
import io
import os
import pickletools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from facessl.data.formats.common import ImageSet, PairSet
from facessl.data.formats.imagefiles import unnested, with_dropped
from facessl.data.formats.pair_list import SAME_IMAGE, SHOWN
from facessl.errors import DataFormatError, FacesslError

KNOWN_BUNDLES = ("lfw", "cfp_fp", "cfp_ff", "agedb_30", "calfw", "cplfw", "vgg2_fp")
N_FOLDS = 10
MAX_SIDE = 1024  # an aligned face is 112 px; a larger image in a bundle is damage, not data (no huge decode)
DECODE_WORKERS = max(1, min(4, os.cpu_count() or 1))
UNDECODABLE, UNDECODABLE_PAIR = "undecodable image", "pair with an undecodable image"

# module -> names of the only globals a bundle may name (numpy moved core -> _core in 2.0; py2 wrote __builtin__)
ALLOWED_GLOBALS = {
    "numpy": {"ndarray", "dtype"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.numeric": {"_frombuffer"},
    "numpy._core.numeric": {"_frombuffer"},
    "_codecs": {"encode"},
    "__builtin__": {"bytes", "bytearray"},
    "builtins": {"bytes", "bytearray"},
}
# plain dtypes an image buffer or the flags may have (never 'O': an object array needs real unpickling)
ALLOWED_DTYPES = {"b1", "?", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"}


class _Refused(Exception):
    """A pickle this reader will not (or cannot) interpret; message says what was met."""


class _Global:
    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __repr__(self):
        return f"{self.module}.{self.name}"


class _Dtype:
    """numpy.dtype(name) whose byte order arrives later in a BUILD state."""

    def __init__(self, name: str):
        self.name, self.byteorder = name, "|"

    def numpy(self) -> np.dtype:
        order = {"<": "<", ">": ">", "=": "=", "|": ""}[self.byteorder]
        return np.dtype(order + self.name)


class _Array:
    """An ndarray's dtype, shape and raw bytes (order irrelevant: only 1-D flags and byte buffers are used)."""

    def __init__(self, dtype: _Dtype | None = None, shape=(), data=None):
        self.dtype, self.shape, self.data = dtype, tuple(shape), data

    def values(self) -> np.ndarray:
        if self.data is None or self.dtype is None:
            raise _Refused("a numpy array without its data (no BUILD state)")
        dtype = self.dtype.numpy()
        count = int(np.prod(self.shape, dtype=np.int64))
        if len(self.data) != count * dtype.itemsize:
            raise _Refused(f"a numpy array of shape {self.shape} {dtype} with {len(self.data)} data bytes")
        return np.frombuffer(self.data, dtype=dtype, count=count)


# --- reading the pickle ---------------------------------------------------------------------------------
class _BoundedReader:
    """The file as pickletools reads it, with reads clamped to what is left: a forged length field then
    gives a short read (an error) instead of a huge allocation."""

    def __init__(self, file, size: int):
        self.file, self.size = file, size

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.file.tell()
        return self.file.read(left if n is None or n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self.file.readline()

    def tell(self) -> int:
        return self.file.tell()

    def seek(self, pos: int) -> None:
        self.file.seek(pos)


def _text(value) -> str:
    """A name written as py2 str (bytes here) or py3 str."""
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value


def _py2_text_string(line: bytes) -> bytes:
    """Protocol 0's STRING argument (`'\\xff\\xd8...'` + newline) as bytes: pickletools only returns ASCII ones."""
    line = line.rstrip(b"\n")
    if len(line) < 2 or line[:1] not in (b"'", b'"') or line[-1:] != line[:1]:
        raise _Refused("a protocol-0 STRING without quotes")
    return codecs.escape_decode(line[1:-1])[0]


def _opcodes(stream: _BoundedReader):
    """(name, arg, byte offset) of each opcode up to STOP. pickletools decodes a protocol-0 STRING as ASCII,
    which a JPEG is not: such an opcode is parsed here and genops restarted after it."""
    while True:
        start = stream.tell()
        try:
            for op, arg, pos in pickletools.genops(stream):
                yield op.name, arg, pos
                if op.name == "STOP":
                    return
                start = stream.tell()  # genops reads the next opcode only when asked
            return
        except UnicodeDecodeError:
            stream.seek(start)
            if stream.read(1) != b"S":
                raise
            yield "STRING_BYTES", _py2_text_string(stream.readline()), start


class _Machine:
    """The whitelisted part of the pickle virtual machine: tuples, lists, bytes, bools, ints, the memo,
    and the numpy / bytes reductions named in ALLOWED_GLOBALS, each rebuilt here without any call."""

    def __init__(self):
        self.stack: list = []
        self.marks: list[int] = []
        self.memo: dict = {}
        self.protocol = 0

    def pop(self):
        if not self.stack or (self.marks and len(self.stack) == self.marks[-1]):
            raise _Refused("an opcode with too few values on the stack")
        return self.stack.pop()

    def pop_mark(self) -> list:
        if not self.marks:
            raise _Refused("an opcode that needs a MARK without one")
        k = self.marks.pop()
        items = self.stack[k:]
        del self.stack[k:]
        return items

    def top(self):
        if not self.stack:
            raise _Refused("an opcode with an empty stack")
        return self.stack[-1]

    def run(self, name: str, arg) -> None:
        simple = SIMPLE_OPS.get(name)
        if simple is not None:
            self.stack.append(simple(arg))
            return
        handler = getattr(self, "op_" + name.lower(), None)
        if handler is None:
            raise _Refused(f"pickle opcode {name}, which a verification bundle does not use")
        handler(arg)

    # structure
    def op_proto(self, arg):
        self.protocol = int(arg)

    def op_frame(self, arg):
        pass

    def op_stop(self, arg):
        pass

    def op_mark(self, arg):
        self.marks.append(len(self.stack))

    def op_pop(self, arg):
        if self.marks and len(self.stack) == self.marks[-1]:
            self.marks.pop()
        else:
            self.pop()

    def op_pop_mark(self, arg):
        self.pop_mark()

    def op_dup(self, arg):
        self.stack.append(self.top())

    def op_tuple(self, arg):
        self.stack.append(tuple(self.pop_mark()))

    def op_tuple1(self, arg):
        self.stack.append((self.pop(),))

    def op_tuple2(self, arg):
        b, a = self.pop(), self.pop()
        self.stack.append((a, b))

    def op_tuple3(self, arg):
        c, b, a = self.pop(), self.pop(), self.pop()
        self.stack.append((a, b, c))

    def op_list(self, arg):
        self.stack.append(self.pop_mark())

    def op_append(self, arg):
        value = self.pop()
        self._list().append(value)

    def op_appends(self, arg):
        items = self.pop_mark()
        self._list().extend(items)

    def _list(self) -> list:
        target = self.top()
        if not isinstance(target, list):
            raise _Refused(f"APPEND to a {type(target).__name__}, not a list")
        return target

    # memo
    def op_put(self, arg):
        self.memo[arg] = self.top()

    op_binput = op_long_binput = op_put

    def op_memoize(self, arg):
        self.memo[len(self.memo)] = self.top()

    def op_get(self, arg):
        if arg not in self.memo:
            raise _Refused(f"a memo GET of {arg}, never stored")
        self.stack.append(self.memo[arg])

    op_binget = op_long_binget = op_get

    # globals and reductions: names checked here, objects rebuilt by REDUCTIONS, nothing called
    def op_global(self, arg):
        module, _, name = str(arg).partition(" ")
        self.stack.append(_allowed_global(module, name))

    def op_stack_global(self, arg):
        name, module = self.pop(), self.pop()
        if not isinstance(module, str) or not isinstance(name, str):
            raise _Refused("a STACK_GLOBAL whose module and name are not strings")
        self.stack.append(_allowed_global(module, name))

    def op_reduce(self, arg):
        args, func = self.pop(), self.pop()
        rebuild = REDUCTIONS.get(func.name) if isinstance(func, _Global) else None
        if rebuild is None or not isinstance(args, tuple):
            raise _Refused(f"a REDUCE of {func!r}" if isinstance(func, _Global) else f"a REDUCE of a {type(func).__name__}")
        self.stack.append(rebuild(func, args))

    def op_build(self, arg):
        state = self.pop()
        target = self.top()
        if isinstance(target, _Dtype):
            _build_dtype(target, state)
        elif isinstance(target, _Array):
            _build_array(target, state)
        else:
            raise _Refused(f"a BUILD of {type(target).__name__}")


def _latin1_bytes(arg) -> bytes:
    return arg.encode("latin-1")  # py2 str opcodes hold bytes; pickletools hands them over as latin-1 text


# opcodes that push one plain value made from their argument
SIMPLE_OPS = {
    "NONE": lambda arg: None, "NEWTRUE": lambda arg: True, "NEWFALSE": lambda arg: False,
    "EMPTY_TUPLE": lambda arg: (), "EMPTY_LIST": lambda arg: [],
    "INT": lambda arg: arg, "BININT": int, "BININT1": int, "BININT2": int, "LONG": int, "LONG1": int, "LONG4": int,
    "SHORT_BINSTRING": _latin1_bytes, "BINSTRING": _latin1_bytes, "STRING": _latin1_bytes,
    "STRING_BYTES": bytes, "SHORT_BINBYTES": bytes, "BINBYTES": bytes, "BINBYTES8": bytes, "BYTEARRAY8": bytearray,
    "SHORT_BINUNICODE": str, "BINUNICODE": str, "BINUNICODE8": str, "UNICODE": str,
}


def _allowed_global(module: str, name: str) -> _Global:
    if name not in ALLOWED_GLOBALS.get(module, ()):
        raise _Refused(f"global {module}.{name}, which only unpickling could run; a verification bundle names "
                       "no code (facessl never unpickles data files)")
    return _Global(module, name)


def _reduce_reconstruct(func, args):
    """numpy's `_reconstruct(ndarray, (0,), b'b')`: an empty array whose BUILD state brings the data."""
    if len(args) != 3 or not isinstance(args[0], _Global) or repr(args[0]) != "numpy.ndarray":
        raise _Refused(f"{func!r} with arguments other than (numpy.ndarray, shape, tag)")
    return _Array()


def _reduce_frombuffer(func, args):
    """numpy >= 1.16 at protocol 5: `_frombuffer(buffer, dtype, shape, order)`."""
    if len(args) != 4 or not isinstance(args[0], (bytes, bytearray)) or not isinstance(args[1], _Dtype):
        raise _Refused(f"{func!r} with arguments other than (bytes, dtype, shape, order)")
    return _Array(args[1], _shape(args[2]), bytes(args[0]))


def _reduce_scalar(func, args):
    """A numpy scalar (np.bool_(True), np.int64(1)): `scalar(dtype, raw bytes)` -> a Python bool/int."""
    if len(args) != 2 or not isinstance(args[0], _Dtype) or not isinstance(args[1], (bytes, bytearray)):
        raise _Refused(f"{func!r} with arguments other than (dtype, bytes)")
    value = _Array(args[0], (1,), bytes(args[1])).values()[0]
    return bool(value) if value.dtype == np.bool_ else int(value)


def _reduce_dtype(func, args):
    name = _text(args[0]) if args else None
    if name not in ALLOWED_DTYPES:
        raise _Refused(f"numpy dtype {name!r}; only bool and integer arrays are read")
    return _Dtype(name)


def _reduce_encode(func, args):
    """What Python 3 writes for bytes at protocol <= 2: `_codecs.encode(text, 'latin1')`."""
    if len(args) != 2 or not isinstance(args[0], str) or _text(args[1]).lower() not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode other than (text, 'latin1')")
    return args[0].encode("latin-1")


def _reduce_bytes(func, args):
    """bytes() / bytearray() of nothing, of bytes, or of (latin-1 text, 'latin-1')."""
    if args == ():
        data = b""
    elif len(args) == 1 and isinstance(args[0], (bytes, bytearray)):
        data = bytes(args[0])
    elif len(args) == 2 and isinstance(args[0], str) and _text(args[1]).lower() in ("latin1", "latin-1"):
        data = args[0].encode("latin-1")
    else:
        raise _Refused(f"{func!r} with arguments other than bytes")
    return bytearray(data) if func.name == "bytearray" else data


REDUCTIONS = {"_reconstruct": _reduce_reconstruct, "_frombuffer": _reduce_frombuffer, "scalar": _reduce_scalar,
              "dtype": _reduce_dtype, "encode": _reduce_encode, "bytes": _reduce_bytes, "bytearray": _reduce_bytes}


def _shape(value) -> tuple:
    if not isinstance(value, tuple) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise _Refused(f"a numpy shape {value!r}")
    return value


def _build_dtype(dtype: _Dtype, state) -> None:
    """numpy.dtype's state (version, byteorder, subdtype, names, fields, ...): only plain dtypes."""
    if not isinstance(state, tuple) or len(state) < 5 or any(v is not None for v in state[2:5]):
        raise _Refused("a numpy dtype with fields or sub-arrays")
    order = _text(state[1])
    if order not in ("<", ">", "=", "|"):
        raise _Refused(f"a numpy dtype byte order {order!r}")
    dtype.byteorder = order


def _build_array(array: _Array, state) -> None:
    """ndarray's state: (version, shape, dtype, is_fortran, raw data), or the same without the version."""
    if isinstance(state, tuple) and len(state) == 5:
        state = state[1:]
    if not isinstance(state, tuple) or len(state) != 4 or not isinstance(state[1], _Dtype):
        raise _Refused("a numpy array state other than (shape, dtype, fortran, data)")
    shape, dtype, _, data = state
    if not isinstance(data, (bytes, bytearray)):
        raise _Refused(f"numpy array data of type {type(data).__name__} (object arrays are not read)")
    array.dtype, array.shape, array.data = dtype, _shape(shape), bytes(data)


def parse_bundle(path: Path):
    """(bins, issame, protocol) of a bundle, interpreted opcode by opcode (nothing is unpickled)."""
    machine = _Machine()
    pos = 0
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                raise DataFormatError(path, "empty file; expected a pickled (images, issame) pair")
            for name, arg, pos in _opcodes(_BoundedReader(file, size)):
                machine.run(name, arg)
    except _Refused as exc:
        raise DataFormatError(path, f"refused at byte {pos}: {exc}") from None
    except (ValueError, EOFError, OverflowError) as exc:  # pickletools: truncated data, unknown opcode
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DataFormatError(path, f"not a complete pickle (truncated or another kind of file): {message}") from None
    except OSError as exc:
        raise DataFormatError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if len(machine.stack) != 1:
        raise DataFormatError(path, f"malformed pickle: {len(machine.stack)} values left at STOP")
    bins, issame = _unpack_pair(path, machine.stack[0])
    return bins, issame, machine.protocol


def _unpack_pair(path: Path, value) -> tuple[list, np.ndarray]:
    """The (bins, issame) the pickle holds, checked: 2 images per flag, images as bytes."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        what = f"a {type(value).__name__} of {len(value)} items" if isinstance(value, (tuple, list)) else type(value).__name__
        raise DataFormatError(path, f"expected a pickled (images, issame) pair, got {what}")
    bins, flags = value
    if not isinstance(bins, (list, tuple)):
        raise DataFormatError(path, f"expected a list of encoded images first, got {type(bins).__name__}")
    issame = _flags(path, flags)
    if len(bins) != 2 * len(issame):
        raise DataFormatError(path, f"{len(bins)} images for {len(issame)} pairs; expected 2 images per pair")
    return [_image_bytes(path, k, item) for k, item in enumerate(bins)], issame


def _flags(path: Path, flags) -> np.ndarray:
    if isinstance(flags, _Array):
        try:
            values = flags.values()
        except _Refused as exc:
            raise DataFormatError(path, f"issame: {exc}") from None
    elif isinstance(flags, (list, tuple)):
        bad = next((f for f in flags if not isinstance(f, (bool, int))), None)
        if bad is not None:
            raise DataFormatError(path, f"expected issame flags True/False or 1/0, got a {type(bad).__name__}")
        values = np.array(flags, dtype=np.int64)
    else:
        raise DataFormatError(path, f"expected the issame flags second (a list or array), got {type(flags).__name__}")
    if values.size and not np.isin(values, (0, 1)).all():
        raise DataFormatError(path, f"expected issame flags True/False or 1/0, got {values[~np.isin(values, (0, 1))][0]}")
    return values.astype(bool)


def _image_bytes(path: Path, k: int, item) -> bytes:
    if isinstance(item, (bytes, bytearray)):
        return bytes(item) if isinstance(item, bytearray) else item
    if isinstance(item, str):  # a py2 bundle loaded with encoding='latin1' and pickled again: bytes as text
        try:
            return item.encode("latin-1")
        except UnicodeEncodeError:
            raise DataFormatError(path, f"image {k} is text, not encoded image bytes") from None
    if isinstance(item, _Array) and item.data is not None and item.dtype is not None and item.dtype.name in ("u1", "i1"):
        return item.data  # cv2.imencode's (n,1) uint8 buffer: its raw bytes are the encoded file
    kind = f"a numpy {item.dtype.name} array" if isinstance(item, _Array) and item.dtype else type(item).__name__
    raise DataFormatError(path, f"image {k} is {kind}; expected encoded image bytes (JPEG/PNG)")


# --- images --------------------------------------------------------------------------------------------
def _header_size(data: bytes):
    """(width, height) from the image header, or None when it is not an image."""
    from PIL import Image

    from facessl.data.image_decode import decode_errors

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except decode_errors():
        return None


def _decode_into(out: np.ndarray, data: bytes) -> str:
    """Decode one image into `out` (H,W,3): 'ok', 'resized' or 'bad'."""
    from PIL import Image

    from facessl.data.image_decode import decode_errors, to_rgb

    height, width = out.shape[:2]
    try:
        with Image.open(io.BytesIO(data)) as im:
            if max(im.size) > MAX_SIDE:
                return "bad"
            rgb = to_rgb(im)
            resized = rgb.size != (width, height)
            if resized:
                rgb = rgb.resize((width, height), Image.BILINEAR)
            out[...] = np.asarray(rgb, dtype=np.uint8)
    except decode_errors():
        return "bad"
    return "resized" if resized else "ok"


def decode_images(path: Path, bins: list[bytes]) -> tuple[np.ndarray, np.ndarray, int]:
    """(uint8 (N,H,W,3) images, (N,) bool decoded, images resized) at the bundle's most common size."""
    sizes = [_header_size(b) for b in bins]
    common = Counter(s for s in sizes if s is not None and max(s) <= MAX_SIDE).most_common(1)
    if not common:
        raise DataFormatError(path, f"none of its {len(bins)} images decodes (expected JPEG/PNG bytes)")
    width, height = common[0][0]
    images = np.zeros((len(bins), height, width, 3), np.uint8)
    decode = lambda k: _decode_into(images[k], bins[k]) if sizes[k] is not None else "bad"
    with ThreadPoolExecutor(DECODE_WORKERS) as pool:  # Pillow releases the GIL while decoding; rows are disjoint
        results = list(pool.map(decode, range(len(bins))))
    good = np.array([r != "bad" for r in results], bool)
    return images, good, results.count("resized")


def kfold_folds(n_pairs: int, n_folds: int = N_FOLDS) -> np.ndarray:
    """sklearn KFold(n_splits, shuffle=False) as fold numbers: consecutive blocks, the first n % k one longer."""
    k = max(1, min(n_folds, n_pairs))
    sizes = np.full(k, n_pairs // k, np.int64)
    sizes[: n_pairs % k] += 1
    return np.repeat(np.arange(k), sizes)


# --- finding the bundle --------------------------------------------------------------------------------
def _bundles_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".bin")


def find_bundle(root: Path, variant: str | None) -> Path:
    """The .bin to read: root itself, or the one named `variant` (or the only one) in root or a folder in it."""
    wanted = None if variant is None else Path(str(variant).strip()).name
    wanted = wanted[:-4] if wanted and wanted.lower().endswith(".bin") else wanted
    if root.is_file():
        if wanted and wanted.lower() != root.stem.lower():
            raise DataFormatError(root, f"--variant {variant} names another bundle than this file")
        return root
    if not root.is_dir():
        raise DataFormatError(root, "no such file or folder; expected a verification bundle such as lfw.bin")
    root = unnested(root)
    found = _bundles_in(root) or [p for sub in sorted(root.iterdir()) if sub.is_dir() for p in _bundles_in(sub)]
    if wanted:
        found = [p for p in found if p.stem.lower() == wanted.lower()]
    if len(found) == 1:
        return found[0]
    listed = ", ".join(sorted(str(p.relative_to(root).with_suffix("")) for p in found))
    if found and len({p.stem.lower() for p in found}) < len(found):
        raise DataFormatError(root, f"several bundles of that name ({listed}); give the folder or the .bin file itself")
    if found:
        raise DataFormatError(root, f"several verification bundles ({listed}); pick one with --variant NAME "
                                    "(suite: options: {variant: NAME})")
    names = _bundles_in(root) or [p for sub in root.iterdir() if sub.is_dir() for p in _bundles_in(sub)]
    have = ", ".join(sorted({p.stem for p in names})) or "none"
    raise DataFormatError(root, f"no verification bundle {(wanted + '.bin') if wanted else '*.bin'} here or in a "
                                f"folder in it (bundles found: {have}; e.g. {', '.join(KNOWN_BUNDLES)})")


# --- the reader ----------------------------------------------------------------------------------------
def _whole_number(value, option: str) -> int:
    """A reader option >= 1 given as 10 or '10' (a command line's --reader-option n_folds=10)."""
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise FacesslError(f"insightface-bin {option} must be a whole number >= 1, got {value!r}")
    return int(text)


def read_insightface_bin(root, variant: str | None = None, n_folds: int = N_FOLDS) -> PairSet:
    """A verification bundle (lfw.bin, agedb_30.bin ...) as a PairSet; see the module docstring.
    variant: the bundle's name (agedb_30) when the folder holds several; n_folds: evaluation folds (10)."""
    n_folds = _whole_number(n_folds, "n_folds")
    path = find_bundle(Path(root), variant)
    bins, issame, protocol = parse_bundle(path)
    if not len(issame):
        raise DataFormatError(path, "holds no pairs (empty issame list)")
    fold = kfold_folds(len(issame), n_folds)
    images, good, resized = decode_images(path, bins)
    del bins  # the encoded copies are no longer needed
    pair_ok = good[0::2] & good[1::2]
    if not pair_ok.any():
        raise DataFormatError(path, f"no pair left: every pair has an image that does not decode ({int((~good).sum())} images)")
    # a pair of two images with the same pixels scores a cosine of 1 whatever the model: skipped and named
    identical = np.array([bool(ok) and np.array_equal(images[2 * k], images[2 * k + 1]) for k, ok in enumerate(pair_ok)],
                         dtype=bool)
    pair_ok &= ~identical
    if not pair_ok.any():
        raise DataFormatError(path, "no pair left: every pair that decodes is two images with the same pixels")
    keep_images = np.repeat(pair_ok, 2)
    if not keep_images.all():
        images = images[keep_images]
    n_kept = int(pair_ok.sum())
    pairs = np.arange(2 * n_kept, dtype=np.int64).reshape(-1, 2)
    meta = {"bundle": path.stem, "pickle_protocol": protocol, "image_size": list(images.shape[1:3]),
            "resized_images": resized}
    if identical.any():
        n = int(identical.sum())
        shown = ", ".join(str(k + 1) for k in np.flatnonzero(identical)[:SHOWN])
        more = f" ... ({n - SHOWN} more)" if n > SHOWN else ""
        meta["pair_notes"] = [f"{n} pair{'s' * (n != 1)} of two images with the same "
                              f"pixels (a cosine of 1 whatever the model) skipped: pair {shown}{more} (1-based, in "
                              f"the bundle's order)"]
    labels = {"position": np.flatnonzero(keep_images).astype(np.int64)}
    result = PairSet(ImageSet(images, labels, None, str(path), meta=meta), pairs, issame[pair_ok], fold[pair_ok], str(path))
    same_pixels = {SAME_IMAGE: int(identical.sum())} if identical.any() else {}
    return with_dropped(result, {UNDECODABLE: int((~good).sum()), UNDECODABLE_PAIR: int((~(good[0::2] & good[1::2])).sum()),
                                 **same_pixels})
