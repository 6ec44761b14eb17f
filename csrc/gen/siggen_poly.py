"""Print the polynomial coefficients that csrc/lr_siggen.c uses for its carrier and its noise.

sin(pi*y) for |y| <= 1/2 as an odd polynomial of degree 9, least squares on Chebyshev nodes (seeds
the carrier rotators).

Noise: z, a standardised Irwin-Hall sum of three uniforms, is mapped to z*P(z^2), P of degree 3,
fitted by least squares weighted by the Irwin-Hall density to the exact quantile map
Phi^-1(F_IH3(z)) on |z| <= 2.9 (of 3), then scaled so that the output variance is exactly 1.  The
script prints the output's kurtosis and tail probabilities beside the Gaussian ones.  Run from
the repository root:

    python3 csrc/gen/siggen_poly.py
"""

import math
import statistics

import numpy as np

N = 3  # uniforms per sum
SD = math.sqrt(N / 12)  # standard deviation of the sum of N U(0, 1)


def ih_cdf(x: float) -> float:
    return sum((-1) ** k * math.comb(N, k) * (x - k) ** N
               for k in range(int(math.floor(x)) + 1)) / math.factorial(N)


def ih_pdf(x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    for k in range(N + 1):
        out += (-1) ** k * math.comb(N, k) * np.where(x > k, x - k, 0.0) ** (N - 1)
    return out / math.factorial(N - 1)


def main() -> None:
    y = np.cos(np.linspace(0.0, np.pi, 4001)) * 0.5
    basis = np.stack([y * (y * y) ** k for k in range(5)], 1)
    coef, *_ = np.linalg.lstsq(basis, np.sin(np.pi * y), rcond=None)
    print("sinpi", coef.tolist(), "max error", abs(basis @ coef - np.sin(np.pi * y)).max())

    normal = statistics.NormalDist()
    z = np.linspace(0.0, 2.9, 4001)
    target = np.array([normal.inv_cdf(ih_cdf(N / 2 + v * SD)) for v in z])
    weight = np.sqrt(ih_pdf(N / 2 + z * SD))
    basis = np.stack([z ** (2 * k + 1) for k in range(4)], 1)
    coef, *_ = np.linalg.lstsq(basis * weight[:, None], target * weight, rcond=None)
    # Moments of the mapped output, integrating over the Irwin-Hall density.
    zz = np.linspace(-N / 2 / SD, N / 2 / SD, 400001)
    dens = ih_pdf(N / 2 + zz * SD) * SD * (zz[1] - zz[0])
    g = np.stack([zz ** (2 * k + 1) for k in range(4)], 1) @ coef
    coef = coef / math.sqrt(np.sum(g * g * dens))
    g = np.stack([zz ** (2 * k + 1) for k in range(4)], 1) @ coef
    print(f"ih{N}", coef.tolist(), "variance", np.sum(g * g * dens), "kurtosis", np.sum(g**4 * dens),
          "largest", g[-1])
    for t in (2.0, 3.0, 3.5, 4.0):
        print(f"  P(|z| > {t}) = {np.sum(dens[np.abs(g) > t]):.4g}, Gaussian {2 * (1 - normal.cdf(t)):.4g}")


if __name__ == "__main__":
    main()
