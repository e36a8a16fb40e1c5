"""Numeric limits every reader applies, in one place."""

#: Larger magnitudes overflow EM's sums of squares: refused like NaN (or dropped by --dropna).
HUGE = 1e100
