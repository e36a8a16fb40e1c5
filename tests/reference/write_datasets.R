# Writes the public data sets the mclust reference numbers are computed on, as plain CSV.
# Run from this folder: Rscript write_datasets.R   (needs R with mclust 6; reference only)
suppressMessages(library(mclust))
out <- function(x, name) write.csv(x, file.path("data", paste0(name, ".csv")), row.names = FALSE, quote = FALSE)
data(diabetes); out(diabetes[, c("glucose", "insulin", "sspg")], "diabetes")   # 145 x 3, integer-valued
data(iris); out(setNames(iris[, 1:4], c("sepal_length", "sepal_width", "petal_length", "petal_width")), "iris")
data(faithful); out(faithful, "faithful")                                       # 272 x 2
data(banknote); out(banknote[, -1], "banknote")                                 # 200 x 6
data(thyroid); out(thyroid[, -1], "thyroid")                                    # 215 x 5
data(wreath); out(setNames(as.data.frame(wreath), c("x", "y")), "wreath")       # 1000 x 2
data(quakes); out(quakes[, c("lat", "long", "depth", "mag")], "quakes")         # 1000 x 4 (R datasets)
