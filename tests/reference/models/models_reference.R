# Reference values for leadeval.models, computed with R. Run from this directory:
#   Rscript models_reference.R
# Reads the committed CSVs (written by make_data.py) and writes models_reference.json.
# Never run at test time: the JSON is committed next to this script.
suppressPackageStartupMessages({
  library(survival); library(geepack); library(MASS); library(sandwich); library(jsonlite)
})
out <- list()
out$versions <- list(R = R.version.string,
                     survival = as.character(packageVersion("survival")),
                     geepack = as.character(packageVersion("geepack")),
                     MASS = as.character(packageVersion("MASS")),
                     sandwich = as.character(packageVersion("sandwich")))
cox_out <- function(fit, zph = TRUE) {
  s <- summary(fit)
  r <- list(coef = unname(coef(fit)), names = names(coef(fit)),
            se = unname(sqrt(diag(fit$var))),
            loglik = fit$loglik, n = fit$n, nevent = fit$nevent,
            concordance = unname(fit$concordance["concordance"]))
  if (!is.null(fit$naive.var)) r$naive_se <- unname(sqrt(diag(fit$naive.var)))
  if (zph) {
    z <- cox.zph(fit, transform = "km")
    r$zph_chisq <- unname(z$table[, "chisq"]); r$zph_p <- unname(z$table[, "p"])
    r$zph_names <- rownames(z$table)
  }
  r
}
rossi <- read.csv("rossi.csv")
f <- Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio

# 1. Cox, Efron ties: plain; robust (each person own cluster); weighted + cluster(pair)
out$cox_plain <- cox_out(coxph(f, data = rossi, ties = "efron"))
out$cox_plain$call <- "coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi, ties = 'efron'); cox.zph(fit)"
out$cox_robust <- cox_out(coxph(f, data = rossi, ties = "efron", robust = TRUE), zph = FALSE)
out$cox_robust$call <- "coxph(..., ties = 'efron', robust = TRUE)"
out$cox_weighted_cluster <- cox_out(coxph(f, data = rossi, ties = "efron", weights = w, cluster = pair))
out$cox_weighted_cluster$call <- "coxph(..., ties = 'efron', weights = w, cluster = pair); cox.zph(fit)"
out$cox_breslow <- cox_out(coxph(f, data = rossi, ties = "breslow"), zph = FALSE)
out$cox_breslow$call <- "coxph(..., ties = 'breslow')"

# 2. Kaplan-Meier by fin, unweighted and weighted (robust = FALSE: weighted Greenwood), log CI
km_out <- function(fit, times) {
  s <- summary(fit, times = times, extend = TRUE)
  list(strata = as.character(s$strata), time = s$time, surv = s$surv, std_err = s$std.err,
       lower = s$lower, upper = s$upper, n_risk = s$n.risk)
}
wk <- c(5, 10, 20, 30, 40, 52)
out$km <- km_out(survfit(Surv(week, arrest) ~ fin, data = rossi, conf.type = "log"), wk)
out$km$call <- "summary(survfit(Surv(week, arrest) ~ fin, data = rossi, conf.type = 'log'), times = c(5,10,20,30,40,52))"
out$km_weighted <- km_out(survfit(Surv(week, arrest) ~ fin, data = rossi, weights = w,
                                  conf.type = "log", robust = FALSE), wk)
out$km_weighted$call <- "survfit(Surv(week, arrest) ~ fin, data = rossi, weights = w, conf.type = 'log', robust = FALSE)"
out$km_weighted_robust <- km_out(survfit(Surv(week, arrest) ~ fin, data = rossi, weights = w,
                                         conf.type = "log"), wk)
out$km_weighted_robust$call <- "survfit(Surv(week, arrest) ~ fin, data = rossi, weights = w, conf.type = 'log')  # default robust (IJ) variance"
out$km_weighted_cluster <- km_out(survfit(Surv(week, arrest) ~ fin, data = rossi, weights = w,
                                          cluster = pair, conf.type = "log"), wk)
out$km_weighted_cluster$call <- "survfit(Surv(week, arrest) ~ fin, data = rossi, weights = w, cluster = pair, conf.type = 'log')"
# medians on survival::lung (public NCCTG lung cancer data), exported for the tests
lung <- survival::lung[, c("time", "status", "sex")]
lung$status <- as.integer(lung$status == 2)
write.csv(lung, "lung.csv", row.names = FALSE)
lf <- survfit(Surv(time, status) ~ sex, data = lung, conf.type = "log")
out$km_lung <- c(km_out(lf, c(100, 200, 365, 500)),
                 list(median = unname(summary(lf)$table[, "median"]),
                      median_lower = unname(summary(lf)$table[, "0.95LCL"]),
                      median_upper = unname(summary(lf)$table[, "0.95UCL"]),
                      call = "survfit(Surv(time, status) ~ sex, data = lung)"))

