"""Compiles the C core (csrc/) with cffi and maps the packages; the rest is in pyproject.toml.

The command-line tools live in tools/ but install as ``lunarelay_tools``, so nothing
generic named ``tools`` lands in site-packages.
"""

from setuptools import find_packages, setup

core = find_packages(include=["onboard", "onboard.*", "hil", "hil.*"])
tools = find_packages(include=["tools", "tools.*"])

setup(
    packages=core + ["lunarelay_tools" + name[len("tools"):] for name in tools],
    package_dir={"lunarelay_tools": "tools"},
    cffi_modules=["onboard/core/_build.py:ffibuilder"],
)
