# Reference M-step covariances from mclust for tests/test_constrained_mstep.py.
# Run from this folder: Rscript mclust_mstep.R   (needs R with mclust 6 and jsonlite; reference only)
#
# For each data set and k, a fixed soft membership z is built deterministically (0.8 on the class from
# hclass(hc(X), k), 0.2/k spread over all classes), and mstep(X, model, z) is run for the 14 models.
# The iterative models (VEI, VEV, VEE, EVE, VVE) are run with a fixed inner iteration count and a
# tolerance that never stops them early, so the stored sigma is mclust's fixed point rather than
# the point where its default inner rule (relative change < sqrt(eps)) happened to stop.
suppressMessages({library(mclust); library(jsonlite)})

models <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
iterative <- c("VEI", "VEV", "VEE", "EVE", "VVE")
sets <- c("iris", "diabetes", "faithful", "banknote")
ks <- c(1, 3, 5)
inner_itmax <- 50000L
tight <- list(eps = .Machine$double.eps, tol = c(1e-5, -1), itmax = c(.Machine$integer.max, inner_itmax),
              equalPro = FALSE)   # a plain list: emControl() refuses a negative tol

soft_z <- function(X, k) {
  cl <- if (k == 1) rep(1, nrow(X)) else as.vector(hclass(hc(X), k))
  z <- matrix(0.2 / k, nrow(X), k)
  z[cbind(seq_len(nrow(X)), cl)] <- z[cbind(seq_len(nrow(X)), cl)] + 0.8
  z
}
sigma_list <- function(s) lapply(seq_len(dim(s)[3]), function(g) unname(s[, , g, drop = TRUE]))
fit <- function(X, model, z, control) {
  m <- suppressWarnings(mstep(X, model, z, control = control))
  list(pro = unname(m$parameters$pro), mean = unname(t(m$parameters$mean)),
       sigma = sigma_list(m$parameters$variance$sigma), info = attr(m, "info"))
}
rel <- function(a, b) max(abs(unlist(a) - unlist(b))) / max(abs(unlist(b)))

out <- list(mclust_version = as.character(packageVersion("mclust")),
            inner_control = list(tol = -1, itmax = inner_itmax), datasets = list())
for (name in sets) {
  X <- as.matrix(read.csv(file.path("data", paste0(name, ".csv"))))
  d <- ncol(X)
  counts <- lapply(setNames(models, models), function(m)
    list(nVarParams = sapply(1:9, function(G) nVarParams(m, d, G)),
         nMclustParams = sapply(1:9, function(G) nMclustParams(m, d, G))))
  fits <- list()
  for (k in ks) {
    z <- soft_z(X, k)
    res <- list()
    for (m in models) {
      r <- fit(X, m, z, tight)
      if (m %in% iterative) {   # how far mclust's default inner rule stops from the fixed point
        r2 <- fit(X, m, z, emControl())
        r3 <- fit(X, m, z, modifyList(tight, list(itmax = c(.Machine$integer.max, 2L * inner_itmax))))
        cat(sprintf("%-9s k=%d %s: default rule stops %.2e from the fixed point (%d its); tight vs 2x its %.1e\n",
                    name, k, m, rel(r2$sigma, r$sigma), as.integer(abs(r2$info[1])), rel(r3$sigma, r$sigma)))
      }
      r$info <- NULL
      res[[m]] <- r
    }
    fits[[length(fits) + 1]] <- list(k = k, z = unname(z), models = res)
  }
  out$datasets[[length(out$datasets) + 1]] <- list(name = name, n = nrow(X), d = d, counts = counts,
                                                   fits = fits)
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(17)), "mclust_mstep.json")
