"""EmotioNet read as distributed: annotation lists (the manual EmotioNet_FACS_aws_2020_24600.csv / .xlsx, the
automatic dataFile_1001.txt ...) beside images the user downloaded, named as the common download scripts name them;
and the AU task run on it (3 folds by image, the set's own AU names).

Every fixture is written here from the documented layout (tiny JPEGs, a minimal .xlsx), never from the real data.
"""
import zipfile

import numpy as np
import pytest

from image_toys import write
from eval_toys import ToyEncoder
from facessl.data import formats
from facessl.data.formats.emotionet import AUS_2017, CHALLENGE_AUS
from facessl.data.formats.imagefiles import save_image
from facessl.errors import DataFormatError, FacesslError
from facessl.evaluate import au, runner, tables
from facessl.evaluate.protocol import EvalOptions
from facessl.evaluate.suite import TaskSpec

S3 = "https://s3.us-east-2.amazonaws.com/emotionet/Images"
COLUMNS_2020 = (1, 2, 4, 5, 6, 9, 10, 12, 15, 17, 18, 20, 24, 25, 26, 28, 43, 51, 52, 53, 54, 55, 56)
MANUAL = "EmotioNet_FACS_aws_2020_24600"
FAST = EvalOptions(seeds=1, epochs=3, weight_decays=(0.0,), supervised_epochs=1, device="cpu", quiet=True)


def code(i, a):
    return (i + a) % 2  # both classes for every AU


def stem(folder, i):
    return f"N_{folder:010d}_{i:05d}"


def url(folder, i):
    return f"{S3}/N_{folder:010d}/{stem(folder, i)}.jpg"


def image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(path, np.full((8, 8, 3), 120, np.uint8))


def manual_table(n=10, folder=1, odd=None, columns=COLUMNS_2020, duplicate=True):
    """The manual list as the 2020 release lays it out: quoted AU names, quoted URLs; odd = {(i, au): cell}."""
    odd = odd or {}
    rows = [["URL", "URL orig"] + [f"'AU {a}'" for a in columns]]
    for i in range(1, n + 1):
        rows.append([f"'{url(folder, i)}'", f"http://example.org/photo{i}.jpg"]
                    + [str(odd.get((i, a), code(i, a))) for a in columns])
    if duplicate:
        rows.append(list(rows[1]))  # the first URL listed again
    return rows


def csv_text(rows):
    return "\n".join(",".join(r) for r in rows) + "\n"


