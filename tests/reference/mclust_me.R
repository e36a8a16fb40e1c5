# mclust_me.R -> mclust_me.json
#
# What it computes: mclust's EM, me(data, modelName, z, control), for the 14 covariance models
# (EII ... VVV) on diabetes, iris, faithful and banknote, k = 1, 2, 3, started from a fixed,
# stored membership matrix z0 = unmap(hclass(hc(X), k)) (hc() with its defaults: modelName "VVV",
# use "VARS"), under two controls:
#   "converged": emControl(tol = c(1e-10, 1e-12), itmax = c(100000, 10000))
#   "fixed20"  : emControl(tol = c(0, 1e-12),     itmax = c(20, 10000))
#                tol[1] = 0 makes mclust run exactly 20 EM iterations (it stops early only if
#                two successive log-likelihoods are bitwise equal, which happens for k = 1).
# Per run: loglik as returned, the log-likelihood recomputed in R from the returned parameters
# (sum(dens(..., logarithm = TRUE))), iterations / inner iterations / error (attr "info"),
# returnCode and WARNING, and the parameters (pro, mean [d rows x k columns], sigma [k d x d
# matrices], and scale / shape / orientation where the model has them). For "fixed20" also the
# loglik after each of the 20 iterations (me() rerun with itmax = 1..20 from the same z0; the run
# is deterministic, so entry t is the log-likelihood after t M-step + E-step pairs). Also
# nMclustParams(model, d, G) for d = 2..6, G = 1..9, and checks that me(itmax = 1) equals
# estep(mstep(z0)) (the conventions README.md describes).
# Runs mclust returns NA for, or errors on, are listed under "skipped" with the reason.
#
# How to run: Rscript tests/reference/mclust_me.R   (from anywhere; writes next to this script)
# R and mclust (6.0.0) are used for reference numbers only: gmmcli's tests read the JSON.

suppressMessages(library(mclust))
local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  if (length(f) == 1) setwd(dirname(normalizePath(f)))
})
source("json_out.R")

datasets <- c("diabetes", "iris", "faithful", "banknote")
models <- mclust.options("emModelNames")   # the 14 multivariate models
Ks <- c(1, 2, 3)
controls <- list(
  converged = list(tol = c(1e-10, 1e-12), itmax = c(100000L, 10000L)),
  fixed20   = list(tol = c(0, 1e-12),     itmax = c(20L, 10000L)))
mk_control <- function(cc) emControl(tol = cc$tol, itmax = cc$itmax)

# run f, keeping R warnings as text instead of printing them
catching <- function(expr) {
  warns <- character(0)
  val <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(list(message = conditionMessage(e)), class = "me_error")),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  list(value = val, warnings = warns)
}

info_of <- function(fit) {
  info <- attr(fit, "info")
  inner <- attr(info, "inner")
  out <- list(iterations = as.numeric(unlist(info)[1]), error = as.numeric(unlist(info)[2]))
  if (!is.null(inner)) {
    out$inner_iterations <- as.numeric(unlist(inner)[1])
    out$inner_error <- as.numeric(unlist(inner)[2])
  }
  out
}

params_of <- function(fit) {
  p <- fit$parameters
  v <- p$variance
  out <- list(pro = I(as.numeric(p$pro)),
              mean = unname(matrix(p$mean, nrow = fit$d)),       # d rows x k columns
              sigma = mats(v$sigma))                             # k matrices d x d
  if (!is.null(v$scale)) out$scale <- I(as.numeric(v$scale))
  if (!is.null(v$shape)) out$shape <- unname(as.matrix(v$shape)) # d x 1 (common) or d x k
  if (!is.null(v$orientation)) out$orientation <- mats(v$orientation)
  out
}

loglik_from_params <- function(X, model, fit) {
  sum(dens(data = X, modelName = model, parameters = fit$parameters, logarithm = TRUE))
}

result <- list(
  description = paste(
    "mclust me() EM runs from a stored start z0 (0/1 memberships, rows = observations).",
    "loglik is the value me() returns; loglik_recomputed is sum(log mixture density) of the",
    "returned parameters computed by dens(); they agree to rounding (loglik_is_of_returned_parameters).",
    "mean is d rows x k columns; sigma a list of k d x d matrices; shape d x 1 or d x k.",
    "iterations is attr(fit, 'info')[1]: negative when the itmax[1] limit was reached (mclust's",
    "convention: -20 = ran the full 20 and stopped on the limit)."),
  conventions = paste(
    "me() iteration t = M-step (from z0 at t = 1, else from the previous E-step's z) then E-step;",
    "loglik is computed in that E-step, i.e. under the returned parameters; the returned z is that",
    "E-step's z. Stop after iteration t when |L_t - L_{t-1}| / (1 + |L_t|) <= tol[1] or t = itmax[1]",
    "(L_0 = FLMAX/2). tol[2] / itmax[2] control the inner loops of the VEI, VEV, VEE, EVE, VVE M-steps.",
    "See README.md."),
  session = session_info(),
  controls = lapply(controls, function(cc) c(cc, list(eps = .Machine$double.eps, equalPro = FALSE,
    call = sprintf("emControl(tol = c(%s, %s), itmax = c(%d, %d))", format(cc$tol[1]), format(cc$tol[2]),
                   cc$itmax[1], cc$itmax[2])))),
  start = "z0 = unmap(hclass(hc(X), k)); hc(X) defaults: modelName = 'VVV', use = 'VARS'; k = 1: all ones",
  loglik_is_of_returned_parameters = NA,
  max_abs_loglik_minus_recomputed = NA,
  datasets = list(),
  nMclustParams = list(),
  convention_checks = list(),
  runs = list(),
  skipped = list())

