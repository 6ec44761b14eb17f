"""cffi builder for the C core (API, out-of-line mode).

The declarations are read from the LR_CDEF_BEGIN/LR_CDEF_END blocks of every
csrc/lr_*.h, and every csrc/lr_*.c is compiled, so a new C module needs no edit
here.  setup.py hands ``ffibuilder`` to cffi at install time.  Run directly, this
module builds a copy of the extension elsewhere, optionally with AddressSanitizer
and UndefinedBehaviorSanitizer for the tests that feed the core hostile input:

    python -m onboard.core._build --sanitize build/sanitize
    python -m onboard.core._build --out build/dev

and prints its path, which LUNARELAY_CORE then names (see ``_api.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import re
import sys

import cffi

ROOT = pathlib.Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
MODULE_NAME = "onboard.core._lrcore"
_CDEF_BLOCK = re.compile(r"/\* LR_CDEF_BEGIN \*/(.*?)/\* LR_CDEF_END \*/", re.S)
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def _headers() -> list[pathlib.Path]:
    # lr_common.h first: the other headers' declarations use its types.
    headers = sorted(CSRC.glob("lr_*.h"))
    headers.sort(key=lambda h: h.name != "lr_common.h")
    return headers


def source_digest(csrc: pathlib.Path = CSRC) -> str:
    """SHA-256 over every C source and header of the core, so a stale build can be recognised."""
    h = hashlib.sha256()
    for path in sorted(csrc.glob("lr_*.[ch]")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def make_builder(extra_cflags: list[str] | None = None, absolute_paths: bool = False) -> cffi.FFI:
    """The FFI of the whole core.  setuptools wants paths relative to the repository root;
    ``FFI.compile`` runs in its temporary directory and needs absolute ones."""
    ffi = cffi.FFI()
    cdef_parts = []
    includes = []
    for header in _headers():
        text = header.read_text()
        blocks = _CDEF_BLOCK.findall(text)
        if blocks:
            cdef_parts.extend(blocks)
            includes.append(f'#include "{header.name}"')
    cdef_parts.append("const char *lr_core_source_digest(void);")
    digest = source_digest()
    includes.append(f'const char *lr_core_source_digest(void) {{ return "{digest}"; }}')
    ffi.cdef("\n".join(cdef_parts))

    def path(p: pathlib.Path) -> str:
        return str(p) if absolute_paths else str(p.relative_to(ROOT))

    sources = sorted(path(p) for p in CSRC.glob("lr_*.c"))
    ffi.set_source(
        MODULE_NAME,
        "\n".join(includes),
        sources=sources,
        include_dirs=[path(CSRC)],
        extra_compile_args=["-std=gnu11", "-O3", "-fno-math-errno", *(extra_cflags or [])],
        extra_link_args=list(extra_cflags or []) + ["-lm"],
    )
    return ffi


ffibuilder = make_builder()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the lunarelay C core extension.")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sanitize", metavar="OUTDIR",
                       help="build an ASan+UBSan copy of the extension into OUTDIR")
    where.add_argument("--out", metavar="OUTDIR",
                       help="build an optimised copy into OUTDIR (load it via LUNARELAY_CORE)")
    args = parser.parse_args(argv)
    if args.out:
        outdir = pathlib.Path(args.out).resolve()
        outdir.mkdir(parents=True, exist_ok=True)
        print(make_builder(absolute_paths=True).compile(tmpdir=str(outdir), verbose=False))
        return 0
    outdir = pathlib.Path(args.sanitize).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    builder = make_builder(["-O1", "-g", *SANITIZE_FLAGS], absolute_paths=True)
    print(builder.compile(tmpdir=str(outdir), verbose=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
