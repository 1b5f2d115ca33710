import gzip

import pytest

from senticlf.errors import SenticlfError
from senticlf.runtime.inputs import InputText, read_inputs
from senticlf.tables import check


def write(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_blank_lines_keep_their_numbers(tmp_path):
    path = write(tmp_path, "r.txt", b"good\n\n  \nbad\n")
    assert list(read_inputs(str(path))) == [
        InputText(1, "good"),
        InputText(2, None),
        InputText(3, None),
        InputText(4, "bad"),
    ]
    assert check(path) == 4


def test_crlf_and_bom_are_handled(tmp_path):
    path = write(tmp_path, "r.txt", "\ufeffgood\r\nbad".encode())
    assert [i.text for i in read_inputs(str(path))] == ["good", "bad"]
    assert check(path) == 2


def test_csv_and_jsonl_take_the_text_column(tmp_path):
    csv_path = write(tmp_path, "r.csv", b'id,review\n1,"good, really"\n2,\n')
    assert list(read_inputs(str(csv_path))) == [InputText(2, "good, really"), InputText(3, None)]
    jsonl = write(tmp_path, "r.jsonl", b'{"body": "fine"}\n')
    assert [i.text for i in read_inputs(str(jsonl), "body")] == ["fine"]


def test_csv_without_text_column(tmp_path):
    path = write(tmp_path, "r.csv", b"id,stars\n1,5\n")
    with pytest.raises(SenticlfError, match="no text column"):
        list(read_inputs(str(path)))


def test_prediction_inputs_know_the_same_text_columns_as_training(tmp_path):
    from senticlf import artifacts

    assert "content" in artifacts.TEXT_COLUMNS
    csv_file = tmp_path / "r.csv"
    csv_file.write_text("id,content\n1,great film\n")
    jsonl_file = tmp_path / "r.jsonl"
    jsonl_file.write_text('{"content": "awful film"}\n5\n')
    assert [i.text for i in read_inputs(str(csv_file))] == ["great film"]
    rows = read_inputs(str(jsonl_file))
    assert next(rows).text == "awful film"
    with pytest.raises(SenticlfError, match="line 2 is not a JSON object"):
        next(rows)


def test_json_is_read_as_records_not_lines(tmp_path):
    array = write(tmp_path, "r.json", b'[{"text": "good"},\n {"text": "bad"}]')
    assert [i.text for i in read_inputs(str(array))] == ["good", "bad"]
    gzipped = write(tmp_path, "r.txt.gz", gzip.compress(b"good\n\nbad\n"))
    assert list(read_inputs(str(gzipped))) == [
        InputText(1, "good"),
        InputText(2, None),
        InputText(3, "bad"),
    ]
