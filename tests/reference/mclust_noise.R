# mclust_noise.R -> mclust_noise.json
#
# What it computes: mclust's BIC table with its uniform noise component,
# mclustBIC(X, G = 1:6, modelNames = M, initialization = list(noise = noise0), Vinv = 1 / V),
# on data/noisy_blobs.csv (300 rows in three unit blobs at (0,0), (6,0), (0,6) plus 15 rows
# uniform over [-15, 20]^2: rows 301..315). V is the volume of the data's bounding box, the box
# gmmcli's --noise uses (mclust's default hypvol() takes the smaller of that box and a rotated one,
# so Vinv is given to compare like with like). noise0, the initial guess of the noise rows, is
# mclust's usual rule of thumb made deterministic: the rows whose distance to their 5th nearest
# neighbour is above the 90% quantile of those distances. Also: the winner's noise weight
# (summary(BIC, X)$parameters$pro, last entry), its loglik and df (nMclustParams(..., noise =
# TRUE)), its parameters (pro with the noise weight last, mean d x G, sigma a list of G d x d
# matrices) and which rows its classification calls noise (0 in mclust's classification).
# Sign convention: mclust's BIC is higher-is-better, 2 loglik - df log n; gmmcli's is the negative.
#
# data/noisy_blobs.csv was written once by numpy (default_rng(1): three 100-row standard normal
# blobs, then uniform(-15, 20, (15, 2)), 6 decimals); it is not rewritten by write_datasets.R.
#
# How to run: Rscript tests/reference/mclust_noise.R   (from anywhere; writes next to this script)
# R and mclust (6.0.0) are used for reference numbers only: gmmcli's tests read the JSON.

suppressMessages(library(mclust))
local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  if (length(f) == 1) setwd(dirname(normalizePath(f)))
})
source("json_out.R")

X <- read_dataset("noisy_blobs")
n <- nrow(X)
Gs <- 1:6
models <- c("EII", "VII", "EEI", "VVI", "EEE", "VVV")
V <- prod(apply(X, 2, max) - apply(X, 2, min))
D <- as.matrix(dist(X))
knn5 <- apply(D, 1, function(r) sort(r)[6])  # the row itself is at distance 0
noise0 <- knn5 > quantile(knn5, 0.9)

tm <- system.time(
  BIC <- mclustBIC(X, G = Gs, modelNames = models, initialization = list(noise = noise0),
                   Vinv = 1 / V, verbose = FALSE)
)[["elapsed"]]
tab <- unclass(BIC)
s <- summary(BIC, X)
pro <- s$parameters$pro
result <- list(
  description = paste(
    "mclustBIC(X, G = 1:6, modelNames = models, initialization = list(noise = noise0), Vinv = 1/V)",
    "on data/noisy_blobs.csv. bic: rows = G, columns = models (in 'models' order); mclust sign",
    "(higher is better); null = NA. df counts the noise weight (nMclustParams(..., noise = TRUE))."),
  session = session_info(),
  file = "data/noisy_blobs.csv", n = n, d = ncol(X),
  V = V, Vinv = 1 / V, noise0_rows = I(which(noise0)),
  G = I(as.integer(rownames(tab))), models = I(colnames(tab)),
  bic = unname(matrix(as.numeric(tab), nrow(tab))),
  df = unname(t(sapply(Gs, function(g) sapply(models, function(m) nMclustParams(m, ncol(X), g, noise = TRUE))))),
  best_model = s$modelName, best_G = s$G, best_bic = s$bic, best_loglik = s$loglik,
  best_bic_lower_better = -s$bic,
  best_noise_weight = pro[length(pro)],
  best_pro = pro, best_mean = s$parameters$mean, best_sigma = mats(s$parameters$variance$sigma),
  best_noise_rows = I(which(s$classification == 0)),
  seconds = tm)
cat(sprintf("noisy_blobs %s,%d  bic %.6f  noise %.4f  %.2f s\n", s$modelName, s$G, s$bic,
            pro[length(pro)], tm))
write_json_file(result, "mclust_noise.json")
