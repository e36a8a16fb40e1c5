# mclust_lrt.R -> mclust_lrt.json
#
# What it computes: mclust's bootstrap likelihood-ratio test for the number of components,
# mclustBootstrapLRT(X, modelName, nboot = 999, maxG = 4) (so G = 1..5 are fitted and the tests
# are 1 vs 2, ..., 4 vs 5), for models VVV and EEE on faithful and diabetes, each call after
# set.seed(0). Per test: the observed statistic LRTS = 2 (loglik[g+1] - loglik[g]), the bootstrap
# p-value (1 + #{boot >= obs}) / (nboot + 1), summaries of the bootstrap distribution, and the
# logliks (and BIC, df) of the g and g+1 fits. The fits are the ones mclustBootstrapLRT uses:
# mclustBIC(X, G = 1:5, modelNames = model) with mclust defaults, then summary(BIC, X, G = g).
# p-values depend on R's random stream (sim() draws); the observed statistics and logliks do not.
#
# How to run: Rscript tests/reference/mclust_lrt.R   (from anywhere; writes next to this script)
# R and mclust (6.0.0) are used for reference numbers only: gmmcli's tests read the JSON.

suppressMessages(library(mclust))
local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  if (length(f) == 1) setwd(dirname(normalizePath(f)))
})
source("json_out.R")

datasets <- c("faithful", "diabetes")
models <- c("VVV", "EEE")
nboot <- 999
maxG <- 4

result <- list(
  description = paste(
    "mclustBootstrapLRT(X, modelName, nboot = 999, maxG = 4) after set.seed(0).",
    "tests[[g]] is g vs g+1 components: obs = 2 (loglik1 - loglik0), p_value = (1 + #{boot >= obs}) / (nboot + 1).",
    "loglik0/loglik1 are of the mclustBIC(X, G = 1:5, modelNames = model) fits with G = g, g+1",
    "(bic in mclust's higher-is-better sign). seconds = elapsed time of the mclustBootstrapLRT call."),
  session = session_info(),
  RNG = paste(RNGkind(), collapse = " / "),
  nboot = nboot, maxG = maxG,
  runs = list())

for (ds in datasets) {
  X <- read_dataset(ds)
  for (model in models) {
    set.seed(0)
    tm <- system.time(lrt <- mclustBootstrapLRT(X, modelName = model, nboot = nboot, maxG = maxG,
                                                verbose = FALSE))[["elapsed"]]
    BIC <- mclustBIC(X, G = 1:(maxG + 1), modelNames = model, warn = FALSE, verbose = FALSE)
    fits <- lapply(1:(maxG + 1), function(g) summary(BIC, X, G = g, modelNames = model))
    tests <- lapply(seq_along(lrt$G), function(g) {
      b <- lrt$boot[, g]
      list(g0 = g, g1 = g + 1, obs = lrt$obs[g], p_value = lrt$p.value[g],
           obs_recomputed = 2 * (fits[[g + 1]]$loglik - fits[[g]]$loglik),
           loglik0 = fits[[g]]$loglik, loglik1 = fits[[g + 1]]$loglik,
           bic0 = fits[[g]]$bic, bic1 = fits[[g + 1]]$bic,
           df0 = nMclustParams(model, ncol(X), g), df1 = nMclustParams(model, ncol(X), g + 1),
           n_boot_ge_obs = sum(b >= lrt$obs[g]),
           boot_mean = mean(b), boot_sd = sd(b),
           boot_quantiles = list(probs = I(c(0.5, 0.9, 0.95, 0.99)),
                                 values = I(unname(quantile(b, c(0.5, 0.9, 0.95, 0.99))))))
    })
    result$runs[[length(result$runs) + 1]] <- list(
      dataset = ds, model = model, n = nrow(X), d = ncol(X),
      call = sprintf("set.seed(0); mclustBootstrapLRT(X, modelName = '%s', nboot = %d, maxG = %d)",
                     model, nboot, maxG),
      seconds = tm, tests = tests)
    cat(sprintf("%-9s %s  %.1f s  obs %s  p %s\n", ds, model, tm,
                paste(sprintf("%.4f", lrt$obs), collapse = " "), paste(lrt$p.value, collapse = " ")))
  }
}

write_json_file(result, "mclust_lrt.json")
