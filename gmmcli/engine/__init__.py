"""The EM engine on arrays: covariance models, E-step kernels, statistics, M-steps, starts.

Knows nothing of files or the command line. Kept empty of imports, so that the scoring path
(``engine.density``) loads without the fitting code.
"""
