"""Atomic writes: a failed write leaves the previous file intact, no temporary files, and one clear error."""
import errno
import os

import pytest

from hostile import NOT_REGULAR_FILES
from mnist_pipeline import files
from mnist_pipeline.files import InputError, OutputError, atomic_path, open_input, writable_directory, write_json


def test_write_replaces_file_atomically(tmp_path):
    path = tmp_path / "out" / "m.json"
    write_json(path, {"a": 1})
    write_json(path, {"a": 2})
    assert path.read_text() == '{\n  "a": 2\n}\n'
    assert os.listdir(path.parent) == ["m.json"]


@pytest.mark.parametrize("code, text", [(errno.ENOSPC, "No space left on device"),
                                        (errno.EACCES, "Permission denied")])
def test_failed_write_keeps_previous_file(tmp_path, monkeypatch, code, text):
    path = tmp_path / "m.json"
    path.write_text("previous")

    def failing_replace(src, dst):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OutputError, match=rf"^{path}: cannot write output \({text}\)$"):
        write_json(path, {"a": 1})
    assert path.read_text() == "previous"
    assert os.listdir(tmp_path) == ["m.json"]


def test_exception_inside_block_discards_temporary_file(tmp_path):
    path = tmp_path / "model.keras"
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert os.listdir(tmp_path) == []


def test_stale_temporary_file_from_killed_process_is_removed(tmp_path):
    stale = tmp_path / ".model.keras.abc123.tmp.keras"
    stale.write_bytes(b"half-written by a process that was killed")
    with atomic_path(tmp_path / "model.keras") as tmp:
        tmp.write_bytes(b"complete")
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]


def test_output_directory_that_is_a_file(tmp_path):
    (tmp_path / "metrics").write_text("not a directory")
    with pytest.raises(OutputError, match=r"metrics/m.json: cannot write output"):
        write_json(tmp_path / "metrics" / "m.json", {})


@pytest.mark.parametrize("make, message", [(lambda p: None, "not found; make it first"), *NOT_REGULAR_FILES])
def test_open_input_refuses_anything_but_a_non_empty_regular_file(tmp_path, make, message):
    path = tmp_path / "in.bin"
    make(path)
    with pytest.raises(InputError, match=rf"^{path}: {message}$"):
        with open_input(path, "make it first"):
            pass


def test_open_input_reports_an_unreadable_file(tmp_path):
    path = tmp_path / "in.bin"
    path.write_bytes(b"secret")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as a user who can read anything (root): permissions are not enforced")
    with pytest.raises(InputError, match=rf"^{path}: cannot read \(Permission denied\)$"):
        with open_input(path):
            pass


def test_open_input_reads_a_regular_file(tmp_path):
    (tmp_path / "in.bin").write_bytes(b"data")
    with open_input(tmp_path / "in.bin") as file:
        assert file.read() == b"data"


@pytest.mark.parametrize("blocker, message", [
    ("out", "out: is not a directory; cannot write outputs into it"),
    ("parent", r"parent/out: cannot write output \(Not a directory\)"),
])
def test_writable_directory_fails_at_once_where_a_file_is_in_the_way(tmp_path, blocker, message):
    (tmp_path / "parent").mkdir()
    (tmp_path / "out").write_text("a file")
    directory = tmp_path / "out" if blocker == "out" else tmp_path / "out" / "parent" / "out"
    with pytest.raises(OutputError, match=message):
        writable_directory(directory)
    assert writable_directory(tmp_path / "parent" / "new") == tmp_path / "parent" / "new"
    assert os.listdir(tmp_path / "parent") == ["new"] and os.listdir(tmp_path / "parent" / "new") == []
