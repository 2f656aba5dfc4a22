# Reference values for leadeval's model options (issue 13, item 5), computed with R. Run here:
#   Rscript options_reference.R
# Writes the public data sets it uses (bladder.csv, bladder2.csv from survival; ohio.csv and
# respiratory.csv from geepack) and options_reference.json. Never run at test time.
suppressPackageStartupMessages({
  library(survival); library(geepack); library(MASS); library(sandwich); library(jsonlite)
})
out <- list()
out$versions <- list(R = R.version.string,
                     survival = as.character(packageVersion("survival")),
                     geepack = as.character(packageVersion("geepack")),
                     MASS = as.character(packageVersion("MASS")),
                     sandwich = as.character(packageVersion("sandwich")))
cox_out <- function(fit, call) {
  list(coef = unname(coef(fit)), names = names(coef(fit)), se = unname(sqrt(diag(fit$var))),
       naive_se = if (is.null(fit$naive.var)) NULL else unname(sqrt(diag(fit$naive.var))),
       loglik = fit$loglik, score = unname(fit$score), n = fit$n, nevent = fit$nevent,
       concordance = unname(fit$concordance["concordance"]),
       concordance_se = unname(fit$concordance["std"]), call = call)
}

# 1. Wei-Lin-Weissfeld marginal model and PWP stratified Cox on survival's bladder data
write.csv(bladder, "bladder.csv", row.names = FALSE)
write.csv(bladder2, "bladder2.csv", row.names = FALSE)
out$wlw <- cox_out(coxph(Surv(stop, event) ~ rx + number + size + strata(enum) + cluster(id),
                         data = bladder),
  "coxph(Surv(stop, event) ~ rx + number + size + strata(enum) + cluster(id), data = bladder)")
out$pwp <- cox_out(coxph(Surv(start, stop, event) ~ rx + number + size + strata(enum) + cluster(id),
                         data = bladder2),
  "coxph(Surv(start, stop, event) ~ rx + number + size + strata(enum) + cluster(id), data = bladder2)")
out$ag_bladder <- cox_out(coxph(Surv(start, stop, event) ~ rx + number + size + cluster(id),
                                data = bladder2),
  "coxph(Surv(start, stop, event) ~ rx + number + size + cluster(id), data = bladder2)")
rossi <- read.csv("rossi.csv")
out$cox_pair_strata <- cox_out(coxph(Surv(week, arrest) ~ fin + age + prio + strata(pair),
                                     data = rossi),
  "coxph(Surv(week, arrest) ~ fin + age + prio + strata(pair), data = rossi)")
out$cox_plain_small <- cox_out(coxph(Surv(week, arrest) ~ fin + age + prio, data = rossi),
  "coxph(Surv(week, arrest) ~ fin + age + prio, data = rossi)")

# 2. GEE: AR(1), exchangeable, independence; geepack's moment estimators
gee_out <- function(fit, call) {
  s <- summary(fit)$coefficients
  list(coef = unname(coef(fit)), names = names(coef(fit)), se = unname(s[, "Std.err"]),
       naive_se = unname(sqrt(diag(fit$geese$vbeta.naiv))),
       alpha = if (length(fit$geese$alpha)) unname(fit$geese$alpha) else NULL,
       scale = unname(fit$geese$gamma), call = call)
}
data(ohio)
write.csv(ohio, "ohio.csv", row.names = FALSE)
for (cs in c("ar1", "exchangeable", "independence")) {
  out[[paste0("gee_ohio_", cs)]] <- gee_out(
    geeglm(resp ~ age + smoke, id = id, data = ohio, family = binomial, corstr = cs),
    sprintf("geeglm(resp ~ age + smoke, id = id, data = ohio, family = binomial, corstr = '%s')", cs))
}
data(respiratory)
resp <- respiratory
resp$pid <- resp$center * 1000 + resp$id   # id is nested in center
resp <- resp[order(resp$pid, resp$visit), ]
write.csv(resp, "respiratory.csv", row.names = FALSE)
resp$center <- factor(resp$center); resp$treat <- factor(resp$treat)
out$gee_resp_ar1 <- gee_out(
  geeglm(outcome ~ treat + center + sex + age + baseline, id = pid, data = resp,
         family = binomial, corstr = "ar1"),
  "geeglm(outcome ~ factor(treat) + factor(center) + sex + age + baseline, id = center*1000 + id, data = respiratory, family = binomial, corstr = 'ar1')")
