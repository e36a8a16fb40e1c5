# mclust_bic.R -> mclust_bic.json
#
# What it computes: mclustBIC(X, G = 1:9) over all 14 covariance models (mclust's defaults
# otherwise: emControl(), hc initialization with use = mclust.options("hcUse") = "SVD") for
# diabetes, iris, faithful, banknote, thyroid, wreath and quakes: the full 9 x 14 BIC table (NA cells ->
# null), mclust's returnCodes table, the winner (and mclust's top 3), the winner's loglik and df,
# and the wall time of each mclustBIC() call (system.time, seconds).
# Sign convention: mclust's BIC is higher-is-better, 2 loglik - df log n. gmmcli's BIC is the
# negative (lower is better): the bar is gmmcli_bic <= -mclust_best_bic + 0.05.
# The whole-script wall time (`time Rscript mclust_bic.R`, via run_all.sh) is in timings.txt.
#
# How to run: Rscript tests/reference/mclust_bic.R   (from anywhere; writes next to this script)
# R and mclust (6.0.0) are used for reference numbers only: gmmcli's tests read the JSON.

suppressMessages(library(mclust))
local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  if (length(f) == 1) setwd(dirname(normalizePath(f)))
})
source("json_out.R")

datasets <- c("diabetes", "iris", "faithful", "banknote", "thyroid", "wreath", "quakes")
Gs <- 1:9

result <- list(
  description = paste(
    "mclustBIC(X, G = 1:9), all 14 models, mclust defaults. bic: rows = G (1..9), columns = models",
    "(in 'models' order); mclust sign (higher is better, 2 loglik - df log n); null = NA (not fitted).",
    "returnCodes: mclust's per-cell return codes (0 ok; -1 singular covariance; -3 mixing proportion",
    "fell below threshold; 1 iteration limit; ...). best_* are the winner (max BIC);",
    "best_bic_lower_better = -best_bic. seconds = system.time(mclustBIC(...))[['elapsed']]."),
  session = session_info(),
  defaults = list(control = "emControl(): eps = .Machine$double.eps, tol = c(1e-5, sqrt(.Machine$double.eps)), itmax = c(.Machine$integer.max, .Machine$integer.max)",
                  hcUse = mclust.options("hcUse"), hcModelName = "VVV (mclust.options('hcModelName'))",
                  subset = "none (n <= 2000 for all of these data sets)"),
  datasets = list())

for (ds in datasets) {
  X <- read_dataset(ds)
  tm <- system.time(BIC <- mclustBIC(X, G = Gs, verbose = FALSE))[["elapsed"]]
  tab <- unclass(BIC)
  rc <- attr(BIC, "returnCodes")
  models <- colnames(tab)
  s <- summary(BIC, X)
  top <- pickBIC(BIC, 3)
  result$datasets[[ds]] <- list(
    file = file.path("data", paste0(ds, ".csv")), n = nrow(X), d = ncol(X),
    G = I(as.integer(rownames(tab))), models = I(models),
    bic = unname(matrix(as.numeric(tab), nrow(tab))),
    returnCodes = unname(matrix(as.integer(rc), nrow(rc))),
    best_model = s$modelName, best_G = s$G, best_bic = s$bic, best_loglik = s$loglik,
    best_df = nMclustParams(s$modelName, ncol(X), s$G),
    best_bic_lower_better = -s$bic,
    top3 = lapply(seq_along(top), function(i) list(name = names(top)[i], bic = unname(top[i]))),
    n_na = sum(is.na(tab)),
    seconds = tm)
  cat(sprintf("%-9s %s,%d  bic %.6f  %.2f s\n", ds, s$modelName, s$G, s$bic, tm))
}

write_json_file(result, "mclust_bic.json")
