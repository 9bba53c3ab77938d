"""Build the compiled core.  Metadata lives in pyproject.toml.

Environment switches:
  FASTCACHE_NO_EXTENSIONS=1   build a pure-Python package (no C compiler needed)
  FASTCACHE_DEBUG=1           debug build: annotated HTML, line tracing,
                              bounds/wraparound checks, -O0 -g
  FASTCACHE_CYTHON_DIRECTIVES extra Cython directives, "name=value,name=value"
"""
import os
import sys
from glob import glob

from setuptools import Extension, setup


def flag(name):
    return os.environ.get(name, "") not in ("", "0")


def extensions():
    if flag("FASTCACHE_NO_EXTENSIONS") or sys.implementation.name != "cpython":
        return []
    from Cython.Build import cythonize

    debug = flag("FASTCACHE_DEBUG")
    # All Cython directives are set here, in one place.
    directives = {
        "language_level": "3",
        "embedsignature": True,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": not debug,
        "linetrace": debug,
        "profile": debug,
    }
    for item in filter(None, os.environ.get("FASTCACHE_CYTHON_DIRECTIVES", "").split(",")):
        name, _, value = item.partition("=")
        directives[name.strip()] = {"true": True, "false": False}.get(value.strip().lower(), value.strip())
    macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if debug else []
    cflags = ["-O0", "-g"] if debug else ["-O3"]
    if sys.platform == "win32":
        cflags = ["/Od"] if debug else ["/O2"]
    modules = []
    for pyx in sorted(glob("src_c/fastcache/_core/*.pyx")):
        name = pyx[len("src_c/"):-len(".pyx")].replace("/", ".")
        modules.append(Extension(name, [pyx], define_macros=macros, extra_compile_args=cflags,
                                 include_dirs=["src_c/fastcache/_core"]))     # _digest.h
    return cythonize(
        modules,
        include_path=["src_c"],          # .pxd files are found by their dotted module path
        compiler_directives=directives,
        annotate=debug,
        # Generated C stays out of the source tree; the debug build has its own
        # folder so neither reuses the other's C files or objects.
        build_dir="build/cython-debug" if debug else "build/cython",
    )


setup(ext_modules=extensions())
