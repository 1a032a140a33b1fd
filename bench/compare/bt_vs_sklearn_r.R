#!/usr/bin/env Rscript
# R BradleyTerry2 side of bench/compare/bt_vs_sklearn_r.py (run by it; also usable alone):
#   Rscript bench/compare/bt_vs_sklearn_r.R PAIRS.csv NUM_ITEMS OUT.csv
# PAIRS.csv: i,j,wins_i,wins_j,ties (0-based ids). Fits BTm (glm logit; ties as half a win each)
# and writes the abilities (natural log-odds scale, reference item 0) to OUT.csv; prints the
# elapsed seconds of the BTm call as "time_fit_s=...".
suppressPackageStartupMessages(library(BradleyTerry2))
args <- commandArgs(trailingOnly = TRUE)
pairs <- read.csv(args[1])
n <- as.integer(args[2])
lv <- as.character(seq_len(n) - 1)
d <- data.frame(p1 = factor(as.character(pairs$i), levels = lv),
                p2 = factor(as.character(pairs$j), levels = lv),
                w1 = pairs$wins_i + pairs$ties / 2, w2 = pairs$wins_j + pairs$ties / 2)
t <- system.time(fit <- suppressWarnings(BTm(cbind(w1, w2), p1, p2, data = d, id = "item",
                                              control = glm.control(epsilon = 1e-10, maxit = 100))))
ab <- BTabilities(fit)
write.csv(data.frame(ability = ab[, 1]), args[3], row.names = FALSE)
cat(sprintf("time_fit_s=%.6f iterations=%d\n", t[["elapsed"]], fit$iter))