# 3. log-rank: survdiff; weighted log-rank as the Cox score test with Breslow ties
sd <- survdiff(Surv(week, arrest) ~ fin, data = rossi)
out$logrank <- list(chisq = sd$chisq, obs = unname(sd$obs), exp = unname(sd$exp),
                    call = "survdiff(Surv(week, arrest) ~ fin, data = rossi)")
cw <- coxph(Surv(week, arrest) ~ fin, data = rossi, weights = w, ties = "breslow")
out$logrank_weighted <- list(score = unname(cw$score),
                             call = "coxph(Surv(week, arrest) ~ fin, data = rossi, weights = w, ties = 'breslow')$score")
sd3 <- survdiff(Surv(time, status) ~ sex, data = lung)
out$logrank_lung <- list(chisq = sd3$chisq)

# 4. Andersen-Gill recurrent events with robust SE by person
rec <- read.csv("recurrent.csv")
ag <- coxph(Surv(start, stop, event) ~ treated + age, data = rec, ties = "efron", cluster = id)
out$andersen_gill <- cox_out(ag, zph = FALSE)
out$andersen_gill$call <- "coxph(Surv(start, stop, event) ~ treated + age, data = recurrent, ties = 'efron', cluster = id)"

# 5. weighted logistic with cluster-robust SE (sandwich::vcovCL, HC1 = CR1: G/(G-1) * (n-1)/(n-k))
lg <- suppressWarnings(glm(arrest ~ fin + age + prio, data = rossi, weights = w, family = binomial))
out$logistic_weighted <- list(
  coef = unname(coef(lg)), names = names(coef(lg)),
  se_model = unname(sqrt(diag(vcov(lg)))),
  se_cl_hc1 = unname(sqrt(diag(vcovCL(lg, cluster = ~pair, type = "HC1")))),
  se_cl_hc0 = unname(sqrt(diag(vcovCL(lg, cluster = ~pair, type = "HC0")))),
  call = "glm(arrest ~ fin + age + prio, data = rossi, weights = w, family = binomial); sandwich::vcovCL(fit, cluster = ~pair, type = 'HC1' | 'HC0')")
lg0 <- glm(arrest ~ fin + age + prio, data = rossi, family = binomial)
out$logistic <- list(coef = unname(coef(lg0)), se = unname(sqrt(diag(vcov(lg0)))),
                     call = "glm(arrest ~ fin + age + prio, data = rossi, family = binomial)")

# 6. GEE pre/post (Seattle design), geepack
pp <- read.csv("prepost.csv")
pp <- pp[order(pp$id, pp$post), ]
gee_out <- function(fit) {
  s <- summary(fit)$coefficients
  list(coef = unname(coef(fit)), names = names(coef(fit)), se = unname(s[, "Std.err"]),
       alpha = if (!is.null(fit$geese$alpha)) unname(fit$geese$alpha) else NULL)
}
out$gee_exch <- gee_out(geeglm(y ~ treated * post, id = id, data = pp, weights = w,
                               family = binomial, corstr = "exchangeable"))
out$gee_exch$call <- "geeglm(y ~ treated * post, id = id, data = prepost, weights = w, family = binomial, corstr = 'exchangeable')"
out$gee_indep <- gee_out(geeglm(y ~ treated * post, id = id, data = pp, weights = w,
                                family = binomial, corstr = "independence"))
out$gee_indep$call <- "geeglm(..., corstr = 'independence')"
out$gee_exch_unw <- gee_out(geeglm(y ~ treated * post + age, id = id, data = pp,
                                   family = binomial, corstr = "exchangeable"))
out$gee_exch_unw$call <- "geeglm(y ~ treated * post + age, id = id, data = prepost, family = binomial, corstr = 'exchangeable')"
out$gee_exch_w_age <- gee_out(geeglm(y ~ treated * post + age, id = id, data = pp, weights = w,
                                     family = binomial, corstr = "exchangeable"))
out$gee_exch_w_age$call <- "geeglm(y ~ treated * post + age, id = id, data = prepost, weights = w, family = binomial, corstr = 'exchangeable')"
out$gee_indep_w_age <- gee_out(geeglm(y ~ treated * post + age, id = id, data = pp, weights = w,
                                      family = binomial, corstr = "independence"))
out$gee_indep_w_age$call <- "geeglm(y ~ treated * post + age, id = id, data = prepost, weights = w, family = binomial, corstr = 'independence')"

