"""The Moon's gravity field as spherical harmonics: published coefficients and the acceleration.

:func:`load_field` reads a coefficient file (``hil/world/data/lp165p_degree8.csv``: LP165P to
degree and order 8, whose header names its source, model, frame, normalisation, reference
radius and GM).  :meth:`GravityField.acceleration` evaluates the gradient of

    U = GM/r sum_n sum_m (R/r)^n P_nm(sin lat) (C_nm cos m lon + S_nm sin m lon)

in the field's body-fixed frame by the recursion of Cunningham in the form of Montenbruck and
Gill, "Satellite Orbits" (2000) §3.2.4-3.2.5 (eq. 3.31-3.33), on unnormalised coefficients (exact
enough to degree 8; high degrees would need the normalised recursion).
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np

from onboard.errors import LunarelayError

DATA = pathlib.Path(__file__).with_name("data")
DEFAULT_FIELD = DATA / "lp165p_degree8.csv"


class GravityFieldError(LunarelayError, ValueError):
    """A coefficient file that cannot be read or a degree the file does not hold."""


@dataclasses.dataclass(frozen=True)
class GravityField:
    model: str
    gm_m3_s2: float
    radius_m: float
    c: np.ndarray  # unnormalised C_nm, (degree + 1, degree + 1), C_00 = 1
    s: np.ndarray

    @property
    def degree(self) -> int:
        return self.c.shape[0] - 1

    def truncated(self, degree: int, order: int | None = None) -> GravityField:
        """The field to ``degree`` (and ``order``, default the degree): 0 is the point mass."""
        if not 0 <= degree <= self.degree:
            raise GravityFieldError(f"degree {degree} is outside 0..{self.degree} of {self.model}")
        order = degree if order is None else order
        c, s = self.c[:degree + 1, :degree + 1].copy(), self.s[:degree + 1, :degree + 1].copy()
        c[:, order + 1:] = 0.0
        s[:, order + 1:] = 0.0
        return dataclasses.replace(self, c=c, s=s)

    def acceleration(self, r_fixed) -> np.ndarray:
        """Acceleration (m/s^2) at body-fixed position ``r_fixed`` (m), body-fixed axes."""
        x, y, z = (float(v) for v in r_fixed)
        n_max = self.degree
        r2 = x * x + y * y + z * z
        big_r = self.radius_m
        rho = big_r * big_r / r2
        x0, y0, z0 = big_r * x / r2, big_r * y / r2, big_r * z / r2
        size = n_max + 2
        v = [[0.0] * (size + 1) for _ in range(size + 1)]
        w = [[0.0] * (size + 1) for _ in range(size + 1)]
        v[0][0] = big_r / math.sqrt(r2)
        # Montenbruck & Gill eq. 3.31-3.32: zonal and tesseral terms up to degree n_max + 1.
        for m in range(size):
            if m > 0:
                v[m][m] = (2 * m - 1) * (x0 * v[m - 1][m - 1] - y0 * w[m - 1][m - 1])
                w[m][m] = (2 * m - 1) * (x0 * w[m - 1][m - 1] + y0 * v[m - 1][m - 1])
            if m + 1 < size:
                v[m + 1][m] = (2 * m + 1) * z0 * v[m][m]
                w[m + 1][m] = (2 * m + 1) * z0 * w[m][m]
            for n in range(m + 2, size):
                v[n][m] = ((2 * n - 1) * z0 * v[n - 1][m] - (n + m - 1) * rho * v[n - 2][m]) / (n - m)
                w[n][m] = ((2 * n - 1) * z0 * w[n - 1][m] - (n + m - 1) * rho * w[n - 2][m]) / (n - m)
        ax = ay = az = 0.0
        c, s = self.c, self.s
        # Eq. 3.33.
        for n in range(n_max + 1):
            for m in range(n + 1):
                cnm, snm = float(c[n, m]), float(s[n, m])
                if cnm == 0.0 and snm == 0.0:
                    continue
                if m == 0:
                    ax -= cnm * v[n + 1][1]
                    ay -= cnm * w[n + 1][1]
                else:
                    f = (n - m + 1) * (n - m + 2)
                    ax += 0.5 * (-cnm * v[n + 1][m + 1] - snm * w[n + 1][m + 1]
                                 + f * (cnm * v[n + 1][m - 1] + snm * w[n + 1][m - 1]))
                    ay += 0.5 * (-cnm * w[n + 1][m + 1] + snm * v[n + 1][m + 1]
                                 + f * (-cnm * w[n + 1][m - 1] + snm * v[n + 1][m - 1]))
                az += (n - m + 1) * (-cnm * v[n + 1][m] - snm * w[n + 1][m])
        k = self.gm_m3_s2 / (big_r * big_r)
        return np.array([k * ax, k * ay, k * az])


def _header_value(lines: list[str], key: str, path: pathlib.Path) -> str:
    for line in lines:
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    raise GravityFieldError(f"{path}: the header does not give '{key}'")


def _unit_value(text: str, unit: str, path: pathlib.Path, key: str) -> float:
    number, _, got = text.partition(" ")
    if got != unit:
        raise GravityFieldError(f"{path}: {key} must be in {unit}, not {got!r}")
    try:
        return float(number)
    except ValueError:
        raise GravityFieldError(f"{path}: {key} {number!r} is not a number") from None


def load_field(path: str | pathlib.Path = DEFAULT_FIELD) -> GravityField:
    """Read a normalised coefficient file (the layout of ``lp165p_degree8.csv``) and unnormalise it."""
    path = pathlib.Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise GravityFieldError(f"{path}: cannot read gravity field: {exc.strerror}") from None
    for key in ("Source", "Model", "Frame", "Normalisation"):
        _header_value(lines, key, path)
    model = _header_value(lines, "Model", path)
    radius = _unit_value(_header_value(lines, "Reference radius", path), "km", path, "Reference radius") * 1e3
    gm = _unit_value(_header_value(lines, "GM", path), "km^3/s^2", path, "GM") * 1e9
    rows = []
    for number, line in enumerate(lines, 1):
        if not line or line.startswith("#") or line.startswith("n,"):
            continue
        parts = line.split(",")
        try:
            n, m, cbar, sbar = int(parts[0]), int(parts[1]), float(parts[2]), float(parts[3])
        except (ValueError, IndexError):
            raise GravityFieldError(f"{path}:{number}: expected n,m,C,S, got {line!r}") from None
        if not 0 <= m <= n or n < 2:
            raise GravityFieldError(f"{path}:{number}: degree {n} order {m} is not a field term")
        rows.append((n, m, cbar, sbar))
    if not rows:
        raise GravityFieldError(f"{path}: no coefficients")
    degree = max(r[0] for r in rows)
    c = np.zeros((degree + 1, degree + 1))
    s = np.zeros((degree + 1, degree + 1))
    c[0, 0] = 1.0
    for n, m, cbar, sbar in rows:
        norm = math.sqrt((2 - (m == 0)) * (2 * n + 1) * math.factorial(n - m) / math.factorial(n + m))
        c[n, m], s[n, m] = cbar * norm, sbar * norm
    return GravityField(model, gm, radius, c, s)
