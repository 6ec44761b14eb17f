"""Soft-decision LDPC decoding by layered normalized min-sum (csrc/lr_ldpc.h).

An :class:`LdpcGraph` holds a parity-check matrix as the positions of its ones and decodes
log-likelihood ratios (positive favours logic 0, the +1 symbol) into hard bits.  Punctured
variables take LLR 0, known ones a large value.  :func:`reference_decode` is the numpy oracle
of the same algorithm (flooding schedule) that the tests hold the C decoder to.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onboard.core._api import CoreError, Status, check, ffi, lib

DEFAULT_ITERATIONS = 50
DEFAULT_SCALE = 0.75  # normalisation of the check-to-variable messages


@dataclasses.dataclass(frozen=True)
class LdpcResult:
    bits: np.ndarray  # uint8 0/1, one per variable
    iterations: int  # passes made (the maximum when not decoded)
    ok: bool  # every parity check holds


class LdpcGraph:
    """A binary parity-check matrix of ``n_checks`` rows and ``n_vars`` columns, given by the
    (row, column) positions of its ones (each position at most once)."""

    def __init__(self, rows, cols, n_checks: int, n_vars: int):
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if rows.shape != cols.shape or rows.ndim != 1:
            raise ValueError("rows and cols must be 1-D arrays of the same length")
        if rows.size and (rows.min() < 0 or rows.max() >= n_checks or cols.min() < 0 or cols.max() >= n_vars):
            raise ValueError(f"a one lies outside the {n_checks} x {n_vars} matrix")
        if np.unique(rows * n_vars + cols).size != rows.size:
            raise ValueError("a position of the matrix is listed twice")
        order = np.lexsort((cols, rows))
        self.n_checks, self.n_vars = int(n_checks), int(n_vars)
        self._row_start = np.zeros(n_checks + 1, dtype=np.uint32)
        np.cumsum(np.bincount(rows, minlength=n_checks), out=self._row_start[1:])
        self._edge_var = np.ascontiguousarray(cols[order], dtype=np.uint32)
        self._edge_row = rows[order]
        self._graph = ffi.new("struct lr_ldpc_graph *")
        self._graph.n_vars = self.n_vars
        self._graph.n_checks = self.n_checks
        self._graph.n_edges = self._edge_var.size
        self._graph.row_start = ffi.from_buffer("uint32_t[]", self._row_start)
        self._graph.edge_var = ffi.from_buffer("uint32_t[]", self._edge_var)
        self._work = np.empty(lib.lr_ldpc_work_size(self._graph), dtype=np.float32)

    @property
    def n_edges(self) -> int:
        return int(self._edge_var.size)

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every one, row by row."""
        return self._edge_row.copy(), self._edge_var.astype(np.int64)

    def decode(self, llr, max_iterations: int = DEFAULT_ITERATIONS,
               scale: float = DEFAULT_SCALE) -> LdpcResult:
        """Hard bits of the most likely codeword near ``llr`` (one float per variable)."""
        soft = np.ascontiguousarray(llr, dtype=np.float32)
        if soft.shape != (self.n_vars,):
            raise ValueError(f"need {self.n_vars} LLRs, not shape {soft.shape}")
        bits = np.empty(self.n_vars, dtype=np.uint8)
        r = lib.lr_ldpc_decode(self._graph, ffi.from_buffer("float[]", soft), soft.size,
                               ffi.from_buffer("uint8_t[]", bits, require_writable=True), bits.size,
                               ffi.from_buffer("float[]", self._work, require_writable=True), self._work.size,
                               int(max_iterations), float(scale))
        if r == Status.UNCORRECTABLE:
            return LdpcResult(bits, int(max_iterations), False)
        if r < 0:
            raise CoreError(r, "LDPC decode")
        return LdpcResult(bits, int(r), True)

    def syndrome_weight(self, bits) -> int:
        """Number of parity checks that ``bits`` (0/1) violate."""
        b = np.ascontiguousarray(bits, dtype=np.uint8)
        return check(lib.lr_ldpc_syndrome_weight(self._graph, ffi.from_buffer("uint8_t[]", b), b.size),
                     "LDPC syndrome")


def reference_decode(graph: LdpcGraph, llr, max_iterations: int = DEFAULT_ITERATIONS,
                     scale: float = DEFAULT_SCALE) -> LdpcResult:
    """Normalized min-sum with the flooding schedule in numpy: slower to converge than the C
    decoder's layered schedule, but on a decodable word both end on the same codeword."""
    rows, cols = graph.positions()  # sorted by row
    channel = np.nan_to_num(np.asarray(llr, dtype=np.float64), nan=0.0, posinf=1e20, neginf=-1e20)
    degree = np.bincount(rows, minlength=graph.n_checks)
    starts = np.concatenate([[0], np.cumsum(degree)[:-1]])
    post = channel.copy()
    msg = np.zeros(rows.size)
    for it in range(1, max_iterations + 1):
        q = post[cols] - msg
        mag = np.abs(q)
        by_mag = np.lexsort((mag, rows))  # row by row, smallest magnitude first
        first_edge = by_mag[starts]
        first = mag[first_edge]
        second = np.where(degree > 1, mag[by_mag[np.minimum(starts + 1, rows.size - 1)]], np.inf)
        negative = np.bitwise_xor.reduceat((q < 0).astype(np.int64), starts)
        is_argmin = np.zeros(rows.size, dtype=bool)
        is_argmin[first_edge] = True
        out = scale * np.where(is_argmin, second[rows], first[rows])
        out = np.where(degree[rows] == 1, 1e20, out)  # a check on one variable forces it to 0
        msg = np.where(negative[rows] ^ (q < 0), -out, out)
        post = channel.copy()
        np.add.at(post, cols, msg)
        bits = (post < 0).astype(np.uint8)
        if graph.syndrome_weight(bits) == 0:
            return LdpcResult(bits, it, True)
    return LdpcResult((post < 0).astype(np.uint8), max_iterations, False)
