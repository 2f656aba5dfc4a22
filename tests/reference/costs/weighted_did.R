# Reference for leadeval.costs.savings: weighted pre/post means by group and the DiD savings
# (comparison change minus LEAD change), per person over the window and per person-year (ratio of
# weighted sums), computed with base R (weighted.mean, sum) on a fixed matched sample.
# Run: Rscript tests/reference/costs/weighted_did.R   (writes weighted_did_*.csv next to it)
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
set.seed(20240101)
n_pairs <- 40
d <- data.frame(
  person_id = sprintf("p%03d", seq_len(2 * n_pairs)),
  treated = rep(c(1, 0), n_pairs),
  subclass = rep(seq_len(n_pairs), each = 2),
  weights = round(runif(2 * n_pairs, 0.5, 2), 3),
  followup_days = sample(120:900, 2 * n_pairs, replace = TRUE),
  bookings_pre_365d = rpois(2 * n_pairs, 2),
  bookings_post_365d = rpois(2 * n_pairs, 1.5),
  jail_days_pre_365d = rpois(2 * n_pairs, 15),
  jail_days_post_365d = rpois(2 * n_pairs, 11)
)
write.csv(d, file.path(here, "weighted_did_data.csv"), row.names = FALSE)
price <- c(bookings = 450, jail_days = 130)
cost <- function(period) price["bookings"] * d[[paste0("bookings_", period, "_365d")]] +
  price["jail_days"] * d[[paste0("jail_days_", period, "_365d")]]
years_pre <- rep(365 / 365.25, nrow(d))
years_post <- pmin(365, d$followup_days) / 365.25
out <- NULL
for (scale in c("window", "year")) {
  m <- matrix(NA, 2, 2, dimnames = list(c("comparison", "lead"), c("pre", "post")))
  for (g in 0:1) {
    s <- d$treated == g
    w <- d$weights[s]
    if (scale == "window") {
      m[g + 1, "pre"] <- weighted.mean(cost("pre")[s], w)
      m[g + 1, "post"] <- weighted.mean(cost("post")[s], w)
    } else {
      m[g + 1, "pre"] <- sum(w * cost("pre")[s]) / sum(w * years_pre[s])
      m[g + 1, "post"] <- sum(w * cost("post")[s]) / sum(w * years_post[s])
    }
  }
  chg <- m[, "post"] - m[, "pre"]
  out <- rbind(out, data.frame(
    scale = scale,
    term = c("pre_lead", "post_lead", "change_lead", "pre_comparison", "post_comparison",
             "change_comparison", "savings"),
    estimate = c(m["lead", "pre"], m["lead", "post"], chg["lead"], m["comparison", "pre"],
                 m["comparison", "post"], chg["comparison"], chg["comparison"] - chg["lead"])))
}
write.csv(out, file.path(here, "weighted_did_estimates.csv"), row.names = FALSE)
