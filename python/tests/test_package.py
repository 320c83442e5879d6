"""The installed package: its own C library, one version."""
import os
import re
from importlib import metadata

import pytest

import kiln
from kiln import _capi
from conftest import REPO


def test_library_inside_the_package():
    """Without KILN_LIBRARY the package loads the libkiln.so.0 installed beside it."""
    want = os.environ.get("KILN_LIBRARY") or os.path.join(os.path.dirname(kiln.__file__),
                                                          "libkiln.so.0")
    assert _capi.library_path == want and os.path.isfile(want)


def test_version():
    header = open(os.path.join(REPO, "include", "kiln.h")).read()
    parts = [re.search(rf"#define KILN_VERSION_{p} (\d+)", header).group(1)
             for p in ("MAJOR", "MINOR", "PATCH")]
    assert ".".join(parts) == kiln.__version__


def test_installed_version():
    try:
        installed = metadata.version("kiln")
    except metadata.PackageNotFoundError:
        pytest.skip("kiln is imported from its source folder, not installed")
    assert installed == kiln.__version__