# 7. counts with log exposure offset
cn <- read.csv("counts.csv")
po <- glm(y ~ treated + pre + offset(log(exposure / 365)), data = cn, family = poisson)
out$poisson <- list(coef = unname(coef(po)), se = unname(sqrt(diag(vcov(po)))),
                    se_hc0 = unname(sqrt(diag(sandwich::vcovHC(po, type = "HC0")))),
                    call = "glm(y ~ treated + pre + offset(log(exposure / 365)), data = counts, family = poisson)")
nb <- glm.nb(y ~ treated + pre + offset(log(exposure / 365)), data = cn)
out$negbin <- list(coef = unname(coef(nb)), se = unname(sqrt(diag(vcov(nb)))), theta = nb$theta,
                   se_theta = nb$SE.theta,
                   call = "MASS::glm.nb(y ~ treated + pre + offset(log(exposure / 365)), data = counts)")

# 8. Aalen-Johansen cumulative incidence (multi-state survfit)
cr <- read.csv("compete.csv")
cr$ev <- factor(cr$event, 0:3, c("censor", "arrest", "prison", "death"))
aj <- survfit(Surv(time, ev) ~ treated, data = cr)
sa <- summary(aj, times = c(90, 182, 365, 600), extend = TRUE)
out$aalen_johansen <- list(strata = as.character(sa$strata), time = sa$time,
                           pstate = unname(sa$pstate), std_err = unname(sa$std.err),
                           states = aj$states,
                           call = "survfit(Surv(time, factor(event, 0:3, c('censor','arrest','prison','death'))) ~ treated, data = compete)")
cr$w <- 0.5 + ((seq_len(nrow(cr)) - 1) %% 5) / 4   # deterministic weights 0.5..1.5
cr$pair <- (seq_len(nrow(cr)) - 1) %/% 2 + 1
ajw <- survfit(Surv(time, ev) ~ treated, data = cr, weights = w)
tt <- c(90, 182, 365, 600)
saw <- summary(ajw, times = tt, extend = TRUE)
# survfit's multi-state IJ variance ignores `cluster =` here (survival 3.5.3 gives the
# unclustered SE), so the pair-clustered SE is built from its IJ residuals: resid() returns the
# unweighted influence of each row on its own stratum's curve (n x times x states); multiply by
# w, sum within pair and stratum, square, add.
ij <- resid(ajw, times = tt, type = "pstate")
se_cl <- sapply(0:1, function(s) {
  rows <- cr$treated == s
  sapply(seq_along(tt), function(j) sqrt(colSums(rowsum(cr$w[rows] * ij[rows, j, ], cr$pair[rows])^2)))
}, simplify = "array")   # states x times x strata
out$aalen_johansen_weighted <- list(
  pstate = unname(saw$pstate), std_err = unname(saw$std.err),
  std_err_pair = unname(rbind(t(se_cl[, , 1]), t(se_cl[, , 2]))),
  call = "compete$w <- 0.5 + ((row - 1) %% 5) / 4; compete$pair <- (row - 1) %/% 2 + 1; fit <- survfit(Surv(time, ev) ~ treated, data = compete, weights = w); std_err_pair from resid(fit, times, type = 'pstate') * w summed by pair within stratum")

# 9. Firth logistic reference: maximise l(b) + 0.5 log|I(b)| directly with optim (BFGS), a
# different algorithm from the package's Newton steps (logistf is not installable here).
firth_ll <- function(b, X, y) {
  eta <- X %*% b; p <- plogis(eta)
  I <- crossprod(X * as.vector(p * (1 - p)), X)
  sum(y * eta - log1p(exp(eta))) + 0.5 * determinant(I, logarithm = TRUE)$modulus
}
sep <- data.frame(x = c(0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 3), z = c(1.2, -0.3, 0.5, 0.1, -1, 0.4, 2, -0.7, 0.3, 1.1, -0.2, 0.6),
                  y = c(0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1))
X <- cbind(1, sep$x, sep$z)
op <- optim(c(0, 0, 0), firth_ll, X = X, y = sep$y, method = "BFGS",
            control = list(fnscale = -1, reltol = 1e-14, maxit = 10000))
