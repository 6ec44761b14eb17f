"""The libFuzzer targets of the C core (csrc/fuzz/): every framing parser, decoder, state machine and
generator has one, each has a committed seed corpus that ``csrc/fuzz/make_corpus.py`` remakes, each
builds with ASan+UBSan, runs briefly from its seeds without a finding, and replays the inputs that once
crashed it."""

import pathlib
import re
import subprocess
import sys

import pytest
from conftest import ROOT, require_command

CSRC = ROOT / "csrc"
FUZZ = CSRC / "fuzz"
MODULES = ("spp", "tm", "tc", "aos", "prox1")
# Functions that read untrusted input.
PARSER = re.compile(r"\b(lr_\w*(?:parse|unpack|index|demux\w*|correct))\s*\(")
# Decoders, state machines and generators: the entry points each target must drive.
ENTRY_POINTS = {
    "sync": ("lr_sync_init", "lr_sync_process", "lr_sync_find", "lr_sync_pack_soft"),
    "cltu": ("lr_cltu_decoder_init", "lr_cltu_decode", "lr_bch_decode_block", "lr_cltu_encode"),
    "farm": ("lr_farm_init", "lr_farm_frame", "lr_farm_judge", "lr_farm_buffer", "lr_farm_clcw"),
    "rs": ("lr_rs_init", "lr_rs_decode", "lr_rs_encode"),
    "conv": ("lr_viterbi27_init", "lr_viterbi27_update", "lr_viterbi27_finish", "lr_viterbi27_decode_block",
             "lr_conv_depuncture", "lr_conv_puncture"),
    "rand": ("lr_rand_apply", "lr_rand_frames"),
    "siggen": ("lr_siggen_init", "lr_siggen_generate"),
    "codes": ("lr_code_generate", "lr_afs_i_gold", "lr_afs_q_primary_weil", "lr_afs_q_tertiary_weil"),
    "mod": ("lr_mod_init", "lr_mod_process", "lr_mod_flush", "lr_mod_carrier", "lr_mod_reference"),
    "demod": ("lr_demod_init", "lr_demod_process", "lr_demod_max_soft"),
    "ldpc": ("lr_ldpc_work_size", "lr_ldpc_decode", "lr_ldpc_syndrome_weight"),
    "track": ("lr_track_init", "lr_track_max_dumps", "lr_track_process"),
    "serial": ("lr_serial_deframer_init", "lr_serial_deframe", "lr_serial_frame"),
}
TARGETS = MODULES + tuple(ENTRY_POINTS)
CORPUS = FUZZ / "corpus"
MAX_LEN = 8192                # csrc/fuzz/run.sh -max_len


def cdef_block(module: str) -> str:
    text = (CSRC / f"lr_{module}.h").read_text()
    return text.split("/* LR_CDEF_BEGIN */")[1].split("/* LR_CDEF_END */")[0]


def cdef_functions(module: str) -> list[str]:
    return PARSER.findall(cdef_block(module))


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


@pytest.mark.parametrize("module", sorted(ENTRY_POINTS))
def test_every_decoder_and_generator_has_a_fuzz_target(module):
    declared = cdef_block(module)
    target = FUZZ / f"fuzz_{module}.c"
    assert target.exists()
    text = target.read_text()
    assert "LLVMFuzzerTestOneInput" in text
    for function in ENTRY_POINTS[module]:
        assert re.search(rf"\b{function}\s*\(", declared), f"lr_{module}.h no longer declares {function}"
        assert re.search(rf"\b{function}\s*\(", text), f"{target.name} does not exercise {function}"