max_diff <- 0
all_match <- TRUE
for (ds in datasets) {
  X <- read_dataset(ds)
  n <- nrow(X); d <- ncol(X)
  hcX <- hc(X)
  starts <- list()
  for (k in Ks) {
    cl <- if (k == 1) rep(1L, n) else as.integer(hclass(hcX, k))
    z0 <- unmap(cl)
    starts[[as.character(k)]] <- list(classification = I(cl), z = unname(z0))
  }
  result$datasets[[ds]] <- list(file = file.path("data", paste0(ds, ".csv")), n = n, d = d,
                                colsum = I(colSums(X)), start = starts)
  cat(ds, "\n")
  for (model in models) for (k in Ks) for (cname in names(controls)) {
    z0 <- unmap(starts[[as.character(k)]]$classification)
    if (k == 1) z0 <- matrix(1, n, 1)
    ctrl <- mk_control(controls[[cname]])
    r <- catching(me(X, modelName = model, z = z0, control = ctrl, warn = TRUE))
    fit <- r$value
    id <- list(dataset = ds, model = model, k = k, control = cname)
    if (inherits(fit, "me_error")) {
      result$skipped[[length(result$skipped) + 1]] <- c(id, list(reason = paste("error:", fit$message)))
      next
    }
    if (is.na(fit$loglik)) {
      result$skipped[[length(result$skipped) + 1]] <- c(id, list(
        reason = paste0("me() returned loglik NA: returnCode ", attr(fit, "returnCode"), ", ",
                        paste(c(attr(fit, "WARNING"), r$warnings), collapse = "; ")),
        returnCode = attr(fit, "returnCode"), info = info_of(fit)))
      next
    }
    llr <- loglik_from_params(X, model, fit)
    diff <- abs(fit$loglik - llr)
    max_diff <- max(max_diff, diff)
    if (diff > 1e-8 * (1 + abs(llr))) all_match <- FALSE
    run <- c(id, list(loglik = fit$loglik, loglik_recomputed = llr),
             info_of(fit),
             list(returnCode = attr(fit, "returnCode"),
                  warning = if (is.null(attr(fit, "WARNING"))) NULL else attr(fit, "WARNING"),
                  r_warnings = if (length(r$warnings)) I(unique(r$warnings)) else NULL,
                  df = nMclustParams(model, d, k)),
             params_of(fit))
    if (cname == "fixed20") {
      trace <- rep(NA_real_, 20)
      for (t in 1:20) {
        ct <- emControl(tol = controls$fixed20$tol, itmax = c(t, controls$fixed20$itmax[2]))
        ft <- suppressWarnings(me(X, modelName = model, z = z0, control = ct, warn = FALSE))
        it <- abs(info_of(ft)$iterations)
        trace[t] <- if (it == t) ft$loglik else NA   # NA: mclust stopped before t iterations
      }
      run$loglik_trace <- I(trace)
    }
    result$runs[[length(result$runs) + 1]] <- run
  }
  # me(itmax = 1) = one M-step from z0 (mstep) followed by one E-step (estep)
  if (ds == "diabetes") for (model in models) {
    z0 <- unmap(starts[["3"]]$classification)
    ctrl <- emControl(tol = c(0, 1e-12), itmax = c(1L, 10000L))
    f1 <- suppressWarnings(me(X, modelName = model, z = z0, control = ctrl, warn = FALSE))
    ms <- suppressWarnings(mstep(data = X, modelName = model, z = z0, control = ctrl, warn = FALSE))
    es <- estep(data = X, modelName = model, parameters = ms$parameters, warn = FALSE)
    result$convention_checks[[length(result$convention_checks) + 1]] <- list(
      dataset = ds, model = model, k = 3,
      check = "me(itmax = 1) vs estep(mstep(z0))",
      max_abs_diff_mean = max(abs(f1$parameters$mean - ms$parameters$mean)),
      max_abs_diff_sigma = max(abs(f1$parameters$variance$sigma - ms$parameters$variance$sigma)),
      max_abs_diff_pro = max(abs(f1$parameters$pro - ms$parameters$pro)),
      loglik_me = f1$loglik, loglik_estep = es$loglik,
      max_abs_diff_z = max(abs(f1$z - es$z)))
  }
}
result$loglik_is_of_returned_parameters <- all_match
result$max_abs_loglik_minus_recomputed <- max_diff

for (d in 2:6) {
  result$nMclustParams[[as.character(d)]] <- setNames(lapply(models, function(m)
    I(sapply(1:9, function(G) nMclustParams(m, d, G)))), models)
}
result$nMclustParams_note <- "nMclustParams(model, d, G) for G = 1..9 (equalPro = FALSE, no noise), keyed by d then model"

write_json_file(result, "mclust_me.json")
cat("runs:", length(result$runs), " skipped:", length(result$skipped),
    " loglik = recomputed:", all_match, " max diff:", max_diff, "\n")
