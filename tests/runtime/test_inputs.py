import pytest

from senticlf.errors import SenticlfError
from senticlf.runtime.inputs import InputText, count_and_check, read_inputs


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
    assert count_and_check(path) == 4


def test_crlf_and_bom_are_handled(tmp_path):
    path = write(tmp_path, "r.txt", "\ufeffgood\r\nbad".encode())
    assert [i.text for i in read_inputs(str(path))] == ["good", "bad"]
    assert count_and_check(path) == 2


def test_csv_and_jsonl_take_the_text_column(tmp_path):
    csv_path = write(tmp_path, "r.csv", b'id,review\n1,"good, really"\n2,\n')
    assert list(read_inputs(str(csv_path))) == [InputText(2, "good, really"), InputText(3, None)]
    jsonl = write(tmp_path, "r.jsonl", b'{"body": "fine"}\n')
    assert [i.text for i in read_inputs(str(jsonl), "body")] == ["fine"]


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("r.txt", b"", "is empty"),
        ("r.txt", b"\n  \n", "is empty"),
        ("r.txt", b"caf\xe9 au lait\n", "is not UTF-8 (byte 3); convert it"),
        ("r.bin", b"\x89PNG\x00\x00\x01", "is a binary file"),
    ],
)
def test_unreadable_files_are_refused_up_front(tmp_path, name, content, fragment):
    with pytest.raises(SenticlfError, match=None) as info:
        count_and_check(write(tmp_path, name, content))
    assert fragment in str(info.value)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(SenticlfError, match="does not exist"):
        count_and_check(tmp_path / "nope.txt")
    with pytest.raises(SenticlfError, match="is a folder"):
        count_and_check(tmp_path)


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
