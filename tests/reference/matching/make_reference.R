# Reference outputs for leadeval.matching, made with R's MatchIt on the Lalonde data it ships.
#
# Run from this directory:  Rscript make_reference.R
# Never run at test time; the tests read the CSV/JSON files this script writes.
#
# Known trap: Debian's MatchIt 4.5.1 has two bugs in its C++ nearest-neighbour routine
# nn_matchC_vec (src/nn_matchC_vec.cpp): `abs()` on a double distance difference resolves to the
# integer abs, so every difference below 1 truncates to 0; hence (a) the caliper test
# `abs(d_i - d_k) > caliper` never fires (calipers ignored, MatchIt issue #163, fixed in 4.5.4) and
# (b) when both the nearest available control on the left and on the right are within 1 of the
# treated unit the left one (smaller distance) is always taken, even when the right one is closer.
# Also, with replacement and ratio > 1 the "already matched to this treated unit" check compares a
# 0-based index with 1-based ones (fixed in MatchIt's development NEWS).
#
# So the reference pairs are made by `greedy_nn()` below, an explicit transcription of that routine
# with a correct absolute value: units sorted by distance with sort.list (ties in data order);
# rounds r = 1..ratio; in each round the treated units in `m.order`; each takes the nearest still
# available control to its left or right in the sorted order (the left one on an exact tie in
# |difference|); with a caliper the search stops at the first available control outside it; a
# control is unavailable once used `reuse.max` times (1 without replacement, n1 with replacement)
# or if it is already matched to the same treated unit in an earlier round. The caliper width is
# caliper * sd(distance[!discarded]) (MatchIt's process.caliper, std.caliper = TRUE).
# The transcription is checked, not trusted: with `emulate_451 = TRUE` (integer abs and the
# off-by-one check) it must reproduce matchit()'s match matrix from MatchIt 4.5.1 exactly for
# every case below, with and without caliper, or the script stops.
# Weights for every case come from MatchIt's own weights.matrix(); balance statistics from
# MatchIt's own bal1var() (the function summary.matchit() calls), checked against summary().

suppressPackageStartupMessages(library(MatchIt))
library(jsonlite)
data("lalonde", package = "MatchIt")
d <- lalonde
n <- nrow(d)
# person_id sorts in data order, so MatchIt's tie-breaking (data order) equals ours (person_id).
d$person_id <- sprintf("P%04d", seq_len(n))
d$name <- rownames(lalonde)
rownames(d) <- d$person_id
write.csv(d[c("person_id", "name", "treat", "age", "educ", "race", "married", "nodegree",
              "re74", "re75", "re78")], "lalonde.csv", row.names = FALSE)

f <- treat ~ age + educ + race + married + nodegree + re74 + re75
X <- MatchIt:::get.covs.matrix(f, data = d)
treat <- setNames(d$treat, d$person_id)