def xlsx(path, sheets, replace=None):
    """A minimal .xlsx as Excel saves one: shared strings (one as rich-text runs with a phonetic run), numbers as
    <v>, empty cells left out; sheets = [(name, rows)]; replace = {part: text} swaps a part."""
    shared, index = [], {}

    def sid(text):
        if text not in index:
            index[text] = len(shared)
            shared.append(text)
        return index[text]

    parts = {}
    for n, (_, rows) in enumerate(sheets, start=1):
        xml_rows = []
        for r, cells in enumerate(rows, start=1):
            xml_cells = []
            for c, cell in enumerate(cells):
                ref = f"{chr(65 + c) if c < 26 else 'A' + chr(65 + c - 26)}{r}"
                if cell == "":
                    continue
                if cell.lstrip("-").replace(".", "").isdigit():
                    xml_cells.append(f'<c r="{ref}"><v>{cell}</v></c>')
                else:
                    xml_cells.append(f'<c r="{ref}" t="s"><v>{sid(cell)}</v></c>')
            xml_rows.append(f'<row r="{r}">{"".join(xml_cells)}</row>')
        parts[f"xl/worksheets/sheet{n}.xml"] = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxml'
            'formats.org/spreadsheetml/2006/main"><sheetData>' + "".join(xml_rows) + "</sheetData></worksheet>")
    items = []
    for text in shared:
        if text == "'AU 1'":  # rich text: two runs, and a phonetic run that is not part of the text
            items.append("<si><r><t>'AU</t></r><r><t xml:space=\"preserve\"> 1'</t></r><rPh><t>x</t></rPh></si>")
        else:
            items.append(f"<si><t>{text.replace('&', '&amp;')}</t></si>")
    parts["xl/sharedStrings.xml"] = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                                     + "".join(items) + "</sst>")
    parts["xl/workbook.xml"] = (
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        + "".join(f'<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>' for n, (name, _) in enumerate(sheets, 1))
        + "</sheets></workbook>")
    parts["xl/_rels/workbook.xml.rels"] = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                  f'relationships/worksheet" Target="worksheets/sheet{n}.xml"/>' for n in range(1, len(sheets) + 1))
        + "</Relationships>")
    parts["[Content_Types].xml"] = '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
    parts.update(replace or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as book:
        for name, text in parts.items():
            book.writestr(name, text)


def manual_set(root, images="images", flat=False, skip=(5,), **kw):
    """The manual list (row 3: AU 43 not coded; row 5 never downloaded; row 11 repeats row 1) + its images."""
    rows = manual_table(odd={(3, 43): "999"}, **kw)
    for i in range(1, 11):
        if i not in skip:
            image(root / images / (f"{stem(1, i)}.jpg" if flat else f"N_{1:010d}/{stem(1, i)}.jpg"))
    return rows


KEPT = [1, 2, 4, 6, 7, 8, 9, 10]


def test_manual_csv_with_the_s3_tree_mirrored(tmp_path):
    write(tmp_path / f"{MANUAL}.csv", csv_text(manual_set(tmp_path)))
    got = formats.read("emotionet", tmp_path)
    assert got.labels["aus"].shape == (8, 12) and got.labels["aus"].dtype == np.float32
    np.testing.assert_array_equal(got.labels["aus"], [[code(i, a) for a in CHALLENGE_AUS] for i in KEPT])
    assert got.dropped == {"not_coded": 1, "missing_image": 1, "duplicate_url": 1, "shared_image": 0,
                           "ambiguous_image": 0, "no_url": 0}
    assert got.meta["au_names"] == [f"AU{a}" for a in CHALLENGE_AUS] and got.meta["au_labels"] == "occurrence"
    assert got.meta["not_coded_per_au"] == {"AU43": 1} and got.meta["annotations"] == "manual"
    assert got.images[0] == str(tmp_path / "images/N_0000000001/N_0000000001_00001.jpg")
    assert got.labels["group"].tolist()[:2] == [f"images/N_0000000001/{stem(1, i)}.jpg" for i in (1, 2)]
    assert set(got.labels["annotation"]) == {"manual"}
    assert sorted(got.split.tolist()) == ["test"] * 2 + ["train"] * 6  # seeded, 20 % of 8
    assert formats.read("emotionet", tmp_path).split.tolist() == got.split.tolist()
    assert "seeded (0)" in got.meta["split_from"]
    chosen = formats.read("emotionet", tmp_path, aus="1, AU12,56")
    assert chosen.meta["au_names"] == ["AU1", "AU12", "AU56"] and len(chosen) == 9  # row 3's 999 was AU 43's
    np.testing.assert_array_equal(chosen.labels["aus"][2], [code(3, 1), code(3, 12), code(3, 56)])


def test_xlsx_flat_downloads_and_crlf_bom_csv_read_the_same(tmp_path):
    write(tmp_path / "csv" / f"{MANUAL}.csv", csv_text(manual_set(tmp_path / "csv")))
    reference = formats.read("emotionet", tmp_path / "csv")
    book = tmp_path / "xlsx"
    xlsx(book / f"{MANUAL}.xlsx", [("Sheet1", manual_set(book, images="imgs", flat=True)), ("Sheet2", [])])
    got = formats.read("emotionet", book)
    np.testing.assert_array_equal(got.labels["aus"], reference.labels["aus"])
    assert got.images[0] == str(book / "imgs/N_0000000001_00001.jpg") and got.dropped == reference.dropped
    crlf = tmp_path / "crlf"
    write(crlf / "labels" / f"{MANUAL}.csv", csv_text(manual_set(crlf)), crlf=True, bom=True)
    np.testing.assert_array_equal(formats.read("emotionet", crlf).labels["aus"], reference.labels["aus"])
    # the same list kept both as .xlsx and .csv: read once (the .csv)
    xlsx(tmp_path / "csv" / f"{MANUAL}.xlsx", [("Sheet1", manual_table(odd={(2, 1): "x"}))])
    assert formats.read("emotionet", tmp_path / "csv").meta["lists"] == [str(tmp_path / "csv" / f"{MANUAL}.csv")]


def test_xlsx_sparse_cells_and_several_sheets(tmp_path):
    rows = manual_table(n=4, duplicate=False, columns=(1, 2, 43))
    rows[2][3] = ""  # an empty (left out) cell: not coded
    rows[4] = rows[4][:3]  # trailing empty cells left out
    more = [["URL", "URL orig", "AU1", "AU2", "AU43"], [url(2, 1), "", "1", "0", "1"]]
    xlsx(tmp_path / "emotionet_facs_24600.xlsx", [("a", rows), ("b", more)])
    for i in (1, 2, 3, 4):
        image(tmp_path / "img" / f"{stem(1, i)}.jpg")
    image(tmp_path / "img" / f"{stem(2, 1)}.jpg")
    got = formats.read("emotionet", tmp_path, aus=[1, 2])
    assert got.labels["aus"].tolist() == [[code(1, 1), code(1, 2)], [code(3, 1), code(3, 2)], [1, 0]]
    assert got.dropped["not_coded"] == 2 and got.meta["not_coded_per_au"] == {"AU2": 2}


def auto_list(path, folder, numbers, odd=None, crlf=False):
    """dataFile_1001.txt as released: no header, URL <tab> URL orig <tab> 60 codes (AU 1 ... AU 60 by position);
    AUs outside FACS's set 999."""
    odd = odd or {}
    lines = []
    for i in numbers:
        codes = [str(odd.get((i, a), code(i, a) if a in COLUMNS_2020 else 999)) for a in range(1, 61)]
        lines.append("\t".join([url(folder, i), f"http://example.org/{i}.jpg"] + codes))
    write(path, "\n".join(lines) + "\n", crlf=crlf)


def test_automatic_lists_and_annotations_all(tmp_path):
    files = tmp_path / "emotioNet_challenge_files_server_challenge_1.2_aws"
    auto_list(files / "dataFile_1001.txt", 201, range(1, 6), odd={(2, 17): 999})
    auto_list(files / "dataFile_1002.txt", 202, range(1, 4), crlf=True)
    write(files / "dataFile_1001_https.txt", f"{url(201, 1)}\n")  # a helper's URL-only copy: not a list
    for i in range(1, 6):
        image(tmp_path / "whole" / f"N_{201:010d}" / f"{stem(201, i)}.jpg")
    for i in range(1, 4):
        image(tmp_path / "whole" / f"N_{202:010d}" / f"{stem(202, i)}.jpg")
    got = formats.read("emotionet", tmp_path)  # no manual list: the automatic ones
    assert got.meta["annotations"] == "auto" and len(got) == 7 and got.dropped["not_coded"] == 1
    np.testing.assert_array_equal(got.labels["aus"][:2], [[code(i, a) for a in CHALLENGE_AUS] for i in (1, 3)])
    assert got.images[-1].endswith(f"whole/N_0000000202/{stem(202, 3)}.jpg")
    thinned = formats.read("emotionet", tmp_path, every=2)
    assert [p.rsplit("/", 1)[1][:-4] for p in thinned.images] == [stem(201, i) for i in (1, 4)] + [
        stem(202, i) for i in (1, 3)]
    # with the manual list beside them: manual by default; 'all' = auto for training, manual for testing
    rows = manual_table(n=3, folder=201, duplicate=False)  # the same photos as dataFile_1001's first rows
    rows.append([f"'{url(9, 1)}'", ""] + ["0"] * len(COLUMNS_2020))
    image(tmp_path / "whole" / f"N_{9:010d}" / f"{stem(9, 1)}.jpg")
    write(tmp_path / f"{MANUAL}.csv", csv_text(rows))
    assert len(formats.read("emotionet", tmp_path)) == 4
    both = formats.read("emotionet", tmp_path, annotations="all")
    assert both.labels["annotation"].tolist() == ["manual"] * 4 + ["auto"] * 5
    assert both.split.tolist() == ["test"] * 4 + ["train"] * 5 and both.dropped["duplicate_url"] == 2
    assert "automatically annotated rows = train" in both.meta["split_from"]
    task = au.build(both, None, EvalOptions())  # one fold: fitted on the automatic rows, tested on the manual ones
    assert len(task.folds) == 1 and task.info["folds"] == 1
    np.testing.assert_array_equal(task.folds[0].test.index, np.arange(4))
    np.testing.assert_array_equal(task.folds[0].train.index, np.arange(4, 9))


def test_web_urls_of_2017_named_by_their_file_names(tmp_path):
    urls = ["http://1.bp.blogspot.com/-b2O/Tiha/AAAA/4-8B/s1600/Ronan+Keating+%25281%2529.jpg",  # saved %-decoded
            "http://24.media.tumblr.com/tumblr_laeu97bzaS1qzovkjo1_400.gif",
            "http://2.bp.blogspot.com/_qw/TRSl/s1600/Peter.JPG",  # saved with the extension lower-cased
            "http://example.com/pics/download?id=7",  # no extension: saved as download.jpg
            "http://a.example.com/1.jpg", "http://b.example.com/x/1.jpg",  # both saved as 1.jpg: which is it?
            "http://c.example.com/face.png"]  # face.png in two unrelated folders
    rows = [["URL", "AU 1", "AU 2", "AU 4", "AU 5", "AU 6", "AU 9", "AU 12", "AU 17", "AU 20", "AU 25", "AU 26"]]
    rows += [[f'"{u}"'] + [str(code(i, a)) for a in AUS_2017] for i, u in enumerate(urls)]
    write(tmp_path / "EmotioNet_FACS.csv", "\n".join(",".join(r) for r in rows) + "\n")
    for name in ("Ronan+Keating+(1).jpg", "tumblr_laeu97bzaS1qzovkjo1_400.gif", "Peter.jpg", "download.jpg",
                 "1.jpg", "a/face.png", "b/face.png"):
        image(tmp_path / "IMAGES" / name)
    got = formats.read("emotionet", tmp_path)
    assert got.meta["au_names"] == [f"AU{a}" for a in AUS_2017]  # no AU 43: the 2017 challenge's 11
    assert [p.rsplit("/", 1)[1] for p in got.images] == ["Ronan+Keating+(1).jpg", "tumblr_laeu97bzaS1qzovkjo1_400.gif",
                                                         "Peter.jpg", "download.jpg"]
    assert got.dropped["shared_image"] == 2 and got.dropped["ambiguous_image"] == 1
    np.testing.assert_array_equal(got.labels["aus"][3], [code(3, a) for a in AUS_2017])


def test_downloads_named_by_row(tmp_path):
    rows = manual_table(n=4, duplicate=False)
    xlsx(tmp_path / f"{MANUAL}.xlsx", [("Sheet1", rows)])
    for i in (0, 1, 3):  # row 2 (0-based) not downloaded
        image(tmp_path / "EmotioNetData" / f"{i:05d}.jpg")
    got = formats.read("emotionet", tmp_path)
    assert [p.rsplit("/", 1)[1] for p in got.images] == ["00000.jpg", "00001.jpg", "00003.jpg"]
    np.testing.assert_array_equal(got.labels["aus"][2], [code(4, a) for a in CHALLENGE_AUS])
    assert got.dropped["missing_image"] == 1
    one = tmp_path / "one"
    xlsx(one / f"{MANUAL}.xlsx", [("Sheet1", rows)])
    for i in (1, 2):  # numbered from 1
        image(one / "img" / f"{i}.jpg")
    got = formats.read("emotionet", one)
    np.testing.assert_array_equal(got.labels["aus"], [[code(i, a) for a in CHALLENGE_AUS] for i in (1, 2)])


def test_root_as_a_list_file_and_the_labels_and_images_options(tmp_path):
    write(tmp_path / "lists" / f"{MANUAL}.csv", csv_text(manual_set(tmp_path / "lists", images="dl", flat=True)))
    got = formats.read("emotionet", tmp_path / "lists" / f"{MANUAL}.csv")
    assert len(got) == 8 and got.source == str(tmp_path / "lists" / f"{MANUAL}.csv")
    write(tmp_path / "my_aus.csv", csv_text(manual_table()))
    named = formats.read("emotionet", tmp_path, labels="my_aus.csv", images="lists/dl")
    assert len(named) == 9 and named.labels["group"][0] == f"{stem(1, 1)}.jpg"
    with pytest.raises(DataFormatError, match="image folder not found"):
        formats.read("emotionet", tmp_path, labels="my_aus.csv", images="nowhere")
    with pytest.raises(FacesslError, match="annotations=auto does not apply"):
        formats.read("emotionet", tmp_path, labels="my_aus.csv", annotations="auto")


def test_missing_images_and_option_errors(tmp_path):
    write(tmp_path / f"{MANUAL}.csv", csv_text(manual_set(tmp_path)))
    with pytest.raises(DataFormatError, match=rf"{MANUAL}.csv:6: image of .*{stem(1, 5)}.jpg not found .*looked for "
                                              rf"{stem(1, 5)}.jpg"):
        formats.read("emotionet", tmp_path, skip_missing=False)
    with pytest.raises(FacesslError, match="emotionet annotations 'some'"):
        formats.read("emotionet", tmp_path, annotations="some")
    with pytest.raises(FacesslError, match="every must be a whole number"):
        formats.read("emotionet", tmp_path, every=0)
    with pytest.raises(FacesslError, match="aus must be distinct"):
        formats.read("emotionet", tmp_path, aus="1,1")
    with pytest.raises(FacesslError, match="aus must be AU numbers"):
        formats.read("emotionet", tmp_path, aus="brow")
    assert formats.read("emotionet", tmp_path, aus=12).meta["au_names"] == ["AU12"]  # one number, as YAML gives it
    with pytest.raises(FacesslError, match=r"test_fraction must be a number in \(0, 1\), got 'half'"):
        formats.read("emotionet", tmp_path, test_fraction="half")
    assert (formats.read("emotionet", tmp_path, test_fraction=0.5).split == "test").sum() == 4
    with pytest.raises(DataFormatError, match=rf"{MANUAL}.csv:1: no column for AU 7; the list codes AUs 1, 2, 4"):
        formats.read("emotionet", tmp_path, aus=[1, 7])
    nothing = tmp_path / "nothing"
    write(nothing / f"{MANUAL}.csv", csv_text(manual_table()))
    image(nothing / "photos" / "unrelated.jpg")
    with pytest.raises(DataFormatError, match=r"nothing: none of the 10 images the EmotioNet list names was found "
                                              r"here \(1 image files"):
        formats.read("emotionet", nothing)


def test_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match="EmotioNet folder or list not found"):
        formats.read("emotionet", tmp_path / "nowhere")
    with pytest.raises(DataFormatError, match="no manually annotated EmotioNet list found"):
        formats.read("emotionet", tmp_path)
    auto_list(tmp_path / "dataFile_1001.txt", 1, [1])
    with pytest.raises(DataFormatError, match="no manually annotated EmotioNet list found"):
        formats.read("emotionet", tmp_path, annotations="manual")
    cases = [
        (manual_table(odd={(4, 12): "x"}),
         rf"{MANUAL}.csv:5: expected an AU12 code 0, 1 or 999 \(not coded\), got 'x'"),
        (manual_table(odd={(2, 1): "2"}), rf"{MANUAL}.csv:3: expected an AU1 code 0, 1 or 999"),
        ([["image", "AU1"], ["a.jpg", "1"]], rf"{MANUAL}.csv:1: expected a header with a URL column"),
        (manual_table(columns=(2, 4)), rf"{MANUAL}.csv:1: no column for AU 1, 5, 6, 9, 12, 17, 20, 25, 26; the list "
                                       rf"codes AUs 2, 4"),
        ([["URL", "AU1", "AU1"]], rf"{MANUAL}.csv:1: two columns for AU 1"),
    ]
    for rows, message in cases:
        write(tmp_path / f"{MANUAL}.csv", csv_text(rows))
        with pytest.raises(DataFormatError, match=message) as err:
            formats.read("emotionet", tmp_path)
        assert "\n" not in str(err.value)
    write(tmp_path / f"{MANUAL}.csv", csv_text(manual_table()))
    write(tmp_path / "labels" / "EmotioNet_FACS.csv", csv_text(manual_table()))
    with pytest.raises(DataFormatError, match=r"several manually annotated EmotioNet lists \(EmotioNet_FACS_aws_2020_"
                                              r"24600.csv, labels/EmotioNet_FACS.csv\); choose one"):
        formats.read("emotionet", tmp_path)
    short = tmp_path / "short"
    auto_list(short / "dataFile_1001.txt", 1, [1, 2])
    with open(short / "dataFile_1001.txt", "a") as handle:
        handle.write(f"{url(1, 3)}\thttp://x/3.jpg\t1\t0\n")
    with pytest.raises(DataFormatError, match=r"dataFile_1001.txt:3: expected at least 45 fields \(URL, AU codes\), "
                                              r"got 4"):
        formats.read("emotionet", short)
    latin = tmp_path / "latin"
    write(latin / f"{MANUAL}.csv", "URL,AU 1\n")
    (latin / f"{MANUAL}.csv").write_bytes(b"URL,'AU 1'\n'http://x/caf\xe9.jpg',1\n")
    with pytest.raises(DataFormatError, match="is not UTF-8 text"):
        formats.read("emotionet", latin)


