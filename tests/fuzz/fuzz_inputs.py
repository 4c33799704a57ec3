"""Random inputs for the fuzz tests: arrays of every kind, layout and value, and awkward scalars.

A :class:`Maker` wraps hypothesis' ``data`` object: hypothesis draws the
structure (shapes, dtypes, layouts, which scalar is odd), a numpy generator
seeded by hypothesis fills the values (drawing them one by one would be
slow). Most draws are valid, so that the kernels run; the rest are what a
careless caller passes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st

#: Counts of the cases run by kind of outcome (read by tests/fuzz/conftest.py for the summary).
STATS: dict[str, int] = {}

_FLOATS = (torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16)
_INTS = (torch.int64, torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)
_WRONG = {"float": (torch.int32, torch.bool, torch.complex64), "int": (torch.float32, torch.bool, torch.float64),
          "bool": (torch.int64, torch.float32, torch.uint8)}

AWKWARD_INTS = (-1, 0, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**400, -(10**400), 10**4000,
                True, False, np.bool_(True), 1.0, 2.5, math.nan, "3", None, np.int64(-5), np.uint64(2**64 - 1))
AWKWARD_REALS = (math.nan, math.inf, -math.inf, 10**400, -(10**400), 10**4000, 1e308, -1e308, 5e-324, -0.0,
                 True, np.bool_(False), "0.1", None, 1 + 0j, np.float16(65504), np.float32(np.inf),
                 np.float64(np.nan), np.int64(2**62))
AWKWARD_OBJECTS = (None, "abc", 3, 2.5, [[1.0, 2.0], [3.0]], object(), b"\x00")


def count(outcome: str) -> None:
    STATS[outcome] = STATS.get(outcome, 0) + 1


class Maker:
    """Draws the inputs of one fuzz case."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        self.views = False  # a negative / conjugate bit view was made (results must equal the plain call)
        self.clean = self.chance(45, "clean")  # no deliberate mistakes (still any dtype, layout and value)

    def draw(self, strategy, label: str | None = None):
        return self.data.draw(strategy, label=label)

    def chance(self, percent: int, label: str = "chance") -> bool:
        """True ``percent`` percent of the time (uniform: from the seeded generator, not hypothesis,
        whose integers favour their bounds)."""
        return bool(self.rng.random() * 100 < percent)

    def mistake(self, percent: int, label: str) -> bool:
        """Whether to make a deliberate mistake (never in a clean case)."""
        return not self.clean and self.chance(percent, label)

    def choice(self, options, label: str):
        """One of ``options``, uniformly."""
        options = list(options)
        return options[int(self.rng.integers(len(options)))]

    def dim(self, high: int = 3, label: str = "dim") -> int:
        """A size: mostly in [1, high], sometimes 0."""
        return 0 if self.mistake(5, label + "-zero") else self.draw(st.integers(1, high), label)

    # ------------------------------------------------------------ scalars

    def integer(self, label: str, low: int, high: int, odd: int = 15):
        """An int in [low, high] (Python or numpy), or ``odd`` percent of the time an awkward value."""
        if self.mistake(odd, label + "-odd"):
            return self.choice(AWKWARD_INTS + (low - 1, high + 1), label)
        v = self.draw(st.integers(low, high), label)
        if -(2**31) <= v < 2**31 and self.chance(20, label + "-numpy"):
            return self.choice((np.int64, np.int32), label + "-type")(v)
        return v

    def real(self, label: str, low: float, high: float, odd: int = 15):
        """A float in [low, high] (Python, numpy or int), or an awkward value."""
        if self.mistake(odd, label + "-odd"):
            return self.choice(AWKWARD_REALS + (low - 1.0,), label)
        v = self.draw(st.floats(low, high, allow_nan=False), label)
        kind = int(self.rng.integers(10))
        return np.float32(v) if kind == 0 else np.float64(v) if kind == 1 else v

    def threads(self):
        return None if self.chance(30, "threads-none") else self.integer("num_threads", 0, 3)

    # ------------------------------------------------------------ arrays

    def shape(self, shape: tuple[int, ...], label: str) -> tuple[int, ...]:
        """``shape``, or now and then one dimension changed, dropped or added."""
        if not self.mistake(6, label + "-shape"):
            return shape
        how = int(self.rng.integers(3))
        i = int(self.rng.integers(max(len(shape), 1)))
        if how == 0 and shape:
            return shape[:i] + (self.draw(st.integers(0, 5), label + "-size"),) + shape[i + 1:]
        if how == 1 and shape:
            return shape[:i] + shape[i + 1:]
        return shape[:i] + (self.draw(st.integers(1, 3), label + "-size"),) + shape[i:]

    def values(self, shape, kind: str, low: float, high: float, special: bool) -> np.ndarray:
        if kind == "bool":
            return self.rng.random(shape) < 0.7
        if kind == "int":
            return self.rng.integers(int(low), int(high) + 1, size=shape)
        v = self.rng.uniform(low, high, size=shape)
        if special and v.size and self.chance(12, "special"):
            specials = np.array([np.inf, -np.inf, 1e300, -1e300, -0.0, 5e-324, 3.5e38] + [np.nan] * (not self.clean))
            hit = self.rng.random(shape) < self.rng.choice([0.02, 0.2, 1.0])
            v[hit] = self.rng.choice(specials, size=int(hit.sum()))
        return v

    def array(self, label: str, shape: tuple[int, ...], kind: str = "float", low: float = 0.0, high: float = 1.0,
              special: bool = True, values: np.ndarray | None = None):
        """An input meant to be ``kind`` of ``shape`` (``values`` when given): any container, dtype,
        layout and value."""
        if self.mistake(2, label + "-object"):
            return self.choice(AWKWARD_OBJECTS, label)
        drawn = self.shape(tuple(shape), label)
        if values is not None and drawn == tuple(shape):
            base = values
        else:
            base = self.values(drawn, kind, low, high, special and kind == "float")
        if self.mistake(8, label + "-wrong-dtype"):
            dtype = self.choice(_WRONG[kind], label + "-dtype")
        else:
            dtype = {"float": self.choice(_FLOATS, label + "-dtype"), "int": self.choice(_INTS, label + "-dtype"),
                     "bool": torch.bool}[kind]
        if dtype == torch.uint8 and kind == "int":
            base = np.abs(base)
        if self.chance(35, label + "-numpy") and dtype != torch.bfloat16:
            return self._numpy(label, base, dtype)
        return self._torch(label, base, dtype)

    def _numpy(self, label: str, base: np.ndarray, dtype: torch.dtype):
        with np.errstate(all="ignore"):
            a = base.astype(torch.empty(0, dtype=dtype).numpy().dtype)
        layout = int(self.rng.integers(6))
        if layout == 1:
            a = np.asfortranarray(a)
        elif layout == 2 and a.ndim:
            a = np.flip(np.ascontiguousarray(np.flip(a, -1)), -1)  # negative strides
        elif layout == 3 and a.dtype.itemsize > 1:
            a = a.astype(a.dtype.newbyteorder(">"))  # big-endian
        elif layout == 4 and a.ndim:
            wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
            wide[..., ::2] = a
            a = wide[..., ::2]
        elif layout == 5:
            a = a.copy()
            a.setflags(write=False)
        return a

    def _torch(self, label: str, base: np.ndarray, dtype: torch.dtype):
        with np.errstate(all="ignore"):
            t = torch.from_numpy(np.ascontiguousarray(base)).to(dtype)
        layout = int(self.rng.integers(10))
        signed = dtype.is_floating_point or dtype in (torch.int64, torch.int32, torch.int16, torch.int8)
        if layout == 1 and t.dim() >= 2:  # same values, other strides
            t = torch.empty(tuple(reversed(t.shape)), dtype=dtype).permute(*reversed(range(t.dim()))).copy_(t)
        elif layout == 2 and signed:
            t = torch._neg_view(-t)
            self.views = True
        elif layout == 3 and dtype in (torch.float32, torch.float64):
            t = torch.complex(torch.zeros_like(t), -t).conj().imag
            self.views = True
        elif layout == 4 and t.dim() and t.shape[-1] > 0:  # stride 0 in the last axis
            t = t[..., :1].expand(t.shape)
        elif layout == 5 and t.dim():
            wide = torch.zeros(t.shape[:-1] + (2 * t.shape[-1],), dtype=dtype)
            wide[..., ::2] = t
            t = wide[..., ::2]
        elif layout == 6 and dtype.is_floating_point:
            t = t.clone().requires_grad_(True)
        elif layout == 7 and self.mistake(30, label + "-device"):
            t = t.to("meta")
        elif layout == 8 and self.mistake(10, label + "-sparse") and t.dim() and dtype != torch.float16:
            t = t.to_sparse()
        return t


def plain(x: object) -> object:
    """``x`` with its negative / conjugate bits resolved (the same values, ordinary memory)."""
    if isinstance(x, torch.Tensor) and x.layout == torch.strided and x.device.type != "meta":
        return x.detach().resolve_conj().resolve_neg()
    return x


def flatten(out: object) -> list[np.ndarray]:
    """The arrays of an op's result (tuples, tensors, numpy arrays, DecodeResult)."""
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in flatten(o)]
    if isinstance(out, torch.Tensor):
        return [out.detach().cpu().float().numpy() if out.dtype == torch.bfloat16 else out.detach().cpu().numpy()]
    if isinstance(out, np.ndarray):
        return [out]
    if hasattr(out, "num_people"):  # DecodeResult
        return [np.asarray(v) for v in vars(out).values()]
    raise TypeError(f"unexpected result {type(out).__name__}")


def assert_same(a: object, b: object) -> None:
    xs, ys = flatten(a), flatten(b)
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)
