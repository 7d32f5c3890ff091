"""`facessl report RUN_DIR`: rebuild RUN_DIR/report.md and RUN_DIR/report.html from saved results.

Run-directory layout the demo writes (and this command reads):

  RUN_DIR/results/tables.json   REQUIRED. Normalised results (facessl.report.tables):
      {"main":           {method: {metric_key: [mean, std]}},   # random, simclr, pcl, fabnet, supervised
       "ablation":       {step:   {metric_key: [mean, std]}},   # simclr, +l_dis, +l_orth, +l_pose, +dwa
       "feature_choice": {feature: {metric_key: [mean, std]}},  # ff, fp, fs, ff+fp
       "disentanglement": {feature: {factor: value}},           # facessl.demo.analysis.disentanglement_table
       "units": "percent" | "fraction",  # of accuracies and F1 (NME always %); default "percent"
       "notes": {"main" | "ablation" | "feature_choice" | "disentanglement": "markdown text"}}
      Every key except "main" is optional.
  RUN_DIR/results/verdicts.json optional. [{"claim", "verdict", "numbers", "rule"}] (facessl.demo.verdicts);
  RUN_DIR/results/targets.json  optional. the demo's targets against random weights; both open the report.
  RUN_DIR/hardware.json         REQUIRED. facessl.report.hardware_info() at the end of the run.
  RUN_DIR/timings.json          REQUIRED. {stage: seconds | {sub_stage: seconds}}.
  RUN_DIR/figures/*.png         optional. Placed by file-name prefix (FIGURE_SECTIONS), e.g.
      preview*.png, curves*.png, tsne*.png, recon*.png, disentanglement*.png, retrieval*.png, flow*.png.
  RUN_DIR/figures/captions.json optional. {"tsne.png": "caption", ...}; its order is the figure order.
  RUN_DIR/summary.md            optional. Markdown placed at the top of the report.
"""
from __future__ import annotations

import json
from pathlib import Path

from facessl.engine.io import non_finite_from_text
from facessl.errors import DataFormatError, FacesslError
from facessl.report import build_report
from facessl.report.hardware import hardware_section
from facessl.report.sections import Figure, Section, Table
from facessl.report.verdicts import targets_table, verdict_table
from facessl.report.tables import (PAPER_ABLATION, PAPER_FEATURES, PAPER_RESULTS, ablation_table,
                                   feature_choice_table, format_mean_std, fractions_to_percent, paper_tables)

REQUIRED = ("results/tables.json", "hardware.json", "timings.json")
DEFAULT_TITLE = "facessl: self-supervised facial representations"
FIGURE_SECTIONS = (  # file-name prefix -> (section title, caption when captions.json has none), in report order
    ("preview", "Data", "Sample frames of the pretraining data."),
    ("samples", "Data", "Sample images of the evaluation data."),
    ("curves", "Pretraining", "Loss terms during pretraining: raw (faint) and smoothed."),
    ("training", "Pretraining", "Training curves."),
    ("tsne", "Feature space (t-SNE)", "t-SNE of frozen features on the test images."),
    ("recon", "Reconstructions from feature combinations", "Decoder outputs from feature combinations."),
    ("disentanglement", "Disentanglement", "How much each feature knows about each factor (held-out data)."),
    ("retrieval", "Retrieval", "Nearest neighbours in feature space across identities."),
    ("flow", "FAb-Net flow fields", "Predicted flow fields and confidence maps."),
)


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `facessl demo` or `facessl study`")
    parser.add_argument("--title", default=None,
                        help=f"report title (default: the title of RUN_DIR/report.md if there is one, else {DEFAULT_TITLE!r})")


def _read_json(path: Path):
    try:  # NaN / infinity as written in strict JSON (engine.io.non_finite_as_text)
        return non_finite_from_text(json.loads(path.read_text()))
    except FileNotFoundError:
        raise FacesslError(f"{path}: not found (not a `facessl demo` or `facessl study` directory, or one that "
                           "stopped before its report: rerun that command)") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"not valid JSON ({exc.msg})", line=exc.lineno) from None


