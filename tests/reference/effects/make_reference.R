# Effect estimates on leadeval's own matched / weighted Lalonde samples (make_data.py writes them).
# R packages: sandwich, survey, numDeriv (Debian r-cran-*); marginaleffects is not in Debian, so
# the g-computation delta method is written out by hand (what avg_comparisons computes).
#   Rscript tests/reference/effects/make_reference.R   (from the repository root)
suppressMessages({library(sandwich); library(survey); library(numDeriv)})
dir <- "tests/reference/effects"
covs <- "age + educ + race + married + nodegree + re74 + re75"
out <- list()
add <- function(case, term, est, se) {
  out[[length(out) + 1]] <<- data.frame(case = case, term = term, estimate = est, std_error = se)
}

# g-computation over the treated: predictions with treat = 1 and 0, delta method with vcov V
gcomp <- function(fit, V, d, case) {
  nd <- d[d$treated == 1, ]
  w <- nd$weights / sum(nd$weights)
  X1 <- model.matrix(delete.response(terms(fit)), transform(nd, treated = 1))
  X0 <- model.matrix(delete.response(terms(fit)), transform(nd, treated = 0))
  b <- coef(fit)
  m1 <- sum(w * X1 %*% b); m0 <- sum(w * X0 %*% b)
  g1 <- colSums(w * X1); g0 <- colSums(w * X0); gd <- g1 - g0; gl <- g1 / m1 - g0 / m0
  add(case, "mean_treated", m1, sqrt(drop(g1 %*% V %*% g1)))
  add(case, "mean_control", m0, sqrt(drop(g0 %*% V %*% g0)))
  add(case, "mean_difference", m1 - m0, sqrt(drop(gd %*% V %*% gd)))
  add(case, "mean_ratio", m1 / m0, m1 / m0 * sqrt(drop(gl %*% V %*% gl)))
}

for (name in c("nn1", "nn2", "nn1_replace")) {
  d <- read.csv(file.path(dir, paste0(name, "_data.csv")))
  cl <- if (name == "nn1_replace") ~subclass + person_id else ~subclass
  # (a) unadjusted ATT: lm(re78 ~ treat, weights) + vcovCL(cluster = ~subclass[+ id]), HC1
  fa <- lm(re78 ~ treated, data = d, weights = weights)
  Va <- vcovCL(fa, cluster = cl, type = "HC1")
  add(paste0(name, "_unadjusted"), "treated", coef(fa)[["treated"]], sqrt(Va["treated", "treated"]))
  gcomp(fa, Va, d, paste0(name, "_unadjusted"))
  # (b) covariate-adjusted (additive): the treat coefficient
  fb <- lm(as.formula(paste("re78 ~ treated +", covs)), data = d, weights = weights)
  Vb <- vcovCL(fb, cluster = cl, type = "HC1")
  add(paste0(name, "_additive"), "treated", coef(fb)[["treated"]], sqrt(Vb["treated", "treated"]))
  gcomp(fb, Vb, d, paste0(name, "_additive"))
  # (c) g-computation with treat x covariates
  fc <- lm(as.formula(paste("re78 ~ treated * (", covs, ")")), data = d, weights = weights)
  gcomp(fc, vcovCL(fc, cluster = cl, type = "HC1"), d, paste0(name, "_gcomp"))
}

# (d) IPTW ATT on every unit: glm propensity, ATT weights
d <- read.csv(file.path(dir, "iptw_att_data.csv"))
ps <- glm(as.formula(paste("treated ~", covs)), data = d, family = binomial,
          control = glm.control(epsilon = 1e-14, maxit = 100))
Z <- model.matrix(ps); y <- d$re78; t <- d$treated; n <- nrow(d)
e <- fitted(ps)
pbar <- mean(t)
w <- ifelse(t == 1, 1, e / (1 - e) * (1 - pbar) / pbar)  # leadeval's stabilised ATT weights
stopifnot(max(abs(w - d$weights)) < 1e-6)
d$w <- w
# robust alternative: survey::svyglm, weights treated as known
des <- svydesign(ids = ~1, weights = ~w, data = d)
sv <- svyglm(re78 ~ treated, design = des)
add("iptw_att_robust", "treated", coef(sv)[["treated"]], sqrt(vcov(sv)["treated", "treated"]))
mu1 <- weighted.mean(y[t == 1], w[t == 1]); mu0 <- weighted.mean(y[t == 0], w[t == 0])
Vsv <- vcov(sv)
add("iptw_att_robust", "mean_control", mu0, sqrt(Vsv[1, 1]))
# M-estimation: propensity score equations stacked with the weighted arm means; sandwich
# A^-1 B A^-T with numDeriv's Jacobian, B = n/(n-1) sum psi psi'
p <- ncol(Z)
psi <- function(th) {
  g <- th[1:p]; e <- plogis(drop(Z %*% g))
  w <- ifelse(t == 1, 1, e / (1 - e))
  cbind(Z * (t - e), t * w * (y - th[p + 1]), (1 - t) * w * (y - th[p + 2]))
}
sandwich_m <- function(psi, th) {
  A <- jacobian(function(x) colSums(psi(x)), th)
  P <- psi(th); B <- crossprod(P) * n / (n - 1)
  Ai <- solve(A); Ai %*% B %*% t(Ai)
}
th <- c(coef(ps), mu1, mu0)
print(colSums(psi(th))); stopifnot(max(abs(colSums(psi(th)))) < 1e-4)
V <- sandwich_m(psi, th)
k <- p + 1:2; Vm <- V[k, k]
add("iptw_att_mest", "mean_treated", mu1, sqrt(Vm[1, 1]))
add("iptw_att_mest", "mean_control", mu0, sqrt(Vm[2, 2]))
add("iptw_att_mest", "mean_difference", mu1 - mu0, sqrt(Vm[1, 1] + Vm[2, 2] - 2 * Vm[1, 2]))
# AIPW ATT: control outcome model fitted (unweighted) on the controls;
# mu0 = sum[t m0 + (1-t) e/(1-e) (y - m0)] / sum t
Xo <- model.matrix(as.formula(paste("~", covs)), d); q <- ncol(Xo)
b0 <- coef(lm(y ~ Xo - 1, subset = t == 0))
psi_aipw <- function(th) {
  g <- th[1:p]; b <- th[p + 1:q]; e <- plogis(drop(Z %*% g)); m0 <- drop(Xo %*% b)
  cbind(Z * (t - e), (1 - t) * Xo * (y - m0), t * (y - th[p + q + 1]),
        t * m0 + (1 - t) * e / (1 - e) * (y - m0) - t * th[p + q + 2])
}
m0 <- drop(Xo %*% b0)
a0 <- sum(t * m0 + (1 - t) * e / (1 - e) * (y - m0)) / sum(t)
th <- c(coef(ps), b0, mu1, a0)
stopifnot(max(abs(colSums(psi_aipw(th)))) < 1e-3)
V <- sandwich_m(psi_aipw, th)
k <- p + q + 1:2; Vm <- V[k, k]
add("iptw_att_aipw", "mean_control", a0, sqrt(Vm[2, 2]))
add("iptw_att_aipw", "mean_difference", mu1 - a0, sqrt(Vm[1, 1] + Vm[2, 2] - 2 * Vm[1, 2]))

res <- do.call(rbind, out)
write.csv(res, file.path(dir, "effects_reference.csv"), row.names = FALSE)
cat(sprintf("%s R %s; sandwich %s, survey %s, numDeriv %s\n", format(Sys.Date()),
            getRversion(), packageVersion("sandwich"), packageVersion("survey"),
            packageVersion("numDeriv")))
print(res, digits = 8)
