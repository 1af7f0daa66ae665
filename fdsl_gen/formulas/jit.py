"""numba for fdsl's kernels, with cached kernels loaded at a fifth of numba's own first-call cost.

Every kernel module imports numba from here. Before numba loads a cached
kernel it refreshes its whole compiler set-up: it imports and registers the
implementation of every function it can compile (scipy's BLAS among them),
about 0.4 CPU-seconds, more than a small render spends drawing. Machine code
read from the cache needs none of it, only numba's runtime (NRT, for arrays
made inside kernels), so fdsl's kernels load with that alone. A kernel that
is compiled, not loaded, still gets the whole set-up: numba's compiler
refreshes both contexts itself. Should a lighter load fail on a numba we do
not know, numba's own way runs instead.
"""
import numba
from numba.core.caching import Cache
from numba.core.runtime import rtsys

_FULL_LOAD = Cache.load_overload
_PACKAGE = __name__.rpartition(".")[0] + "."


def _load_overload(cache, sig, target_context):
    """numba's `Cache.load_overload`, without its refresh for fdsl's kernels."""
    if not getattr(cache, "_py_func", None) or not cache._py_func.__module__.startswith(_PACKAGE):
        return _FULL_LOAD(cache, sig, target_context)
    try:
        rtsys.initialize(target_context)
        with cache._guard_against_spurious_io_errors():
            return cache._load_overload(sig, target_context)
    except Exception:  # noqa: BLE001 (numba's full load is the answer to anything the light one misses)
        return _FULL_LOAD(cache, sig, target_context)


Cache.load_overload = _load_overload

__all__ = ["numba"]