def _rows(tables: dict, key: str, path: Path, percent: bool) -> dict:
    rows = tables.get(key) or {}
    if not isinstance(rows, dict) or not all(isinstance(v, dict) for v in rows.values()):
        raise DataFormatError(path, f"'{key}' must map names to {{metric_key: [mean, std]}} objects")
    return rows if percent else fractions_to_percent(rows)


def _figures(run_dir: Path) -> dict[str, list[Figure]]:
    """Section title -> figures, ordered by captions.json then by name."""
    folder = run_dir / "figures"
    if not folder.is_dir():
        return {}
    captions_path = folder / "captions.json"
    captions = _read_json(captions_path) if captions_path.is_file() else {}
    if not isinstance(captions, dict):
        raise DataFormatError(captions_path, "expected an object {file name: caption}")
    files = sorted(p.name for p in folder.glob("*.png"))
    ordered = [f for f in captions if f in files] + [f for f in files if f not in captions]
    grouped: dict[str, list[Figure]] = {}
    for name in ordered:
        section, default = next(((title, caption) for prefix, title, caption in FIGURE_SECTIONS
                                 if name.startswith(prefix)), ("Other figures", ""))
        grouped.setdefault(section, []).append(Figure(folder / name, str(captions.get(name, default))))
    return grouped


def _disentanglement_table(table: dict, path: Path) -> Table:
    from facessl.demo.analysis import FACTOR_HEADERS, FACTORS

    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise DataFormatError(path, "'disentanglement' must map features to {factor: value} objects")
    present = {f for row in table.values() for f in row}
    factors = [f for f in FACTORS if f in present] + sorted(present - set(FACTORS))
    rows = [[name] + [format_mean_std(row.get(f)) for f in factors] for name, row in table.items()]
    return Table(["feature"] + [FACTOR_HEADERS.get(f, f) for f in factors], rows,
                 caption="Linear read-out of each factor from each feature on held-out data "
                         "(R² for angles, accuracy for identity and expression).")


