"""`facessl prepare`: raw videos or photos -> aligned face crops that `facessl pretrain` reads.

    facessl prepare --videos DIR --out OUT [--size 128] [--margin 0.25] [--fps 10 | --every K]
                    [--format tree|shards] [--workers N] [--detector mtcnn] [--quiet]
    facessl prepare --images DIR --out OUT [--size 128] [--margin 0.25]

Rerunning the same command continues a killed run; finished videos are not redone, new inputs
(and skipped ones that changed since) are. Photos: `photos.csv` in OUT maps each input to its crop.
A photo or video standing sideways or upside down without saying so (no EXIF / rotation flag) is
turned upright when its upright reading finds no face it can trust (data/video/orient.py); said here.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading

from facessl.errors import FacesslError, Terminated
from facessl.wording import counted


def add_arguments(parser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--videos", help="folder of videos (.mp4 .mov .avi .mkv .webm; any depth; VoxCeleb2 id/video/clip.mp4 keeps its names)")
    src.add_argument("--images", help="folder of photos: one aligned crop of the largest face each, same folders "
                                      "(names in OUT/photos.csv)")
    parser.add_argument("--out", required=True, help="output folder (a rerun resumes)")
    parser.add_argument("--size", type=int, default=128, help="crop side in pixels (default 128)")
    parser.add_argument("--margin", type=float, default=0.25, help="extra context around the face, fraction of the tight crop per side (default 0.25)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--fps", type=float, help="sample this many frames per second (default 10)")
    rate.add_argument("--every", type=int, help="sample every k-th frame instead")
    parser.add_argument("--format", choices=("tree", "shards"), default="tree",
                        help="tree: <identity>/<video>/<track>/<frame>.jpg; shards: tar shards + index (videos only)")
    parser.add_argument("--detector", default="mtcnn", help="face detector (mtcnn; haar where OpenCV 4 is installed)")
    parser.add_argument("--detect-every", type=int, default=5, help="full detection every k-th sampled frame, tracking between (default 5)")
    parser.add_argument("--min-track", type=int, default=5, help="drop tracks shorter than this many sampled frames (default 5)")
    parser.add_argument("--max-faces", type=int, default=4, help="at most this many faces per frame, the largest (default 4)")
    parser.add_argument("--min-face", type=int, default=20, help="smallest face, pixels at detection resolution (default 20)")
    parser.add_argument("--shard-frames", type=int, default=2000, help="frames per tar shard (default 2000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="worker processes (default: one per core)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")


def _positive(name, value, kind=int):
    if value is not None and not value > 0:
        raise FacesslError(f"--{name} {value}: expected a positive {'integer' if kind is int else 'number'}")


def options_from(args):
    from facessl.data.video.pipeline import Options

    for name in ("size", "every", "detect_every", "min_track", "max_faces", "min_face", "shard_frames", "workers"):
        _positive(name.replace("_", "-"), getattr(args, name))
    _positive("fps", args.fps, float)
    if args.size < 16:
        raise FacesslError(f"--size {args.size}: expected at least 16 pixels")
    if not 0 <= args.margin <= 2:
        raise FacesslError(f"--margin {args.margin}: expected a number from 0 to 2")
    fps = None if args.every else (args.fps or 10.0)
    return Options(size=args.size, margin=args.margin, fps=fps, every=args.every or 1, detector=args.detector,
                   detect_every=args.detect_every, min_track=args.min_track, max_faces=args.max_faces,
                   min_face=args.min_face)


def run(args) -> int:
    from facessl.data.video.detectors import detector_names
    from facessl.data.video.runner import prepare

    from facessl.commands.options import output_dir

    output_dir(args.out, "--out")
    opts = options_from(args)
    if args.detector not in detector_names():
        raise FacesslError(f"--detector {args.detector!r}: unknown; choose one of {', '.join(detector_names())}")
    kind, root = ("videos", args.videos) if args.videos else ("images", args.images)
    if kind == "images" and args.format == "shards":
        raise FacesslError("--format shards is for videos (face tracks); photos are written as a folder of crops")
    received: list = []
    try:
        with _sigterm_as_interrupt(received):
            s = prepare(kind, root, args.out, opts, args.format, args.workers, args.quiet,
                        shard_frames=args.shard_frames)
    except (KeyboardInterrupt, FacesslError):
        if received:  # (a worker killed by the same signal may be what the main process saw first)
            raise Terminated("interrupted; rerun the same command to resume", 143) from None
        raise
    if not args.quiet:
        report(kind, s, args.out)
    return 0


class _Stopped(KeyboardInterrupt):
    """SIGTERM (`timeout`, `kill`, a scheduler) taken as Ctrl-C: the same stop, the workers shut down."""


@contextlib.contextmanager
def _sigterm_as_interrupt(received: list):
    """While preparing, SIGTERM raises _Stopped in the main process, so the run stops as on Ctrl-C (workers ended,
    the shard index written, multiprocessing's semaphores released: no resource_tracker warning), not killed
    where it stands. `received` gets the signal's number."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return

    def stop(signum, frame):
        received.append(signum)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM while stopping is not a second traceback
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def report(kind: str, s: dict, out) -> None:
    """The console summary: counts, then every kind of loss by name (up to a few each; all in prepare.json)."""
    from facessl.data.video.writers import partly_decoded, shown

    t, run_ = s["totals"], s["_run"]
    if kind == "videos":
        print(f"prepared {counted(t['videos'], 'video')}: {counted(t['tracks_written'], 'track')}, "
              f"{counted(t['frames_written'], 'face crop')} from {counted(t['frames_sampled'], 'sampled frame')}; "
              f"{t['videos_skipped']} skipped, "
              f"{t['videos_without_track']} without a track")
        _names("without a track", [v["key"] for v in s["videos"] if not v.get("tracks")])
        _names("turned upright", [f"{v['key']} ({v['turn']}° anticlockwise)" for v in s["videos"] if v.get("turn")])
        for v in [v for v in s["videos"] if partly_decoded(v)][:10]:
            print(f"  partly decoded {shown(v['key'])}: {partly_decoded(v)}")
    else:
        turned = f" ({t['turned']} turned upright)" if t["turned"] else ""  # upright data: the line as it was
        print(f"prepared {counted(t['images'], 'photo')}: {counted(t['written'], 'crop')} written{turned}; "
              f"{t['no_face']} without a face, {t['unreadable']} unreadable, {t['errors']} failed; "
              f"names in {os.path.join(out, 'photos.csv')}")
        _names("turned upright", s["turned"])
        _names("without a face", s["no_face"])
        _names("unreadable", s["unreadable"])
    for item in s["skipped"][:10]:
        print(f"  skipped {shown(item['input'])}: {item['reason']}")
    if s.get("removed"):
        _names("outputs removed, their input is gone", s["removed"])
    if s.get("ignored_files"):
        kinds = ", ".join(f"{suffix} ({n})" for suffix, n in list(s["ignored_files"].items())[:6])
        total, names = sum(s["ignored_files"].values()), s["ignored_names"][:5]
        more = f" ... ({total - len(names)} more)" if total > len(names) else ""
        print(f"  not read ({'videos' if kind == 'videos' else 'not images'}): {counted(total, 'other file')}: "
              f"{kinds}: {', '.join(shown(x) for x in names)}{more}")
    if not run_["inputs_done"]:
        print(f"nothing new to do: every input was prepared before; summary in {os.path.join(out, 'prepare.json')}")
        return
    unit = "frames" if kind == "videos" else "photos"
    print(f"{run_['frames_per_s']:.1f} {unit}/s this run ({run_['seconds']:.1f} s, {counted(run_['workers'], 'worker')}); "
          f"summary in {os.path.join(out, 'prepare.json')}")


def _names(what: str, names: list[str], n: int = 5) -> None:
    from facessl.data.video.writers import shown

    if names:
        more = f" ... ({len(names) - n} more)" if len(names) > n else ""
        print(f"  {what} ({len(names)}): {', '.join(shown(x) for x in names[:n])}{more}")
