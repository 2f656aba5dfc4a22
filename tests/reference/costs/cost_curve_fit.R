# Reference for leadeval.costs.program: OLS of monthly spending on enrolled participant-months
# (S = F + v n) and the projected cost per participant-month at larger enrolments, with the
# confidence interval of the mean and the prediction interval, divided by n.
# Run: Rscript tests/reference/costs/cost_curve_fit.R   (writes cost_curve_*.csv next to it)
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
n <- c(12, 18, 25, 31, 40, 44, 52, 60, 71, 75, 83, 90, 104, 110, 121, 130)
spending <- c(24100, 25900, 27150, 29800, 31020, 33990, 34400, 37100,
              39950, 40210, 43500, 44020, 48700, 49100, 53900, 55020)
write.csv(data.frame(enrolled = n, spending = spending), file.path(here, "cost_curve_data.csv"),
          row.names = FALSE)
fit <- lm(spending ~ n)
co <- summary(fit)$coefficients
ci <- confint(fit, level = 0.95)
write.csv(data.frame(term = c("fixed_per_month", "variable_per_participant_month"),
                     estimate = co[, 1], std_error = co[, 2], conf_low = ci[, 1],
                     conf_high = ci[, 2], p_value = co[, 4]),
          file.path(here, "cost_curve_fit.csv"), row.names = FALSE)
new <- data.frame(n = c(150, 300, 600))
pc <- predict(fit, new, interval = "confidence", level = 0.95)
pp <- predict(fit, new, interval = "prediction", level = 0.95)
write.csv(data.frame(enrolment = new$n, estimate = pc[, "fit"] / new$n,
                     conf_low = pc[, "lwr"] / new$n, conf_high = pc[, "upr"] / new$n,
                     pred_low = pp[, "lwr"] / new$n, pred_high = pp[, "upr"] / new$n),
          file.path(here, "cost_curve_projection.csv"), row.names = FALSE)