def test_workbooks_that_are_not_readable(tmp_path):
    book = tmp_path / f"{MANUAL}.xlsx"
    book.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))  # what an encrypted workbook is
    with pytest.raises(DataFormatError, match="password-protected .* save a copy without the password"):
        formats.read("emotionet", tmp_path)
    book.write_text("URL,AU1\n")
    with pytest.raises(DataFormatError, match=r"xlsx: not an .xlsx workbook \(not a zip archive\)"):
        formats.read("emotionet", tmp_path)
    dtd = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><sst>&a;</sst>'
    xlsx(book, [("Sheet1", manual_table())], replace={"xl/sharedStrings.xml": dtd})
    with pytest.raises(DataFormatError, match="declares a DTD"):
        formats.read("emotionet", tmp_path)
    xlsx(book, [("Sheet1", manual_table())], replace={"xl/worksheets/sheet1.xml": "<worksheet><sheetData><row>"})
    with pytest.raises(DataFormatError, match=r"xlsx: workbook part xl/worksheets/sheet1.xml is not well-formed XML"):
        formats.read("emotionet", tmp_path)
    xlsx(book, [("Sheet1", [])])
    with pytest.raises(DataFormatError, match="the EmotioNet list has no rows"):
        formats.read("emotionet", tmp_path)