def is_eval_folder(run_dir) -> bool:
    """A `facessl eval --out` folder: its results.json (with the evaluated tasks) and results.md are its report."""
    try:
        results = json.loads((Path(run_dir) / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(results, dict) and "tasks" in results and not (Path(run_dir) / "results" / "tables.json").is_file()


def report_sections(run_dir) -> tuple[list[Section], str]:
    """Build the sections (and the intro text) of RUN_DIR's report from its saved files."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FacesslError(f"{run_dir}: run directory not found")
    if is_eval_folder(run_dir):  # not a demo left half-way: another command's folder, reported already
        raise FacesslError(f"{run_dir} is a `facessl eval` folder: its report is {run_dir / 'results.md'} (numbers in "
                           "results.json; `facessl compare` puts several such folders side by side); `facessl report` "
                           "rebuilds the reports of `facessl demo` and `facessl study` folders")
    for name in REQUIRED:
        if not (run_dir / name).is_file():
            raise FacesslError(f"{run_dir / name}: not found (`facessl report` rebuilds `facessl demo` and `facessl "
                               "study` folders; this is neither, or a demo that stopped before its report: rerun "
                               "`facessl demo`)")
    tables_path = run_dir / "results/tables.json"
    tables = _read_json(tables_path)
    if not isinstance(tables, dict) or "main" not in tables:
        raise DataFormatError(tables_path, "expected an object with a 'main' key")
    units = tables.get("units", "percent")
    if units not in ("percent", "fraction"):
        raise DataFormatError(tables_path, f"'units' must be \"percent\" or \"fraction\", got {units!r}")
    percent = units == "percent"
    notes = tables.get("notes") or {}
    figures = _figures(run_dir)
    sections = []

    def figure_section(title: str, text: str = "", extra_tables=()):
        if figures.get(title) or extra_tables:
            sections.append(Section(title, text, list(extra_tables), figures.pop(title, [])))

    opening = [(name, builder) for name, builder in (("verdicts", verdict_table), ("targets", targets_table))
               if (run_dir / "results" / f"{name}.json").is_file()]
    if opening:
        sections.append(Section("Verdicts: the papers' claims at this budget", "",
                                [builder(_read_json(run_dir / "results" / f"{name}.json")) for name, builder in opening]))
    figure_section("Data")
    figure_section("Pretraining")
    main = _rows(tables, "main", tables_path, percent)
    for i, (title, table) in enumerate(paper_tables(main).items()):
        if table.rows:
            sections.append(Section(title, notes.get("main", "") if i == 0 else "", [table]))
    for key, builder, title in (("ablation", ablation_table, "PCL ablation"),
                                ("feature_choice", feature_choice_table, "PCL feature choice")):
        rows = _rows(tables, key, tables_path, percent)
        if rows:
            sections.append(Section(title, notes.get(key, ""), [builder(rows)]))
    dis = tables.get("disentanglement")
    figure_section("Disentanglement", notes.get("disentanglement", ""),
                   [_disentanglement_table(dis, tables_path)] if dis else [])
    for title in [t for _, t, _ in FIGURE_SECTIONS] + ["Other figures"]:
        figure_section(title)
    reference = [t for t in paper_tables(PAPER_RESULTS).values() if t.rows]
    reference += [ablation_table(PAPER_ABLATION), feature_choice_table(PAPER_FEATURES)]
    for t in reference:
        t.caption = t.caption.split(":")[0] + " — as published (PCL poster, CVPR 2023; FAb-Net, BMVC 2018)."
    sections.append(Section("Published numbers, for comparison",
                            "Real benchmarks and full-scale pretraining; not comparable in absolute terms "
                            "with a run on synthetic data.", reference))
    facts = {name: _read_json(run_dir / name) for name in ("hardware.json", "timings.json")}
    for name, value in facts.items():
        if not isinstance(value, dict):
            raise DataFormatError(run_dir / name, "expected a JSON object")
    sections.append(hardware_section(facts["hardware.json"], facts["timings.json"]))
    summary = run_dir / "summary.md"
    return sections, summary.read_text() if summary.is_file() else ""


def previous_title(run_dir) -> str | None:
    """The title of the report already in RUN_DIR (its report.md's first line), so that a rebuild keeps the
    demo's title, or one given with --title before."""
    try:
        first = (Path(run_dir) / "report.md").read_text(encoding="utf-8").splitlines()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    if not first.startswith("# "):
        return None
    return first[2:].strip() or None


def is_study(run_dir) -> bool:
    """A `facessl study` directory (its tables.json holds the study's rows and plan, not the demo's 'main')."""
    try:
        tables = json.loads((Path(run_dir) / "results" / "tables.json").read_text())
    except (OSError, ValueError):
        return (Path(run_dir) / "study_plan.json").is_file()
    return isinstance(tables, dict) and "rows" in tables and "plan" in tables


def run(args) -> int:
    if is_study(args.run_dir):  # the study writes its own report; rebuilt the same way
        from facessl.study.report import rebuild

        if not (Path(args.run_dir) / "results" / "tables.json").is_file():
            raise FacesslError(f"{args.run_dir}: a study whose report was never written (it stopped before its "
                               "last stage); rerun `facessl study` with the same --out to finish it")
        rebuild(Path(args.run_dir))
        print(f"wrote {Path(args.run_dir) / 'report.md'}")
        print(f"wrote {Path(args.run_dir) / 'report.html'}")
        return 0
    sections, intro = report_sections(args.run_dir)
    title = args.title or previous_title(args.run_dir) or DEFAULT_TITLE
    md_path, html_path = build_report(args.run_dir, sections, title=title, intro=intro)
    print(f"wrote {md_path}")
    print(f"wrote {html_path}")
    return 0
