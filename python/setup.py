"""Builds the kiln package with the C library inside it (kiln/libkiln.so.0), so that the
installed package needs no LD_LIBRARY_PATH.

The library is KILN_LIBRARY when that names one (a libkiln.so.0 already built), else
CMake builds the target kiln_shared of the repository this folder sits in, in
build/kiln-cmake here. Metadata is in pyproject.toml.
"""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SONAME = "libkiln.so.0"


def build_library(build_dir):
    if not os.path.isfile(os.path.join(REPO, "include", "kiln.h")):
        raise SystemExit(f"kiln: {REPO} is not kiln's repository; build the package from "
                         f"its python/ folder, or set KILN_LIBRARY to a built {SONAME}")
    for command in (["cmake", "-S", REPO, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"],
                    ["cmake", "--build", build_dir, "--target", "kiln_shared",
                     "-j", str(os.cpu_count() or 1)]):
        try:
            subprocess.check_call(command)
        except (OSError, subprocess.CalledProcessError) as e:
            raise SystemExit(f"kiln: building the C library failed: {' '.join(command)}: {e} "
                             f"(tools/setup.sh installs what it needs)") from None
    return os.path.join(build_dir, SONAME)


class BuildPyWithLibrary(build_py):
    """The Python files, then the C library beside them."""

    def run(self):
        super().run()
        library = os.environ.get("KILN_LIBRARY") or build_library(
            os.path.join(HERE, "build", "kiln-cmake"))
        if not os.path.isfile(library):
            raise SystemExit(f"kiln: no library at {library}")
        self.copy_file(library, os.path.join(self.build_lib, "kiln", SONAME))


class BinaryDistribution(Distribution):
    """A native library inside: the wheel is for this platform only."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
