# Shared helpers for the mclust reference scripts (sourced by mclust_*.R; not run on its own).
# A small JSON writer that prints every double with 17 significant digits (sprintf("%.17g")),
# so Python's float() gets back exactly the double R had; jsonlite's digits = NA stops at 15.
# R is used here for reference numbers only: gmmcli itself never needs R.
#
# Conventions of to_json():
#   NULL, NA, NaN, +-Inf            -> null
#   named list                      -> object;  unnamed list -> array
#   atomic vector of length 1       -> scalar, unless wrapped in I() (then a 1-element array)
#   atomic vector of length != 1    -> array
#   matrix                          -> array of rows (each row an array, even of length 1)
#   3-d array a[, , k]              -> use mats() first: a list of matrices, one per k

json_num <- function(x) {
  out <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  out
}

json_str <- function(x) {
  x <- gsub("\\", "\\\\", x, fixed = TRUE)
  x <- gsub("\"", "\\\"", x, fixed = TRUE)
  x <- gsub("\n", "\\n", x, fixed = TRUE)
  x <- gsub("\t", "\\t", x, fixed = TRUE)
  ifelse(is.na(x), "null", paste0("\"", x, "\""))
}

json_atoms <- function(x) {
  if (is.logical(x)) return(ifelse(is.na(x), "null", ifelse(x, "true", "false")))
  if (is.integer(x)) return(ifelse(is.na(x), "null", as.character(x)))
  if (is.numeric(x)) return(json_num(as.double(x)))
  if (is.factor(x)) x <- as.character(x)
  if (is.character(x)) return(json_str(x))
  stop("to_json: unsupported type ", class(x)[1])
}

to_json <- function(x, indent = 0L, step = 1L) {
  pad <- strrep(" ", indent + step)
  end <- strrep(" ", indent)
  if (is.null(x)) return("null")
  if (is.matrix(x)) {
    rows <- lapply(seq_len(nrow(x)), function(i) I(unname(x[i, ])))
    return(to_json(rows, indent, step))
  }
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    vals <- vapply(x, to_json, "", indent = indent + step, step = step)
    # short arrays of scalars go on one line
    if (is.null(names(x))) {
      if (all(!grepl("\n", vals)) && sum(nchar(vals)) < 400)
        return(paste0("[", paste(vals, collapse = ", "), "]"))
      return(paste0("[\n", pad, paste(vals, collapse = paste0(",\n", pad)), "\n", end, "]"))
    }
    keys <- json_str(names(x))
    return(paste0("{\n", pad, paste(paste0(keys, ": ", vals), collapse = paste0(",\n", pad)),
                  "\n", end, "}"))
  }
  if (!is.null(dim(x)) && length(dim(x)) > 2) stop("to_json: convert arrays with mats() first")
  a <- json_atoms(unclass(unname(x)))
  if (length(x) == 1 && !inherits(x, "AsIs")) return(a)
  paste0("[", paste(a, collapse = ", "), "]")
}

write_json_file <- function(x, path) {
  writeLines(to_json(x), path)
  invisible(path)
}

# a d x d x k array -> list of k d x d matrices (each written as rows)
mats <- function(a) {
  if (is.null(a)) return(NULL)
  a <- as.array(a)
  if (length(dim(a)) == 2) a <- array(a, c(dim(a), 1))
  lapply(seq_len(dim(a)[3]), function(k) unname(matrix(a[, , k], dim(a)[1], dim(a)[2])))
}

# the folder this script lives in (so the scripts can be run from anywhere)
script_dir <- function() {
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  if (length(f) == 1) dirname(normalizePath(f)) else getwd()
}

read_dataset <- function(name) {
  X <- read.csv(file.path("data", paste0(name, ".csv")))
  as.matrix(X)
}

session_info <- function() {
  list(mclust_version = as.character(packageVersion("mclust")),
       R_version = R.version.string,
       blas = tryCatch(extSoftVersion()[["BLAS"]], error = function(e) NA_character_),
       lapack = tryCatch(La_version(), error = function(e) NA_character_),
       written = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"))
}
