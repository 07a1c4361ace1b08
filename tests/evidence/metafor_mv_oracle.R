# metafor's rma.mv and rma.glmm as the oracle of vertebro.evidence's RMAMV and RMAGLMM (issue 10,
# point 3). Run by test_metafor_mv.py:
#
#   Rscript metafor_mv_oracle.R MV.csv GLMM.csv OUT.csv
#
# MV.csv (long; id, study, est, yi, vi, x, mods): one multilevel dataset per id, fitted as
# rma.mv(yi, vi, random = ~ 1 | study/est) by REML and ML, tests z and t (and with x as a
# moderator where mods = 1). GLMM.csv (id, xi, ni): one set of proportions per id, fitted as
# rma.glmm(measure = "PLO") by ML (lme4::glmer, nAGQ = 7) and EE. The classics
# (dat.konstantopoulos2011; dat.pritz1997, the treatment arm of dat.nielweise2007) are added here
# and their raw data written out ("raw.*" keys), so that the test fits the same numbers.
# OUT.csv rows: id, key, idx, value ("%.17g"; NA where metafor has none; "FAIL" when no fit).
#
# rma.mv optimises log(sigma2), so a component whose maximum is at 0 only approaches it (and
# nlminb then often reports non-convergence): every fit is also run with each component, and
# both, fixed at 0, with three optimisers, and the highest (restricted) likelihood is kept. glmer is run with bobyqa's final trust
# radius at 1e-10 (its default stops about 1e-5 short of the maximum).
# Needs the R packages metafor and lme4 (Debian: r-cran-metafor, r-cran-lme4).

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
})
options(warn = -1)
args <- commandArgs(trailingOnly = TRUE)
mv <- read.csv(args[1], stringsAsFactors = FALSE)
gl <- read.csv(args[2], stringsAsFactors = FALSE)
outfile <- args[3]

n_out <- 0L
buf <- vector("list", 100000L)
put <- function(id, key, v) {
  v <- if (length(v) == 0) NA_real_ else as.numeric(v)
  s <- ifelse(is.na(v), "NA", sprintf("%.17g", v))
  n_out <<- n_out + 1L
  buf[[n_out]] <<- paste(id, key, seq_along(v) - 1L, s, sep = ",")
}
fail <- function(id, key) {
  n_out <<- n_out + 1L
  buf[[n_out]] <<- paste(id, key, 0L, "FAIL", sep = ",")
}

# two optimisers, since each stops at a slightly different point (the likelihood is flat near
# its maximum, so sigma2 is found to about 1e-6 relative); bobyqa first, nlminb replaces it only
# when its likelihood is clearly higher. The test compares everything else at metafor's sigma2
# where metafor's likelihood is lower than vertebro's.
MVCONS <- list(
  list(optimizer = "bobyqa", rhoend = 1e-12, maxfun = 1e5),
  list(optimizer = "nlminb", rel.tol = 1e-10, iter.max = 10000, eval.max = 20000))
FIXES <- list(c(NA, NA), c(0, NA), c(NA, 0), c(0, 0))

one_mv <- function(d, method, test, mods, fix, con) {
  tryCatch(
    if (mods) rma.mv(yi, vi, mods = ~ x, random = ~ 1 | study / est, data = d,
                     method = method, test = test, sigma2 = fix, control = con)
    else rma.mv(yi, vi, random = ~ 1 | study / est, data = d, method = method, test = test,
                sigma2 = fix, control = con),
    error = function(e) NULL)
}

# the highest (restricted) likelihood over the fix patterns and optimisers; returns the fit and
# how it was found, so that test = "t" is refitted the same way
fit_mv <- function(d, method, mods) {
  best <- NULL
  best_ll <- -Inf
  how <- NULL
  col <- if (method == "REML") 2 else 1
  for (fix in FIXES) for (con in MVCONS) {
    r <- one_mv(d, method, "z", mods, fix, con)
    if (is.null(r)) next
    ll <- r$fit.stats[1, col]
    if (is.finite(ll) && (is.null(best) || ll > best_ll + 1e-10 * max(1, abs(best_ll)))) {
      best <- r
      best_ll <- ll
      how <- list(fix = fix, con = con)
    }
  }
  list(fit = best, how = how)
}

