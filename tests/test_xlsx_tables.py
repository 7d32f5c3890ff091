"""`csv:labels.xlsx`: a user's own labels kept in Excel, read through formats.xlsx (zip + XML, no openpyxl).

Every workbook is written here by hand with zipfile, as Excel saves one: sheet names in xl/workbook.xml, the
sheets found through xl/_rels/workbook.xml.rels, text in xl/sharedStrings.xml (one string as rich-text runs) or
inline (t="inlineStr"), numbers as <v>, empty cells left out of the XML (a row's trailing cells simply missing).
"""
import json
import zipfile

import numpy as np
import pytest

import facessl
from eval_toys import ToyEncoder
from facessl.cli import main
from facessl.data import formats
from facessl.data.formats import xlsx
from facessl.data.formats.imagefiles import save_image
from facessl.data.formats.text import read_csv
from facessl.errors import DataFormatError, FacesslError

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CLI_FAST = ["--seeds", "1", "--epochs", "3", "--baselines", "random", "--device", "cpu", "--quiet", "--no-cache"]


def num(text):
    """A number cell, its <v> text exactly as given ('3', '2.0', '12.5')."""
    return ("n", text)


def inline(text):
    """A text cell written inline (<is><t>), as some exporters do, instead of a shared string."""
    return ("i", text)


