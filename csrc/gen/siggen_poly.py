"""Print the polynomial coefficients that csrc/lr_siggen.c uses for its Gaussian noise.

Least-squares fits on Chebyshev nodes (the residual is printed beside them):
sin(pi*y) for |y| <= 1/2 as an odd polynomial of degree 9, and ln(1+t) for t in
[sqrt(1/2)-1, sqrt(2)-1] as t*P(t) with P of degree 6.  Run from the repository root:

    python3 csrc/gen/siggen_poly.py
"""

import numpy as np


def main() -> None:
    y = np.cos(np.linspace(0.0, np.pi, 4001)) * 0.5
    basis = np.stack([y * (y * y) ** k for k in range(5)], 1)
    coef, *_ = np.linalg.lstsq(basis, np.sin(np.pi * y), rcond=None)
    print("sinpi", coef.tolist(), "max error", abs(basis @ coef - np.sin(np.pi * y)).max())
    lo, hi = np.sqrt(0.5) - 1.0, np.sqrt(2.0) - 1.0
    t = np.cos(np.linspace(0.0, np.pi, 4001)) * (hi - lo) / 2 + (hi + lo) / 2
    basis = np.stack([t ** (k + 1) for k in range(7)], 1)
    coef, *_ = np.linalg.lstsq(basis, np.log1p(t), rcond=None)
    print("ln1p", coef.tolist(), "max error", abs(basis @ coef - np.log1p(t)).max())


if __name__ == "__main__":
    main()
