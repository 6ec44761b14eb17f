"""The libFuzzer targets of the framing parsers (csrc/fuzz/): every parser has one, each builds with
ASan+UBSan, runs briefly without a finding, and replays the inputs that once crashed it."""

import pathlib
import re
import subprocess

import pytest
from conftest import ROOT, require_command

CSRC = ROOT / "csrc"
FUZZ = CSRC / "fuzz"
MODULES = ("spp", "tm", "tc", "aos", "prox1")
# Functions that read untrusted input.
PARSER = re.compile(r"\b(lr_\w*(?:parse|unpack|index|demux\w*|correct))\s*\(")


def cdef_functions(module: str) -> list[str]:
    text = (CSRC / f"lr_{module}.h").read_text()
    block = text.split("/* LR_CDEF_BEGIN */")[1].split("/* LR_CDEF_END */")[0]
    return PARSER.findall(block)


@pytest.mark.parametrize("module", MODULES)
def test_every_parser_has_a_fuzz_target(module):
    parsers = cdef_functions(module)
    assert parsers, f"no parser found in lr_{module}.h"
    target = FUZZ / f"fuzz_{module}.c"
    assert target.exists()
    text = target.read_text()
    assert "LLVMFuzzerTestOneInput" in text
    missing = [p for p in parsers if p not in text]
    assert not missing, f"{target.name} does not exercise {missing}"


@pytest.fixture(scope="module")
def fuzz_binaries(tmp_path_factory) -> dict[str, pathlib.Path]:
    clang = require_command("clang-14", "clang-14")
    out = tmp_path_factory.mktemp("fuzz")
    sources = sorted(str(p) for p in CSRC.glob("lr_*.c"))
    built = {}
    for module in MODULES:
        exe = out / f"fuzz_{module}"
        subprocess.run([clang, "-std=gnu11", "-O1", "-g", "-fsanitize=fuzzer,address,undefined",
                        "-fno-sanitize-recover=all", f"-I{CSRC}", "-o", str(exe),
                        str(FUZZ / f"fuzz_{module}.c"), *sources, "-lm"], check=True, capture_output=True)
        built[module] = exe
    return built


@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_fuzz_target_runs_clean_for_a_few_thousand_inputs(fuzz_binaries, module, tmp_path):
    run = subprocess.run([str(fuzz_binaries[module]), "-runs=3000", "-seed=1", "-max_len=4096",
                          f"-artifact_prefix={tmp_path}/", str(tmp_path)], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done 3000 runs" in run.stderr


@pytest.mark.interop
@pytest.mark.parametrize("case", sorted((FUZZ / "regressions").glob("*.bin")), ids=lambda p: p.stem)
def test_inputs_that_once_crashed_a_target_now_pass(fuzz_binaries, case):
    module = case.stem.split("-")[0].removeprefix("fuzz_")
    run = subprocess.run([str(fuzz_binaries[module]), str(case)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