def test_every_fuzz_target_is_built_and_run():
    on_disk = sorted(p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.c"))
    assert on_disk == sorted(TARGETS)
    for case in (FUZZ / "regressions").glob("*.bin"):
        assert case.stem.split("-")[0].removeprefix("fuzz_") in TARGETS, case.name


def test_every_fuzz_target_has_a_small_seed_corpus():
    sizes = {}
    for module in TARGETS:
        seeds = sorted((CORPUS / module).glob("*.bin"))
        assert 3 <= len(seeds) <= 60, f"{module}: {len(seeds)} seeds"
        assert all(0 < p.stat().st_size <= MAX_LEN for p in seeds), module
        sizes[module] = sum(p.stat().st_size for p in seeds)
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(TARGETS)
    assert sum(sizes.values()) < 400_000, sizes


@pytest.mark.slow
def test_seed_corpus_is_what_make_corpus_makes(tmp_path):
    subprocess.run([sys.executable, str(FUZZ / "make_corpus.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True, timeout=600)
    made = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.bin")}
    committed = {p.relative_to(CORPUS): p.read_bytes() for p in CORPUS.rglob("*.bin")}
    remake = "the committed corpus is not what csrc/fuzz/make_corpus.py makes now: run it and commit"
    assert sorted(made) == sorted(committed), remake
    differ = [str(name) for name in made if made[name] != committed[name]]
    assert not differ, f"{remake} ({', '.join(differ)})"


def _built_by_the_short_run() -> dict[str, pathlib.Path] | None:
    """The targets ``csrc/fuzz/run.sh`` built (``build/fuzz/``, with the same flags) when every
    one is newer than every source it is made of, else None."""
    out = ROOT / "build" / "fuzz"
    exes = {module: out / f"fuzz_{module}" for module in TARGETS}
    sources = [*CSRC.glob("lr_*.[ch]"), *FUZZ.glob("fuzz_*.[ch]")]
    newest = max(p.stat().st_mtime for p in sources)
    if all(exe.is_file() and exe.stat().st_mtime > newest for exe in exes.values()):
        return exes
    return None


@pytest.fixture(scope="module")
def fuzz_binaries(tmp_path_factory) -> dict[str, pathlib.Path]:
    built = _built_by_the_short_run()           # tests/check.sh has just built them
    if built is not None:
        return built
    clang = require_command("clang-14", "clang-14")
    out = tmp_path_factory.mktemp("fuzz")
    flags = ["-std=gnu11", "-O1", "-g", "-fno-sanitize-recover=all", f"-I{CSRC}"]
    objects = []
    for source in sorted(CSRC.glob("lr_*.c")):  # the core once, instrumented but without main()
        obj = out / f"{source.stem}.o"
        subprocess.run([clang, *flags, "-fsanitize=fuzzer-no-link,address,undefined", "-c", "-o", str(obj),
                        str(source)], check=True, capture_output=True)
        objects.append(str(obj))
    built = {}
    for module in TARGETS:
        exe = out / f"fuzz_{module}"
        subprocess.run([clang, *flags, "-fsanitize=fuzzer,address,undefined", "-o", str(exe),
                        str(FUZZ / f"fuzz_{module}.c"), *objects, "-lm"], check=True, capture_output=True)
        built[module] = exe
    return built


@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.parametrize("module", TARGETS)
def test_fuzz_target_runs_clean_for_a_thousand_inputs(fuzz_binaries, module, tmp_path):
    run = subprocess.run([str(fuzz_binaries[module]), "-runs=1000", "-seed=1", f"-max_len={MAX_LEN}",
                          f"-artifact_prefix={tmp_path}/", str(tmp_path), str(CORPUS / module)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done 1000 runs" in run.stderr


@pytest.mark.interop
@pytest.mark.parametrize("module", TARGETS)
def test_every_seed_passes_its_target_and_the_seeds_reach_further_than_an_empty_input(fuzz_binaries, module,
                                                                                      tmp_path):
    seeded = subprocess.run([str(fuzz_binaries[module]), "-runs=0", str(CORPUS / module)],
                            capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    empty = subprocess.run([str(fuzz_binaries[module]), "-runs=0", str(tmp_path)], capture_output=True,
                           text=True, timeout=300)
    coverage = [int(re.search(r"INITED cov: (\d+)", run.stderr).group(1)) for run in (seeded, empty)]
    assert coverage[0] >= coverage[1] + 5, f"seeds cover {coverage[0]} edges, an empty input {coverage[1]}"


@pytest.mark.interop
@pytest.mark.parametrize("case", sorted((FUZZ / "regressions").glob("*.bin")), ids=lambda p: p.stem)
def test_inputs_that_once_crashed_a_target_now_pass(fuzz_binaries, case):
    module = case.stem.split("-")[0].removeprefix("fuzz_")
    run = subprocess.run([str(fuzz_binaries[module]), str(case)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
