"""numba compilation with an on-disk cache that also works in read-only installations.

``numba.njit(cache=True)`` looks for a cache directory in this order: ``NUMBA_CACHE_DIR``, the
``__pycache__`` beside the source file, the per-user cache (``$XDG_CACHE_HOME/numba`` or
``~/.cache/numba``). In a read-only installation with a read-only HOME (compute nodes) none is
writable and numba refuses to cache. :func:`cached_njit` keeps numba's order and adds one last
place for this package's kernels only: a private directory under the temporary directory. It
sets no environment variable and changes no numba setting, so other code in the process is
unaffected.
"""

from __future__ import annotations

import os
import stat
import tempfile

import numba
from numba.core import caching

# numba >= 0.61 names these classes without the leading underscore
_UserWideCacheLocator = getattr(caching, "UserWideCacheLocator", None) or caching._UserWideCacheLocator


def private_cache_dir() -> str:
    """``<tmp>/lammps-quests-numba-<uid>``: the last-resort cache directory of the kernels.

    Created with mode 0700; refused (OSError) if it exists but belongs to another user or can be
    written by others, because numba loads cached code from it.
    """
    path = os.path.join(tempfile.gettempdir(), f"lammps-quests-numba-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise PermissionError(f"{path} is not a private directory of this user")
    return path


class _PrivateCacheLocator(_UserWideCacheLocator):
    """numba's per-user locator, moved to :func:`private_cache_dir`."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        self._cache_path = os.path.join(private_cache_dir(), self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        try:
            return super().from_function(py_func, py_file)
        except OSError:  # no private directory to be had: numba then refuses to cache
            return None


class _CacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [*caching.CompileResultCacheImpl._locator_classes, _PrivateCacheLocator]


class _FunctionCache(caching.FunctionCache):
    _impl_class = _CacheImpl


def cached_njit(**options):
    """``numba.njit(cache=True, **options)`` whose cache falls back to :func:`private_cache_dir`."""

    def decorate(function):
        dispatcher = numba.njit(**options)(function)
        # what njit(cache=True) does (Dispatcher.enable_caching), with the longer locator list
        dispatcher._cache = _FunctionCache(dispatcher.py_func)
        return dispatcher

    return decorate


def cache_directory(kernel) -> str:
    """Directory where numba caches the compiled ``kernel`` (a :func:`cached_njit` function)."""
    return kernel._cache.cache_path