def test_au_task_folds_by_image_with_the_sets_au_names(tmp_path):
    rows = manual_table(n=15, duplicate=False, columns=(1, 2, 12, 43))
    write(tmp_path / f"{MANUAL}.csv", csv_text(rows))
    for i in range(1, 16):
        image(tmp_path / "images" / f"{stem(1, i)}.jpg")
    data = formats.read("emotionet", tmp_path, aus=[1, 2, 12])
    task = au.build(data, None, EvalOptions(au_positive=3))  # an intensity threshold of 3 would make all labels 0
    assert task.info["positive"] == "occurrence >= 0.5" and task.info["aus"] == ["AU1", "AU2", "AU12"]
    assert task.info["subjects"] == 15 and len(task.folds) == 3
    tested = np.sort(np.concatenate([fold.test.index for fold in task.folds]))
    np.testing.assert_array_equal(tested, np.arange(15))  # every image tested once
    spec = TaskSpec("", f"emotionet:{tmp_path}", options={"aus": [1, 2, 12]})
    assert spec.task == "au"
    results = runner.evaluate(ToyEncoder(), [spec], FAST, baselines=())
    result = results["tasks"][0]
    assert set(result["rows"]["checkpoint"]["fs"]["metrics"]) >= {"f1_AU1", "auc_AU12", "auc_mean"}
    assert "| model | feature | AU1 | AU2 | AU12 | mean |" in tables.render(results)
