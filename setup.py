"""Build the optional compiled reader; everything else is in pyproject.toml.

``deadline_nb/frames/_speedups.pyx`` speeds up ``session_action_frame`` on boto3 results. It is
optional: where it cannot be compiled (no C compiler), the install still succeeds and the
NumPy reader, which gives the same frames, is used. ``DEADLINE_NB_NO_EXTENSION=1`` skips it on
purpose: `make demo` installs that way, for a first report sooner (`make test` builds it).
"""

import os

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # building without Cython: no extension, the NumPy reader is used
    cythonize = None

if cythonize is None or os.environ.get("DEADLINE_NB_NO_EXTENSION"):
    extensions = []
else:
    extensions = cythonize(
        [
            Extension(
                "deadline_nb.frames._speedups",
                ["deadline_nb/frames/_speedups.pyx"],
                optional=True,
            )
        ],
        compiler_directives={"language_level": "3"},
        quiet=True,
    )

setup(ext_modules=extensions)
