#!/usr/bin/env Rscript
# Reference Bradley-Terry fits for tests/prefmodel (prefopt::prefmodel::fit_bradley_terry).
#
#   Rscript tests/reference/prefmodel/bradleyterry2_reference.R
#
# Reads examples/arena_ratings/data/{battles,weighted}.csv, aggregates them into pair counts and
#  1. fits BradleyTerry2::BTm (glm logit, reference category = first item alphabetically) with
#     ties counted as half a win for each side (the Chatbot Arena convention), unweighted and
#     weighted;
#  2. fits the Davidson (1970) tie model by maximum likelihood with optim (BFGS, analytic
#     gradient, tight tolerance), since BradleyTerry2 has no tie model.
# Writes bt_reference.csv (set, model, ability, se, loglik) next to this script.
suppressPackageStartupMessages(library(BradleyTerry2))

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
data_dir <- file.path(here, "..", "..", "..", "examples", "arena_ratings", "data")

aggregate_pairs <- function(df) {
  if (is.null(df$weight)) df$weight <- 1
  models <- sort(unique(c(df$model_a, df$model_b)))
  a <- match(df$model_a, models); b <- match(df$model_b, models)
  i <- pmin(a, b); j <- pmax(a, b)
  w <- df$weight
  win_i <- ifelse(df$winner == "model_a", a == i, ifelse(df$winner == "model_b", b == i, FALSE)) * w
  win_j <- ifelse(df$winner == "model_a", a == j, ifelse(df$winner == "model_b", b == j, FALSE)) * w
  tie <- grepl("^tie", df$winner) * w
  key <- paste(i, j)
  agg <- aggregate(cbind(win_i, win_j, tie) ~ key, data = data.frame(key, win_i, win_j, tie), FUN = sum)
  ij <- do.call(rbind, lapply(strsplit(agg$key, " "), as.integer))
  list(models = models, i = ij[, 1], j = ij[, 2], win_i = agg$win_i, win_j = agg$win_j, tie = agg$tie)
}

fit_btm <- function(p) {
  lv <- p$models
  d <- data.frame(p1 = factor(lv[p$i], levels = lv), p2 = factor(lv[p$j], levels = lv),
                  w1 = p$win_i + p$tie / 2, w2 = p$win_j + p$tie / 2)
  fit <- suppressWarnings(BTm(cbind(w1, w2), p1, p2, data = d, id = "model",
                              control = glm.control(epsilon = 1e-14, maxit = 100)))
  ab <- BTabilities(fit)
  eta <- ab[p$i, 1] - ab[p$j, 1]
  ll <- sum(d$w1 * plogis(eta, log.p = TRUE) + d$w2 * plogis(-eta, log.p = TRUE))
  data.frame(model = lv, ability = ab[, 1], se = ab[, 2], loglik = ll)
}

davidson_ll <- function(par, pairs, n) {
  p <- pairs
  theta <- c(0, par[1:(n - 1)]); delta <- par[n]
  d <- theta[p$i] - theta[p$j]
  lse <- log(exp(d / 2) + exp(-d / 2) + exp(delta))
  sum(p$win_i * (d / 2 - lse) + p$win_j * (-d / 2 - lse) + p$tie * (delta - lse))
}
davidson_grad <- function(par, pairs, n) {
  p <- pairs
  theta <- c(0, par[1:(n - 1)]); delta <- par[n]
  d <- theta[p$i] - theta[p$j]
  s <- exp(d / 2) + exp(-d / 2) + exp(delta)
  p1 <- exp(d / 2) / s; p2 <- exp(-d / 2) / s; p3 <- exp(delta) / s
  nn <- p$win_i + p$win_j + p$tie
  gd <- (p$win_i - p$win_j) / 2 - nn * (p1 - p2) / 2
  g <- numeric(n)
  for (k in seq_along(gd)) { g[p$i[k]] <- g[p$i[k]] + gd[k]; g[p$j[k]] <- g[p$j[k]] - gd[k] }
  c(g[-1], sum(p$tie - nn * p3))
}
fit_davidson <- function(p) {
  n <- length(p$models)
  fit <- optim(rep(0, n), davidson_ll, davidson_grad, pairs = p, n = n, method = "BFGS",
               control = list(fnscale = -1, reltol = 1e-16, maxit = 10000))
  h <- optimHess(fit$par, davidson_ll, davidson_grad, pairs = p, n = n)
  se <- sqrt(diag(solve(-h)))
  rbind(data.frame(model = p$models, ability = c(0, fit$par[1:(n - 1)]), se = c(0, se[1:(n - 1)]),
                   loglik = fit$value),
        data.frame(model = "(log_nu)", ability = fit$par[n], se = se[n], loglik = fit$value))
}

battles <- read.csv(file.path(data_dir, "battles.csv"), stringsAsFactors = FALSE)
weighted <- read.csv(file.path(data_dir, "weighted.csv"), stringsAsFactors = FALSE)
out <- rbind(cbind(set = "half_win", fit_btm(aggregate_pairs(battles))),
             cbind(set = "half_win_weighted", fit_btm(aggregate_pairs(weighted))),
             cbind(set = "davidson", fit_davidson(aggregate_pairs(battles))))
write.csv(format(out, digits = 15), file.path(here, "bt_reference.csv"), row.names = FALSE, quote = FALSE)
cat(sprintf("BradleyTerry2 %s, R %s\n", packageVersion("BradleyTerry2"), getRversion()))
print(out, digits = 10)