greedy_nn <- function(distance, treat, ratio = 1, replace = FALSE, caliper = NULL,
                      m.order = "largest", discarded = rep(FALSE, length(treat)),
                      emulate_451 = FALSE) {
  absfun <- if (emulate_451) function(x) trunc(abs(x)) else abs
  n1 <- sum(treat == 1)
  reuse.max <- if (replace) n1 else 1L
  if (reuse.max >= n1) m.order <- "data"  # as matchit2nearest does
  lab1 <- names(treat)[treat == 1]
  ord <- switch(m.order,
                largest = order(distance[treat == 1], decreasing = TRUE),
                smallest = order(distance[treat == 1], decreasing = FALSE),
                data = seq_len(n1))
  d_ord <- sort.list(distance, decreasing = FALSE)
  dist_s <- distance[d_ord]; treat_s <- treat[d_ord]; disc_s <- discarded[d_ord]
  pos_of <- integer(length(treat)); pos_of[d_ord] <- seq_along(d_ord)
  idx1 <- which(treat == 1)
  times <- integer(length(treat))
  can <- !disc_s & treat_s != 1
  mm <- matrix(NA_integer_, n1, ratio, dimnames = list(lab1, NULL))
  for (r in seq_len(ratio)) {
    for (i in ord) {
      ii <- pos_of[idx1[i]]
      if (disc_s[ii]) next
      if (!any(can)) break
      cand <- function(k, step) {
        while (k >= 1 && k <= length(treat_s)) {
          seen <- if (emulate_451) (d_ord[k] - 1L) %in% mm[i, ] else d_ord[k] %in% mm[i, ]
          if (treat_s[k] == 1 || (r > 1 && seen) || !can[k]) { k <- k + step; next }
          if (!is.null(caliper) && absfun(dist_s[ii] - dist_s[k]) > caliper) return(NA)
          return(k)
        }
        NA
      }
      kl <- cand(ii - 1, -1); kr <- cand(ii + 1, 1)
      if (is.na(kl) && is.na(kr)) next
      k <- if (is.na(kr)) kl else if (is.na(kl)) kr else
        if (absfun(dist_s[kl] - dist_s[ii]) <= absfun(dist_s[kr] - dist_s[ii])) kl else kr
      mm[i, r] <- d_ord[k]
      times[k] <- times[k] + 1L
      if (times[k] >= reuse.max) can[k] <- FALSE
    }
  }
  mm
}

pairs_frame <- function(mm) {
  out <- do.call(rbind, lapply(seq_len(ncol(mm)), function(r) {
    ok <- !is.na(mm[, r])
    data.frame(treated_id = rownames(mm)[ok], control_id = names(treat)[mm[ok, r]], round = r)
  }))
  out[order(out$treated_id, out$round), ]
}

balance_frame <- function(w, estimand, distance) {
  s.d.denom <- switch(estimand, ATT = "treated", ATE = "pooled")
  Xd <- cbind(distance = distance, X)
  rows <- lapply(colnames(Xd), function(v) {
    a <- MatchIt:::bal1var(Xd[, v], tt = d$treat, ww = NULL, s.weights = rep(1, n),
                           standardize = TRUE, s.d.denom = s.d.denom)
    m <- MatchIt:::bal1var(Xd[, v], tt = d$treat, ww = w, s.weights = rep(1, n),
                           standardize = TRUE, s.d.denom = s.d.denom, compute.pair.dist = FALSE)
    data.frame(variable = v,
               mean_treated_before = a[[1]], mean_control_before = a[[2]],
               smd_before = a[[3]], var_ratio_before = a[[4]],
               ecdf_mean_before = a[[5]], ecdf_max_before = a[[6]],
               mean_treated_after = m[[1]], mean_control_after = m[[2]],
               smd_after = m[[3]], var_ratio_after = m[[4]],
               ecdf_mean_after = m[[5]], ecdf_max_after = m[[6]])
  })
  do.call(rbind, rows)
}

write_case <- function(name, call_text, w, mm = NULL, subclass = NULL, estimand = "ATT",
                       distance, extra = list()) {
  if (!is.null(mm)) write.csv(pairs_frame(mm), sprintf("%s_pairs.csv", name), row.names = FALSE)
  wf <- data.frame(person_id = names(treat), weights = unname(w))
  if (!is.null(subclass)) wf$subclass <- as.character(subclass)
  write.csv(wf, sprintf("%s_weights.csv", name), row.names = FALSE)
  bal <- balance_frame(w, estimand, distance)
  write.csv(bal, sprintf("%s_balance.csv", name), row.names = FALSE)
  ess <- function(x) sum(x)^2 / sum(x^2)
  c(list(call = call_text, estimand = estimand,
         n_treated_matched = sum(w[treat == 1] > 0), n_control_matched = sum(w[treat == 0] > 0),
         sum_weights_treated = sum(w[treat == 1]), sum_weights_control = sum(w[treat == 0]),
         ess_treated = ess(w[treat == 1]), ess_control = ess(w[treat == 0])), extra)
}