write.csv(sep, "firth_separated.csv", row.names = FALSE)
# profile penalised-likelihood CIs and LR p-values (logistf's defaults), by optim + uniroot
prof <- function(j, bj) {
  f <- function(b) { full <- numeric(3); full[j] <- bj; full[-j] <- b; firth_ll(full, X, sep$y) }
  optim(op$par[-j], f, method = "BFGS", control = list(fnscale = -1, reltol = 1e-14, maxit = 10000))$value
}
crit <- qchisq(0.95, 1)
dev <- function(j) function(bj) 2 * (op$value - prof(j, bj)) - crit
firth_ci <- t(sapply(1:3, function(j) {
  c(uniroot(dev(j), c(op$par[j] - 20, op$par[j]), tol = 1e-10)$root,
    uniroot(dev(j), c(op$par[j], op$par[j] + 20), tol = 1e-10)$root)
}))
firth_p <- sapply(1:3, function(j) pchisq(2 * (op$value - prof(j, 0)), 1, lower.tail = FALSE))
out$firth <- list(coef = op$par, loglik_pen = op$value, ci_low = firth_ci[, 1],
                  ci_high = firth_ci[, 2], p_value = firth_p,
                  call = "optim(c(0,0,0), firth penalised loglik, method='BFGS') on firth_separated.csv, y ~ x + z; profile CIs by optim over the other coefficients + uniroot; LR p-values")

# Firth via brglm2 (Kosmidis & Firth 2021): type = "AS_mean" is Firth's (1993) bias-reduced
# logistic regression, i.e. the Jeffreys-prior penalised likelihood for the canonical link.
suppressPackageStartupMessages(library(brglm2))
out$versions$brglm2 <- as.character(packageVersion("brglm2"))
bf <- glm(y ~ x + z, data = sep, family = binomial, method = "brglmFit", type = "AS_mean",
          epsilon = 1e-12, maxit = 500)
out$firth_brglm2 <- list(coef = unname(coef(bf)), se = unname(sqrt(diag(vcov(bf)))),
                         call = "glm(y ~ x + z, data = firth_separated, family = binomial, method = 'brglmFit', type = 'AS_mean')")
sep$w <- c(1, 2, 0.5, 1.5, 1, 1, 2, 0.7, 1.2, 1, 0.8, 1.3)
bfw <- glm(y ~ x + z, data = sep, weights = w, family = binomial, method = "brglmFit",
           type = "AS_mean", epsilon = 1e-12, maxit = 500)
out$firth_brglm2_weighted <- list(coef = unname(coef(bfw)), se = unname(sqrt(diag(vcov(bfw)))), w = sep$w,
                                  call = "glm(y ~ x + z, data = firth_separated, weights = w, family = binomial, method = 'brglmFit', type = 'AS_mean')")
# Rossi arrest ~ fin + age + prio by Firth (not separated: Firth shrinks slightly towards 0)
bfr <- glm(arrest ~ fin + age + prio, data = rossi, family = binomial, method = "brglmFit",
           type = "AS_mean", epsilon = 1e-12, maxit = 500)
out$firth_rossi <- list(coef = unname(coef(bfr)), se = unname(sqrt(diag(vcov(bfr)))),
                        call = "glm(arrest ~ fin + age + prio, data = rossi, family = binomial, method = 'brglmFit', type = 'AS_mean')")

# 10. person-month panel: within-person rate ratio (Poisson with person fixed effects; the
# conditional Poisson gives the same slopes) and the repeated-measures logistic GEE
pn <- read.csv("panel.csv")
pw <- pn[pn$month_offset != 0, ]
pw <- pw[ave(pw$arrests, pw$person_id, FUN = sum) > 0, ]  # persons without events carry no information
pw$post <- as.integer(pw$month_offset > 0)
fe <- glm(arrests ~ post + cumulative_contacts + factor(person_id) + offset(log(days_observed / 365)),
          data = pw, family = poisson)
out$within_person <- list(
  coef = unname(coef(fe)[2:3]), se = unname(sqrt(diag(vcov(fe)))[2:3]),
  se_cl_hc0 = unname(sqrt(diag(vcovCL(fe, cluster = ~person_id, type = "HC0")))[2:3]),
  n = nrow(pw),
  call = "glm(arrests ~ post + cumulative_contacts + factor(person_id) + offset(log(days_observed/365)), family = poisson, data = panel[month_offset != 0, ] restricted to persons with events there); vcovCL(fit, cluster = ~person_id, type = 'HC0') (G/(G-1) only)")
pg <- pn[pn$month_offset >= -1 & pn$month_offset <= 18, ]
pg$month <- relevel(factor(pg$month_offset), ref = "-1")
pg <- pg[order(pg$person_id, pg$month_offset), ]
gp <- geeglm(sheltered ~ month + contacts, id = person_id, data = pg, family = binomial,
             corstr = "exchangeable")
out$panel_gee <- c(gee_out(gp), list(call = "geeglm(sheltered ~ relevel(factor(month_offset), '-1') + contacts, id = person_id, data = panel[-1 <= month_offset <= 18, ], family = binomial, corstr = 'exchangeable')"))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null"),
           "models_reference.json")
