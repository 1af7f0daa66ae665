"""numpy's SeedSequence hash, as a kernel: the seeds of every recipe's draws at a tenth of numpy's cost.

`derive_seed(*words)` (fdsl_gen/recipe.py) is
`SeedSequence(words).generate_state(1, uint64)[0]`, and every sample draws
from a generator equal to `default_rng(seed)`, whose PCG64 seeds itself from
`SeedSequence(seed).generate_state(4, uint64)`. numpy spends about 10
microseconds on each (object set-up around a few dozen integer operations):
two per sample, a few per cent of a small image's whole cost. These kernels
run the same arithmetic (numpy's `bit_generator.pyx`: `hashmix`, `mix`,
`mix_entropy`, `generate_state`, with the default pool of 4 words and no
spawn key); tests/gen/test_seeds.py holds them to numpy's output.
"""
import numpy as np

from fdsl_gen.formulas.jit import numba

_INIT_A = np.uint64(0x43B0D7E5)
_MULT_A = np.uint64(0x931E8875)
_INIT_B = np.uint64(0x8B51F9DD)
_MULT_B = np.uint64(0x58F38DED)
_MIX_MULT_L = np.uint64(0xCA01F9DD)
_MIX_MULT_R = np.uint64(0x4973F715)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(16)
_POOL = 4


@numba.njit(cache=True, nogil=True, inline="always")
def _hashmix(value, hash_const):
    """(mixed value, next hash constant): numpy's hashmix in 32-bit words (held in uint64, masked)."""
    value = (value ^ hash_const) & _MASK32
    hash_const = (hash_const * _MULT_A) & _MASK32
    value = (value * hash_const) & _MASK32
    return value ^ (value >> _SHIFT), hash_const


@numba.njit(cache=True, nogil=True, inline="always")
def _mix(x, y):
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
    return result ^ (result >> _SHIFT)


@numba.njit(cache=True, nogil=True)
def _pool(entropy):
    """SeedSequence's entropy pool of the uint32 words `entropy`."""
    pool = np.empty(_POOL, np.uint64)
    hash_const = _INIT_A
    for i in range(_POOL):
        value = entropy[i] if i < entropy.shape[0] else np.uint64(0)
        pool[i], hash_const = _hashmix(value, hash_const)
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                value, hash_const = _hashmix(pool[src], hash_const)
                pool[dst] = _mix(pool[dst], value)
    for src in range(_POOL, entropy.shape[0]):
        for dst in range(_POOL):
            value, hash_const = _hashmix(entropy[src], hash_const)
            pool[dst] = _mix(pool[dst], value)
    return pool


@numba.njit(cache=True, nogil=True)
def _state64(pool, count):
    """generate_state(count, uint64) of a pool: 2 x count 32-bit words, paired low word first."""
    out = np.empty(count, np.uint64)
    hash_const = _INIT_B
    for k in range(2 * count):
        value = (pool[k % _POOL] ^ hash_const) & _MASK32
        hash_const = (hash_const * _MULT_B) & _MASK32
        value = (value * hash_const) & _MASK32
        value ^= value >> _SHIFT
        out[k // 2] = value if k % 2 == 0 else out[k // 2] | (value << np.uint64(32))
    return out


@numba.njit(cache=True, nogil=True)
def _words32(words):
    """SeedSequence's uint32 entropy of non-negative 64-bit integers: each split low word first, 0 as one word."""
    out = np.empty(2 * words.shape[0], np.uint64)
    count = 0
    for word in words:
        out[count] = word & _MASK32
        count += 1
        if word >> np.uint64(32):
            out[count] = word >> np.uint64(32)
            count += 1
    return out[:count]


@numba.njit(cache=True, nogil=True)
def seed_of(words):
    """SeedSequence(words).generate_state(1, uint64)[0] of a uint64 array of words."""
    return _state64(_pool(_words32(words)), 1)[0]


@numba.njit(cache=True, nogil=True)
def pcg64_words(seed):
    """SeedSequence(seed).generate_state(4, uint64): the words PCG64 seeded by `seed` starts from."""
    return _state64(_pool(_words32(np.array([seed], np.uint64))), 4)