MV_FIELDS <- c("beta", "se", "zval", "pval", "ci.lb", "ci.ub", "sigma2", "QE", "QEp")

mv_battery <- function(id, d, mods) {
  for (method in c("REML", "ML")) for (m in c(FALSE, if (mods) TRUE)) {
    pre <- if (m) "mvmod" else "mv"
    found <- fit_mv(d, method, m)
    for (test in c("z", "t")) {
      key <- paste(pre, method, test, sep = ".")
      r <- if (is.null(found$fit)) NULL else if (test == "z") found$fit else
        one_mv(d, method, "t", m, found$how$fix, found$how$con)
      if (is.null(r)) { fail(id, key); next }
      for (f in MV_FIELDS) put(id, paste0(key, ".", f), r[[f]])
      put(id, paste0(key, ".ll"), r$fit.stats[1, if (method == "REML") 2 else 1])
      if (!m) {
        pr <- predict(r)
        put(id, paste0(key, ".pi.lb"), pr$pi.lb)
        put(id, paste0(key, ".pi.ub"), pr$pi.ub)
      }
    }
  }
}

GLCON <- list(glmerCtrl = list(optimizer = "bobyqa",
                               optCtrl = list(rhobeg = 2e-4, rhoend = 1e-10, maxfun = 1e5)))
GL_FIELDS <- c("beta", "se", "zval", "pval", "ci.lb", "ci.ub", "tau2", "QE.Wld", "QEp.Wld",
               "QE.LRT", "QEp.LRT", "I2", "H2")

glmm_battery <- function(id, xi, ni) {
  for (method in c("ML", "EE")) {
    key <- paste("glmm", method, sep = ".")
    r <- tryCatch(rma.glmm(measure = "PLO", xi = xi, ni = ni, method = method,
                           control = GLCON, retfit = TRUE),
                  error = function(e) NULL)
    if (is.null(r)) { fail(id, key); next }
    for (f in GL_FIELDS) put(id, paste0(key, ".", f), r[[f]])
    if (method == "ML") {
      # the marginal log-likelihood with the binomial constants: lme4's logLik of a cbind()
      # response is relative to the saturated model, whose log-likelihood glm gives
      put(id, paste0(key, ".ll"), c(logLik(r$res.ML)) + c(logLik(r$res.QE)))
    }
  }
}

raw <- function(name, df, cols) for (cc in cols) put(name, paste0("raw.", cc), df[[cc]])

# classics ------------------------------------------------------------------------------
k11 <- dat.konstantopoulos2011
k11d <- data.frame(study = k11$district, est = k11$school, yi = k11$yi, vi = k11$vi,
                   x = k11$year)
raw("konstantopoulos", k11d, c("study", "est", "yi", "vi", "x"))
mv_battery("konstantopoulos", k11d, TRUE)

pr <- dat.pritz1997
raw("pritz", pr, c("xi", "ni"))
glmm_battery("pritz", pr$xi, pr$ni)
nw <- dat.nielweise2007
raw("nielweise", nw, c("ai", "n1i"))
glmm_battery("nielweise", nw$ai, nw$n1i)

# seeded random datasets and the curated ones (written by the test) ------------------------
for (id in unique(mv$id)) {
  d <- mv[mv$id == id, ]
  d$study <- as.character(d$study)
  d$est <- as.character(d$est)
  mv_battery(id, d, d$mods[1] == 1)
}
for (id in unique(gl$id)) {
  d <- gl[gl$id == id, ]
  glmm_battery(id, d$xi, d$ni)
}

writeLines(c("id,key,idx,value", unlist(buf[seq_len(n_out)])), outfile)