resp$w <- 0.5 + (resp$pid %% 4) / 3
out$gee_resp_ar1_w <- gee_out(
  geeglm(outcome ~ treat + center + sex + age + baseline, id = pid, data = resp, weights = w,
         family = binomial, corstr = "ar1"),
  "geeglm(outcome ~ treat + center + sex + age + baseline, id = pid, weights = 0.5 + (pid %% 4) / 3, data = respiratory, family = binomial, corstr = 'ar1')")
out$gee_resp_ar1_pois <- gee_out(
  geeglm(outcome ~ treat + age, id = pid, data = resp, family = poisson, corstr = "ar1"),
  "geeglm(outcome ~ treat + age, id = pid, data = respiratory, family = poisson, corstr = 'ar1')")

# 3. logistic: HC0 / HC3 sandwiches, profile-likelihood CIs (MASS), fit statistics
lg <- glm(arrest ~ fin + age + prio, data = rossi, family = binomial)
ci <- suppressMessages(confint(lg))
out$logistic_options <- list(
  coef = unname(coef(lg)), names = names(coef(lg)),
  se_hc0 = unname(sqrt(diag(vcovHC(lg, type = "HC0")))),
  se_hc3 = unname(sqrt(diag(vcovHC(lg, type = "HC3")))),
  se_hc1 = unname(sqrt(diag(vcovHC(lg, type = "HC1")))),
  profile_low = unname(ci[, 1]), profile_high = unname(ci[, 2]),
  loglik = as.numeric(logLik(lg)), deviance = deviance(lg), null_deviance = lg$null.deviance,
  aic = AIC(lg), bic = BIC(lg),
  call = "fit <- glm(arrest ~ fin + age + prio, data = rossi, family = binomial); sandwich::vcovHC(fit, type = 'HC0' | 'HC3' | 'HC1'); MASS confint(fit); logLik, deviance, AIC, BIC")
lgw <- suppressWarnings(glm(arrest ~ fin + age + prio, data = rossi, weights = w, family = binomial))
out$logistic_weighted_hc3 <- list(
  se_hc0 = unname(sqrt(diag(vcovHC(lgw, type = "HC0")))),
  se_hc3 = unname(sqrt(diag(vcovHC(lgw, type = "HC3")))),
  call = "glm(arrest ~ fin + age + prio, data = rossi, weights = w, family = binomial); vcovHC(fit, type = 'HC0' | 'HC3')")

# 4. Kaplan-Meier with log-log intervals
km_out <- function(fit, times, call) {
  s <- summary(fit, times = times, extend = TRUE)
  list(strata = as.character(s$strata), time = s$time, surv = s$surv, std_err = s$std.err,
       lower = s$lower, upper = s$upper, call = call)
}
wk <- c(5, 10, 20, 30, 40, 52)
out$km_loglog <- km_out(survfit(Surv(week, arrest) ~ fin, data = rossi, conf.type = "log-log"), wk,
  "summary(survfit(Surv(week, arrest) ~ fin, data = rossi, conf.type = 'log-log'), times = c(5,10,20,30,40,52))")
out$km_loglog_weighted <- km_out(survfit(Surv(week, arrest) ~ fin, data = rossi, weights = w,
                                         cluster = pair, conf.type = "log-log"), wk,
  "survfit(Surv(week, arrest) ~ fin, data = rossi, weights = w, cluster = pair, conf.type = 'log-log')")

# 5. count models: log-likelihood, AIC, BIC (glm.nb counts theta as a parameter)
cn <- read.csv("counts.csv")
po <- glm(y ~ treated + pre + offset(log(exposure / 365)), data = cn, family = poisson)
nb <- glm.nb(y ~ treated + pre + offset(log(exposure / 365)), data = cn)
out$count_stats <- list(
  poisson = list(loglik = as.numeric(logLik(po)), aic = AIC(po), bic = BIC(po)),
  negbin = list(loglik = as.numeric(logLik(nb)), aic = AIC(nb), bic = BIC(nb), theta = nb$theta),
  call = "glm(y ~ treated + pre + offset(log(exposure / 365)), data = counts, family = poisson) and MASS::glm.nb(same); logLik, AIC, BIC")

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null"),
           "options_reference.json")
