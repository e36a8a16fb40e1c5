# mclust_lrt_fits.R -> mclust_lrt_fits.json
#
# What it computes: the fits behind mclust_lrt.json, with their parameters: for faithful and
# diabetes and models VVV and EEE, mclustBIC(X, G = 1:5, modelNames = model) with mclust
# defaults, then summary(BIC, X, G = g) for g = 1..5 (what mclustBootstrapLRT uses under H0 and
# H1). Per fit: loglik (mclust's, as the LRT uses it), loglik_of_parameters (estep() of the stored
# parameters: summary's loglik is that of the parameters before its last M-step), df, bic (mclust's higher-is-better sign), pro, mean (d rows x k columns),
# sigma (a list of k d x d matrices). With them gmmcli's tests compute the likelihood-ratio
# statistics of the same fits and run its bootstrap from mclust's fitted models.
#
# How to run: Rscript tests/reference/mclust_lrt_fits.R   (from anywhere; writes next to this script)
# R and mclust (6.0.0) are used for reference numbers only: gmmcli's tests read the JSON.

suppressMessages(library(mclust))
local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  if (length(f) == 1) setwd(dirname(normalizePath(f)))
})
source("json_out.R")

datasets <- c("faithful", "diabetes")
models <- c("VVV", "EEE")
maxG <- 4

result <- list(
  description = paste(
    "summary(mclustBIC(X, G = 1:5, modelNames = model), X, G = g) for g = 1..5: the fits",
    "mclustBootstrapLRT(X, model, maxG = 4) tests (mclust_lrt.json). bic is higher-is-better;",
    "mean is d rows x k columns; sigma a list of k d x d matrices."),
  session = session_info(),
  runs = list())

for (ds in datasets) {
  X <- read_dataset(ds)
  for (model in models) {
    BIC <- mclustBIC(X, G = 1:(maxG + 1), modelNames = model, warn = FALSE, verbose = FALSE)
    fits <- lapply(1:(maxG + 1), function(g) {
      s <- summary(BIC, X, G = g, modelNames = model)
      p <- s$parameters
      # s$loglik belongs to the parameters before summary's last M-step (see mclust_icl.R);
      # loglik_of_parameters is estep()'s log-likelihood of the stored parameters
      own <- if (g == 1) s$loglik else estep(X, modelName = model, parameters = p)$loglik
      list(G = g, loglik = s$loglik, loglik_of_parameters = own,
           df = nMclustParams(model, ncol(X), g), bic = s$bic,
           pro = I(as.numeric(p$pro)),
           mean = unname(matrix(p$mean, nrow = ncol(X))),
           sigma = mats(p$variance$sigma))
    })
    result$runs[[length(result$runs) + 1]] <- list(dataset = ds, model = model, n = nrow(X),
                                                   d = ncol(X), fits = fits)
  }
}

write_json_file(result, "mclust_lrt_fits.json")
