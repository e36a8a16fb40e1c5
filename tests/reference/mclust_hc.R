# mclust's model-based hierarchical agglomeration (hc, VVV), the reference for gmmcli.engine.hc.
# Run from this folder: Rscript mclust_hc.R   (needs R with mclust 6 and jsonlite; reference only)
# Writes mclust_hc.json: per data set in data/ (and "ties", a generated small-integer grid, its rows
# in x), for use = "SVD" (mclust.options("hcUse"), what Mclust passes to hc) and use = "VARS"
# (hc()'s own default argument):
#   z        the data hcVVV agglomerates (attr(hc, "data")): all rows, for the transformation test
#            and to run the agglomeration on mclust's own bits
#   alpha    the criterion's alpha, traceW(z / sqrt(n p)) (hcVVV with alpha = 1, beta = 1)
#   merges   t(hc(...)): the n - 1 merge pairs, 1-based, each cluster named by its lowest member
#   costs    the merge criterion values hcvvv returns (hcVVV drops them; called here as hcVVV does)
#   hclass   hclass(hc(...), 2:9): 1-based labels in order of first appearance, one column per G
suppressMessages({ library(mclust); library(jsonlite) })

num <- function(x) {
  # numbers as JSON text with 17 significant digits (jsonlite's digits stop at 15); matrices row-major
  row <- function(v) paste0("[", paste(sprintf("%.17g", v), collapse = ","), "]")
  txt <- if (is.matrix(x)) paste0("[", paste(apply(x, 1, row), collapse = ","), "]")
         else if (length(x) == 1) sprintf("%.17g", x) else row(x)
  structure(txt, class = "json")
}

costs <- function(z) {
  # the Fortran call of mclust:::hcVVV (partition 1:n, minclus 1), keeping the criterion values
  n <- nrow(z); p <- ncol(z); m <- n - 1; ll <- n * (n - 1) / 2; ld <- max(n, ll + 1, 3 * m)
  alpha <- max(mclust:::traceW(z / sqrt(n * p)), .Machine$double.eps)
  out <- .Fortran("hcvvv", cbind(z, 0.), as.integer(n), as.integer(p), as.integer(1:n),
                  as.integer(n), as.integer(m), as.double(alpha), as.double(1), double(p),
                  double(p * p), double(p * p), double(p * p), as.integer(ld), double(ld),
                  PACKAGE = "mclust")
  list(alpha = alpha, merges = out[[1]][1:m, 1:2], costs = out[[14]][1:m])
}

one <- function(X, use) {
  h <- hc(X, use = use)
  z <- attr(h, "data"); dimnames(z) <- NULL
  f <- costs(z)
  stopifnot(all(f$merges == t(h)))          # the direct call is the one hc() made
  cl <- hclass(h, 2:9); dimnames(cl) <- NULL
  list(z = num(z), alpha = num(f$alpha), merges = t(unclass(h))[, 1:2], costs = num(f$costs),
       hclass = cl)
}

names <- c("diabetes", "iris", "faithful", "banknote", "thyroid", "wreath")
sets <- list()
for (name in names) {
  X <- data.matrix(read.csv(file.path("data", paste0(name, ".csv"))))
  dimnames(X) <- NULL
  sets[[name]] <- list(n = nrow(X), p = ncol(X), SVD = one(X, "SVD"), VARS = one(X, "VARS"))
}
# exact ties everywhere: a small-integer grid with many repeated rows and repeated differences
set.seed(11)
X <- matrix(sample(0:3, 60 * 3, replace = TRUE), 60, 3)
sets$ties <- list(n = nrow(X), p = ncol(X), x = X, SVD = one(X, "SVD"), VARS = one(X, "VARS"))
opts <- mclust.options()
doc <- list(
  mclust = as.character(packageVersion("mclust")), R = R.version.string,
  options = list(hcModelName = opts$hcModelName, hcUse = opts$hcUse, subset = opts$subset),
  call = "hc(X, modelName = 'VVV', use = use); hclass(h, 2:9)", sets = sets)
writeLines(toJSON(doc, auto_unbox = TRUE, matrix = "rowmajor", json_verbatim = TRUE), "mclust_hc.json")