def letters(index):
    return ("" if index < 26 else chr(64 + index // 26)) + chr(65 + index % 26)


def write_xlsx(path, sheets):
    """sheets = [(name, {row number: [cell, ...]}, state)]: a cell is text (a shared string), num(..), inline(..)
    or None (left out of the XML, as Excel leaves empty cells out); trailing empty cells are simply not listed."""
    shared, index = [], {}
    parts = {}
    for n, (_, rows, _) in enumerate(sheets, start=1):
        xml_rows = []
        for r, cells in sorted(rows.items()):
            xml_cells = []
            for c, cell in enumerate(cells):
                ref = f"{letters(c)}{r}"
                if cell is None:
                    continue
                if isinstance(cell, tuple) and cell[0] == "n":
                    xml_cells.append(f'<c r="{ref}"><v>{cell[1]}</v></c>')
                elif isinstance(cell, tuple):
                    xml_cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{cell[1]}</t></is></c>')
                else:
                    if cell not in index:
                        index[cell] = len(shared)
                        shared.append(cell)
                    xml_cells.append(f'<c r="{ref}" t="s"><v>{index[cell]}</v></c>')
            xml_rows.append(f'<row r="{r}">{"".join(xml_cells)}</row>')
        parts[f"xl/worksheets/sheet{n}.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<worksheet xmlns="{MAIN_NS}"><sheetData>'
            + "".join(xml_rows) + "</sheetData></worksheet>")
    items = []
    for text in shared:
        if text == "happy":  # rich text: two runs, and a phonetic run that is not part of the text
            items.append('<si><r><t>ha</t></r><r><rPr><b/></rPr><t xml:space="preserve">ppy</t></r>'
                         '<rPh sb="0" eb="1"><t>x</t></rPh></si>')
        else:
            items.append(f"<si><t>{text}</t></si>")
    parts["xl/sharedStrings.xml"] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<sst xmlns="'
                                     f'{MAIN_NS}" count="{len(items)}" uniqueCount="{len(items)}">'
                                     + "".join(items) + "</sst>")
    parts["xl/workbook.xml"] = (
        f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
        + "".join(f'<sheet name="{name}" sheetId="{n}"{f" state={chr(34)}{state}{chr(34)}" if state else ""} '
                  f'r:id="rId{n}"/>' for n, (name, _, state) in enumerate(sheets, 1))
        + "</sheets></workbook>")
    parts["xl/_rels/workbook.xml.rels"] = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(f'<Relationship Id="rId{n}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                  for n in range(1, len(sheets) + 1))
        + f'<Relationship Id="rId{len(sheets) + 1}" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
        + "</Relationships>")
    parts["[Content_Types].xml"] = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sheet.main+xml"/></Types>')
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            book.writestr(name, text)
    return path


def photos(folder, n=12, size=12, seed=0):
    """n tiny PNGs S<person>_<i>.png coloured by class (happy / sad / angry, in turn); their names and labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names, labels = [], []
    for i in range(n):
        label = ("happy", "sad", "angry")[i % 3]
        colour = {"happy": 200, "sad": 60, "angry": 130}[label]
        names.append(f"S{i % 12:02d}_{i:03d}.png")
        labels.append(label)
        save_image(folder / names[-1], np.clip(colour + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8))
    return names, labels


def own_labels(folder, n=12):
    """The photos and a workbook of their labels: an empty first sheet ('Notes'), then 'Labels' with a blank
    (formatted, no text) row 1, the header on row 2, persons as numbers (one written 7.0), an inline-string
    column, a `note` column filled on one row only (other rows' trailing cells absent)."""
    names, labels = photos(folder, n)
    rows = {1: [None], 2: ["image", inline("emotion"), "person", "score", "note"]}
    for i, (name, label) in enumerate(zip(names, labels)):
        person = num(f"{i % 12}.0" if i == 1 else str(i % 12))
        score = num(["3", "12.5", "-4", "0.30000000000000004"][i % 4])
        cells = [name, label if i % 2 else inline(label), person, score]
        if i == 5:
            cells.append("blurry")
        rows[3 + i] = cells
    book = write_xlsx(folder / "labels.xlsx", [("Notes", {}, None), ("Labels", rows, None)])
    return book, names, labels


def test_a_workbook_reads_as_its_csv_copy_does(tmp_path):
    book, names, labels = own_labels(tmp_path)
    data = formats.read("csv", book, label_column="emotion", group_column="person")
    assert data.meta["class_names"] == ["angry", "happy", "sad"] and data.meta["label_column"] == "emotion"
    assert [data.meta["class_names"][k] for k in data.labels["class"]] == labels
    assert data.images == [str(tmp_path / n) for n in names]  # relative to the workbook's folder
    assert data.labels["group"].tolist() == [str(i % 12) for i in range(12)]  # 1.0 -> '1', as Excel shows it
    lines = ["image,emotion,person,score,note"] + [f"{n},{lab},{i % 12},{['3', '12.5', '-4', '0.3'][i % 4]},"
                                                   f"{'blurry' if i == 5 else ''}"
                                                   for i, (n, lab) in enumerate(zip(names, labels))]
    (tmp_path / "labels.csv").write_text("\r\n".join(lines) + "\r\n")
    copy = formats.read("csv", tmp_path / "labels.csv", label_column="emotion", group_column="person")
    assert copy.images == data.images and copy.split.tolist() == data.split.tolist()
    np.testing.assert_array_equal(copy.labels["class"], data.labels["class"])
    # the same (header, rows) shape as text.read_csv, the row numbers the sheet's own
    header, rows = xlsx.read_xlsx(book, "image table")
    csv_header, csv_rows = read_csv(tmp_path / "labels.csv", "image table")
    assert header == csv_header and [f for _, f in rows] == [f for _, f in csv_rows]
    assert [line for line, _ in rows] == list(range(3, 15))
    assert rows[0][1] == [names[0], "happy", "0", "3", ""]  # rich-text runs joined; trailing cell padded


def test_numbers_as_excel_shows_them_and_a_suffix_in_any_case(tmp_path):
    names, _ = photos(tmp_path, 4)
    rows = {1: ["file", "yaw", "pitch", "roll"]}
    values = [("12.5", "-3", "0.4"), ("1.0000000000000001E-5", "2", "45.000000000000007"), ("0", "-0.5", "1E-3"),
              ("30", "10", "-7.25")]
    for i, (name, v) in enumerate(zip(names, values)):
        rows[2 + i] = [name, *map(num, v)]
    book = write_xlsx(tmp_path / "Pose.XLSX", [("Sheet1", rows, None)])
    data = formats.read("csv", book, target_columns="yaw,pitch,roll")
    assert data.meta["target_columns"] == ["yaw", "pitch", "roll"]
    np.testing.assert_allclose(data.labels["target"], [[12.5, -3, 0.4], [1e-5, 2, 45], [0, -0.5, 0.001],
                                                       [30, 10, -7.25]])
    assert [xlsx.number_text(v) for v in ("3", "3.0", "12.5", "0.30000000000000004", "-4.0", "1E-05",
                                          "123456789012345678", "2.5E+20")] == \
        ["3", "3", "12.5", "0.3", "-4", "1E-05", "123456789012345678", "2.5E+20"]


def test_the_first_visible_sheet_with_rows_is_read(tmp_path):
    names, _ = photos(tmp_path, 3)
    lookup = {1: ["code", "meaning"], 2: [num("1"), "happy"]}
    labels = {4: ["image", "label"], **{5 + i: [n, num(str(i))] for i, n in enumerate(names)}}
    book = write_xlsx(tmp_path / "own.xlsx", [("lookup", lookup, "hidden"), ("Empty", {3: [None, ""]}, None),
                                              ("Faces", labels, None)])
    data = formats.read("csv", book)
    assert data.meta["class_names"] == ["0", "1", "2"] and data.meta["label_column"] == "label"
    assert [n for n, _ in xlsx.read_xlsx(book, "table")[1]] == [5, 6, 7]
    assert [(s.title, s.hidden) for s in xlsx.worksheets(book)] == [("lookup", True), ("Empty", False),
                                                                     ("Faces", False)]


def test_the_sheet_with_the_named_columns_is_read_past_a_notes_sheet_or_by_name(tmp_path):
    """A workbook whose first sheet is notes (a title row, or a header and a line of text: as openpyxl or a user
    writes one) before the table: the table's sheet is found by its columns; `sheet` names one directly."""
    names, labels = photos(tmp_path, 3)
    notes = {1: ["labels of my faces"], 2: ["written by hand"]}
    faces = {1: ["file", "mood"], **{2 + i: [n, lab] for i, (n, lab) in enumerate(zip(names, labels))}}
    book = write_xlsx(tmp_path / "own.xlsx", [("Notes", notes, None), ("Faces", faces, None)])
    data = formats.read("csv", book, image_column="file", label_column="mood")
    assert [data.meta["class_names"][k] for k in data.labels["class"]] == labels
    assert len(formats.read("csv", book, image_column="file", label_column="mood", sheet="faces")) == 3
    with pytest.raises(DataFormatError, match=r"own.xlsx \[sheet Notes\]:1: sheet: no column 'file'"):
        formats.read("csv", book, image_column="file", label_column="mood", sheet="Notes")
    with pytest.raises(DataFormatError, match="no worksheet named 'Other'; the workbook has Notes, Faces"):
        formats.read("csv", book, label_column="mood", sheet="Other")
    (tmp_path / "own.csv").write_text("file,mood\n" + "".join(f"{n},{lab}\n" for n, lab in zip(names, labels)))
    with pytest.raises(FacesslError, match="sheet='Faces' applies to an .xlsx workbook, not a text table"):
        formats.read("csv", tmp_path / "own.csv", label_column="mood", sheet="Faces")


def test_a_missing_column_names_the_workbook_sheet_and_header_on_one_line(tmp_path):
    book, _, _ = own_labels(tmp_path)
    with pytest.raises(DataFormatError) as error:
        formats.read("csv", book, label_column="mood")
    message = str(error.value)
    assert "\n" not in message
    assert message == (f"{book} [sheet Labels]:2: sheet: no column 'mood'; the header has 'image', 'emotion', "
                       f"'person', 'score', 'note'")
    with pytest.raises(DataFormatError, match=r"labels.xlsx \[sheet Labels\]:3: column 'emotion': expected a "
                                              r"finite number, got 'happy'"):
        formats.read("csv", book, target_columns="score,emotion")
    (tmp_path / "S03_003.png").unlink()
    with pytest.raises(DataFormatError, match=r"labels.xlsx \[sheet Labels\]:6: image .*S03_003.png named here "
                                              r"does not exist"):
        formats.read("csv", book, label_column="emotion")
    assert len(formats.read("csv", book, label_column="emotion", skip_missing=True)) == 11


def test_a_filled_cell_right_of_the_header_names_the_cell(tmp_path):
    names, _ = photos(tmp_path, 3)
    rows = {1: ["image", "label"], 2: [names[0], "a"], 3: [names[1], "b", None, "oops"], 4: [names[2], "a"]}
    book = write_xlsx(tmp_path / "wide.xlsx", [("Sheet1", rows, None)])
    with pytest.raises(DataFormatError, match=r"wide.xlsx \[sheet Sheet1\]:3: expected 2 fields \(image, label\), "
                                              r"got 4: cell D3 \('oops'\) is right of the header's last column"):
        formats.read("csv", book)


def test_workbooks_that_cannot_be_read_are_one_clear_error(tmp_path):
    book = tmp_path / "labels.xlsx"
    book.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200))  # what Excel writes when saving with a password
    with pytest.raises(DataFormatError, match=r"labels.xlsx: a password-protected \(encrypted\) workbook or an old "
                                              r".xls, not an .xlsx: .*save a copy without the password"):
        formats.read("csv", book, label_column="emotion")
    book.write_text("image,emotion\na.png,happy\n")  # a CSV renamed to .xlsx
    with pytest.raises(DataFormatError, match=r"labels.xlsx: not an .xlsx workbook \(not a zip archive\)"):
        formats.read("csv", book, label_column="emotion")
    write_xlsx(book, [("Sheet1", {}, None), ("Sheet2", {2: [None]}, None)])
    with pytest.raises(DataFormatError, match=r"labels.xlsx: image table is empty: no worksheet \(Sheet1, Sheet2\) "
                                              r"has a row"):
        formats.read("csv", book, label_column="emotion")
    write_xlsx(book, [("Sheet1", {1: ["image", "emotion"]}, None)])
    with pytest.raises(DataFormatError, match=r"labels.xlsx \[sheet Sheet1\]:1: no data rows below the header"):
        formats.read("csv", book, label_column="emotion")
    with pytest.raises(DataFormatError, match=r"missing.xlsx: image table not found"):
        formats.read("csv", tmp_path / "missing.xlsx", label_column="emotion")


def test_facessl_eval_on_a_workbook_and_its_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(facessl, "load", lambda path, device="cpu": ToyEncoder())
    (tmp_path / "run").mkdir()
    book, _, _ = own_labels(tmp_path / "faces", n=48)
    args = ["eval", "--checkpoint", str(tmp_path / "run"), "--dataset", f"csv:{book}", *CLI_FAST]
    assert main([*args, "--label-column", "emotion", "--group-column", "person", "--out", str(tmp_path / "out")]) == 0
    task = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"][0]
    assert task["task"] == "classification" and task["info"]["class_names"] == ["angry", "happy", "sad"]
    assert task["info"]["train_rows"] + task["info"]["val_rows"] + task["info"]["test_rows"] == 48
    capsys.readouterr()
    assert main([*args, "--label-column", "mood", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "labels.xlsx [sheet Labels]:2: sheet: no column 'mood'; the header has 'image'" in err[0]
