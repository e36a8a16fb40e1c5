# mclust_icl.R -> mclust_icl.json
#
# What it computes: for diabetes, iris and faithful, mclust's integrated complete-data likelihood
# criterion icl() of fitted models: the best Mclust(X, G = 1:5) model and three other
# (model, G) pairs fitted with Mclust(X, G = G, modelNames = model). Per fit: the parameters
# (pro, mean [d rows x k columns], sigma [k d x d matrices]), z (n rows x k), the MAP
# classification, loglik, df, mclust's bic, icl() and its pieces:
#   icl = bic + 2 * entropy_term,   entropy_term = sum_n sum_k C_nk log z_nk
# with C the MAP (which.max, first on ties) 0/1 matrix of z and 0 log 0 = 0.
# Sign convention: mclust's BIC and ICL are "higher is better": bic = 2 loglik - df log n.
# The *_lower_better fields are the negatives (df log n - 2 loglik), the sign gmmcli uses.
# Mclust's z and loglik are those of the parameters before its last M-step, so each fit also has
# 'of_parameters': icl() of the stored parameters with their own E-step (estep()'s z and loglik).
# Also the full mclustICL(X, G = 1:5) table (all 14 models; NA cells -> null).
#
# How to run: Rscript tests/reference/mclust_icl.R   (from anywhere; writes next to this script)
# R and mclust (6.0.0) are used for reference numbers only: gmmcli's tests read the JSON.

suppressMessages(library(mclust))
local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  if (length(f) == 1) setwd(dirname(normalizePath(f)))
})
source("json_out.R")

datasets <- c("diabetes", "iris", "faithful")
others <- list(c("VVV", 3), c("EEE", 2), c("VII", 4), c("VVI", 2))   # the first three not the best

entropy_term <- function(z) {
  z <- as.matrix(z)
  C <- matrix(0, nrow(z), ncol(z))
  for (i in seq_len(nrow(z))) C[i, which.max(z[i, ])] <- 1
  sum(C * ifelse(z > 0, log(z), 0))
}

fit_record <- function(fit, X, how) {
  p <- fit$parameters
  z <- if (is.null(fit$z)) matrix(1, nrow(X), 1) else fit$z
  et <- entropy_term(z)
  ic <- icl(fit)
  # Mclust's z and loglik belong to the parameters before its last M-step (summaryMclustBIC
  # redoes mstep(out$z) when pro != colMeans(z)), not to the stored ones: 'of_parameters' is
  # icl() of the stored parameters, with their own E-step's z and loglik.
  e <- estep(X, modelName = fit$modelName, parameters = p)
  own <- fit
  own$z <- if (fit$G == 1) NULL else e$z
  own$loglik <- e$loglik
  own$bic <- 2 * e$loglik - fit$df * log(fit$n)
  of_parameters <- list(loglik = e$loglik, bic = own$bic, icl = icl(own),
                        entropy_term = entropy_term(if (fit$G == 1) matrix(1, nrow(X), 1) else e$z),
                        icl_lower_better = -icl(own))
  list(how = how, model = fit$modelName, G = fit$G, n = fit$n, d = fit$d,
       loglik = fit$loglik, df = fit$df, bic = fit$bic, icl = ic,
       entropy_term = et,
       icl_check = fit$bic + 2 * et,          # equals icl (mclust's own formula)
       bic_recomputed = 2 * fit$loglik - fit$df * log(fit$n),
       bic_lower_better = -fit$bic, icl_lower_better = -ic,
       pro = I(as.numeric(p$pro)),
       mean = unname(matrix(p$mean, nrow = fit$d)),
       sigma = mats(p$variance$sigma),
       classification = I(as.integer(fit$classification)),
       z = unname(as.matrix(z)),
       of_parameters = of_parameters)
}

result <- list(
  description = paste(
    "mclust icl() of fitted Mclust models. icl = bic + 2 * entropy_term, entropy_term =",
    "sum_n sum_k C_nk log z_nk, C = MAP 0/1 matrix (which.max, first on ties), 0 log 0 = 0.",
    "mclust's bic/icl are higher-is-better (bic = 2 loglik - df log n); *_lower_better are the negatives.",
    "mean is d rows x k columns; sigma a list of k d x d matrices; z n rows x k."),
  session = session_info(),
  fitting = paste("Mclust defaults: emControl() (tol = c(1e-5, sqrt(eps)), itmax = .Machine$integer.max),",
                  "initialization hc(X, modelName = 'VVV', use = mclust.options('hcUse') = 'SVD')"),
  datasets = list())

for (ds in datasets) {
  X <- read_dataset(ds)
  best <- Mclust(X, G = 1:5, verbose = FALSE)
  fits <- list(fit_record(best, X, "Mclust(X, G = 1:5) best by BIC"))
  used <- 0
  for (o in others) {
    if (used == 3) break
    if (o[1] == best$modelName && as.integer(o[2]) == best$G) next
    f <- Mclust(X, G = as.integer(o[2]), modelNames = o[1], verbose = FALSE)
    fits[[length(fits) + 1]] <- fit_record(f, X, sprintf("Mclust(X, G = %s, modelNames = '%s')", o[2], o[1]))
    used <- used + 1
  }
  ICL <- mclustICL(X, G = 1:5, verbose = FALSE)
  tab <- unclass(ICL)
  icl_table <- list(G = I(as.integer(rownames(tab))), models = I(colnames(tab)),
                    values = unname(matrix(as.numeric(tab), nrow(tab))),
                    note = "rows = G, columns = models; higher is better; null = not fitted (NA)")
  result$datasets[[ds]] <- list(file = file.path("data", paste0(ds, ".csv")), n = nrow(X), d = ncol(X),
                                fits = fits, mclustICL = icl_table)
  cat(ds, best$modelName, best$G, "\n")
}

write_json_file(result, "mclust_icl.json")