check_summary <- function(m, bal) {
  s <- summary(m, standardize = TRUE)
  for (v in rownames(s$sum.matched)) {
    b <- bal[bal$variable == v, ]
    stopifnot(isTRUE(all.equal(unname(s$sum.all[v, 1:6]),
                               unname(unlist(b[, 2:7])), tolerance = 1e-12)))
    stopifnot(isTRUE(all.equal(unname(s$sum.matched[v, 1:6]),
                               unname(unlist(b[, 8:13])), tolerance = 1e-12)))
  }
}

cases <- list()

# --- propensity model shared by all cases --------------------------------------------------
m_base <- matchit(f, data = d, method = NULL, distance = "glm", link = "linear.logit")
ps_fit <- glm(f, data = d, family = binomial())
ps <- unname(fitted(ps_fit)); lp <- unname(predict(ps_fit, type = "link"))
stopifnot(isTRUE(all.equal(unname(m_base$distance), lp)))
write.csv(data.frame(term = names(coef(ps_fit)), estimate = unname(coef(ps_fit)),
                     std_error = unname(sqrt(diag(vcov(ps_fit))))),
          "ps_coefficients.csv", row.names = FALSE)
# full precision (17 significant digits) so that tests can match on R's own distance
write.csv(data.frame(person_id = names(treat), ps = sprintf("%.17g", ps), logit = sprintf("%.17g", lp)),
          "distance.csv", row.names = FALSE, quote = FALSE)

nn_cases <- list(
  nn1_logit = list(dist = lp, args = list(link = "linear.logit")),
  nn1_ps = list(dist = ps, args = list()),
  nn2_logit = list(dist = lp, args = list(link = "linear.logit", ratio = 2)),
  nn1_replace_logit = list(dist = lp, args = list(link = "linear.logit", replace = TRUE)),
  nn2_replace_logit = list(dist = lp, args = list(link = "linear.logit", replace = TRUE, ratio = 2)),
  nn1_smallest_logit = list(dist = lp, args = list(link = "linear.logit", m.order = "smallest")),
  nn1_discard_both_logit = list(dist = lp, args = list(link = "linear.logit", discard = "both")),
  nn1_caliper02_logit = list(dist = lp, args = list(link = "linear.logit", caliper = 0.2)),
  nn1_caliper01_ps = list(dist = ps, args = list(caliper = 0.1)),
  nn2_caliper02_logit = list(dist = lp, args = list(link = "linear.logit", caliper = 0.2, ratio = 2)),
  nn1_caliper02_replace_logit = list(dist = lp, args = list(link = "linear.logit", caliper = 0.2,
                                                            replace = TRUE))
)
for (nm in names(nn_cases)) {
  cs <- nn_cases[[nm]]
  a <- cs$args
  m <- suppressWarnings(do.call(matchit, c(list(formula = f, data = d, method = "nearest",
                                                distance = "glm"), a)))
  stopifnot(isTRUE(all.equal(unname(m$distance), cs$dist)))
  width <- if (is.null(a$caliper)) NULL else a$caliper * sd(cs$dist[!m$discarded])
  run <- function(emulate) {
    mm <- greedy_nn(cs$dist, treat, ratio = if (is.null(a$ratio)) 1 else a$ratio,
                    replace = isTRUE(a$replace), caliper = width,
                    m.order = if (is.null(a$m.order)) "largest" else a$m.order,
                    discarded = m$discarded, emulate_451 = emulate)
    rownames(mm) <- names(treat)[treat == 1]
    mm
  }
  mm_r <- MatchIt:::charmm2nummm(m$match.matrix, treat)
  stopifnot(identical(unname(mm_r), unname(run(TRUE))))
  # MatchIt's bal1var path reproduces summary.matchit() (on 4.5.1's own match)
  tmp <- balance_frame(m$weights, "ATT", cs$dist)
  check_summary(m, tmp)
  mm <- run(FALSE)
  w <- MatchIt:::weights.matrix(mm, treat)
  sub <- if (!isTRUE(a$replace)) MatchIt:::mm2subclass(mm, treat)
  args_text <- paste(names(a), vapply(a, deparse, ""), sep = " = ", collapse = ", ")
  call_text <- sprintf(paste0("matchit(treat ~ age + educ + race + married + nodegree + re74 + re75, ",
                              "data = lalonde, method = 'nearest', distance = 'glm'%s) semantics of ",
                              "MatchIt >= 4.5.4, computed by greedy_nn() (see header)"),
                       if (nzchar(args_text)) paste0(", ", args_text) else "")
  n_diff <- sum(rowSums(mm != mm_r | is.na(mm) != is.na(mm_r), na.rm = TRUE) > 0)
  cases[[nm]] <- write_case(nm, call_text, w, mm = mm, subclass = sub, distance = cs$dist,
                            extra = list(caliper_width = width,
                                         n_discarded = sum(m$discarded),
                                         discarded = names(treat)[m$discarded],
                                         unmatched_treated = rownames(mm)[is.na(mm[, 1]) & !m$discarded[treat == 1]],
                                         treated_rows_differing_from_matchit_451 = n_diff))
}

# --- exact and CEM (MatchIt) -----------------------------------------------------------------
m <- matchit(treat ~ race + married + nodegree, data = d, method = "exact")
cases$exact_race_married_nodegree <- write_case(
  "exact_race_married_nodegree", paste(deparse(m$call), collapse = " "), m$weights,
  subclass = m$subclass, distance = lp)
m <- matchit(treat ~ race + married + nodegree, data = d, method = "exact", estimand = "ATE")
cases$exact_ate <- write_case("exact_ate", paste(deparse(m$call), collapse = " "), m$weights,
                              subclass = m$subclass, estimand = "ATE", distance = lp)
m <- matchit(treat ~ age + educ + race + married + nodegree + re74 + re75, data = d, method = "cem",
             cutpoints = list(age = c(20, 25, 30, 35), educ = c(9, 12), re74 = c(0.5, 5000),
                              re75 = c(0.5, 5000)))
cases$cem_cutpoints <- write_case("cem_cutpoints", paste(deparse(m$call), collapse = " "),
                                  m$weights, subclass = m$subclass, distance = lp)
m <- matchit(treat ~ age + educ + race + married + nodegree + re74 + re75, data = d, method = "cem")
cases$cem_sturges <- write_case("cem_sturges", paste(deparse(m$call), collapse = " "),
                                m$weights, subclass = m$subclass, distance = lp)

# --- IPTW from the same glm (plain formulas; balance from MatchIt's bal1var) ------------------
w_att <- ifelse(d$treat == 1, 1, ps / (1 - ps))
w_ate <- ifelse(d$treat == 1, 1 / ps, 1 / (1 - ps))
cases$iptw_att <- write_case("iptw_att", "w = ifelse(treat == 1, 1, ps / (1 - ps)); ps = fitted(glm(f, binomial))",
                             setNames(w_att, names(treat)), distance = lp)
cases$iptw_ate <- write_case("iptw_ate", "w = ifelse(treat == 1, 1 / ps, 1 / (1 - ps)); ps = fitted(glm(f, binomial))",
                             setNames(w_ate, names(treat)), estimand = "ATE", distance = lp)

meta <- list(
  r_version = R.version.string,
  matchit_version = as.character(packageVersion("MatchIt")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  made_by = "Rscript make_reference.R (in tests/reference/matching)",
  formula = deparse(f),
  note = paste("Nearest-neighbour pairs come from greedy_nn(), MatchIt's nn_matchC_vec with the",
               "4.5.1 integer-abs and off-by-one bugs fixed; with emulate_451 = TRUE it reproduces",
               "matchit() 4.5.1 exactly on every case. See the header of make_reference.R."),
  cases = cases)
write_json(meta, "cases.json", auto_unbox = TRUE, pretty = TRUE, digits = NA)
cat("done\n")
