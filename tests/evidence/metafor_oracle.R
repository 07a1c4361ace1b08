# metafor as the oracle of vertebro.evidence (issue 10, point 2). Run by test_metafor_oracle.py:
#
#   Rscript metafor_oracle.R DATASETS.csv COUNTS.csv OUT.csv
#
# DATASETS.csv (long; id, yi, vi, x, grp, year): one meta-analysis per id, every analysis below
# is run on it. COUNTS.csv (one row per study; id, ai, bi, ci, di, ...): effect sizes only.
# metafor's own classic datasets are added here and their raw data written out, so that the
# test computes the effect sizes from the same numbers itself.
# OUT.csv rows: id, key, idx, value ("%.17g"; NA when metafor has none; "FAIL" when the fit
# failed with every control setting tried, recorded, not hidden).
# Control: metafor's defaults (threshold 1e-5, uniroot tol eps^0.25) are looser than vertebro's,
# so both are set to 1e-12 (and confint's search window, max(100, 10 tau^2) by default, to 1e8:
# an upper bound past the window is otherwise returned as the window's edge); ML/REML are started from several values and the highest
# (restricted) likelihood is kept, since Fisher scoring from one start can stop at a local peak.

suppressPackageStartupMessages(library(metafor))
options(warn = -1)  # "KH is not meant for EE models" etc.: metafor computes them all the same
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1], stringsAsFactors = FALSE)
cnt <- read.csv(args[2], stringsAsFactors = FALSE)
outfile <- args[3]

rows <- character(0)
n_out <- 0L
buf <- vector("list", 200000L)
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
CON <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, stepadj = 0.5)
CON2 <- list(threshold = 1e-10, tol = 1e-12, maxiter = 100000, stepadj = 0.25)

# (restricted) log-likelihood of the normal model at tau^2 = t, constants dropped
ll_at <- function(t, yi, vi, XX, reml) {
  X <- XX
  w <- 1 / (vi + t)
  A <- crossprod(X * w, X)
  b <- solve(A, crossprod(X * w, yi))
  r <- yi - X %*% b
  ll <- -0.5 * sum(log(vi + t)) - 0.5 * sum(w * r * r)
  if (reml) ll <- ll - 0.5 * as.numeric(determinant(A)$modulus)
  ll
}

# rma with tight control; for ML/REML the fit is checked against a grid of the likelihood and
# restarted from the grid's best point when that is higher (Fisher scoring from metafor's one
# start can stop at a local peak); NULL when every try fails
fit_rma <- function(yi, vi, method, test = "z", mods = NULL, level = 95, init = NA) {
  one <- function(init, con) {
    if (!is.na(init)) con$tau2.init <- init
    tryCatch(
      if (is.null(mods)) rma(yi, vi, method = method, test = test, level = level, control = con)
      else rma(yi, vi, mods = mods, method = method, test = test, level = level, control = con),
      error = function(e) NULL)
  }
  r <- one(init, CON)
  if (is.null(r)) r <- one(init, CON2)
  if (!(method %in% c("ML", "REML")) || !is.na(init)) return(r)
  X <- cbind(1, mods)
  if (nrow(X) <= ncol(X)) return(r)
  reml <- method == "REML"
  top <- 10 * (4 * diff(range(yi))^2 + 10 * max(vi))
  grid <- c(0, exp(seq(log(1e-4 * min(vi)), log(top), length.out = 300)))
  ll <- vapply(grid, function(t) ll_at(t, yi, vi, X, reml), 0)
  cur <- if (is.null(r)) -Inf else ll_at(r$tau2, yi, vi, X, reml)
  if (max(ll) > cur + 1e-9) {
    t0 <- grid[which.max(ll)]
    r2 <- if (t0 == 0) NULL else one(t0, CON)
    if (!is.null(r2) && ll_at(r2$tau2, yi, vi, X, reml) > cur) r <- r2
  }
  r
}

MAIN <- c("beta", "se", "zval", "pval", "ci.lb", "ci.ub", "tau2", "se.tau2", "QE", "QEp",
          "I2", "H2")
put_fit <- function(id, key, r) {
  for (f in MAIN) put(id, paste0(key, ".", f), r[[f]])
  if (r$p > 1) {
    put(id, paste0(key, ".QM"), r$QM)
    put(id, paste0(key, ".QMp"), r$QMp)
    put(id, paste0(key, ".R2"), if (is.null(r$R2)) NA else r$R2)
  } else {
    pr <- predict(r)
    put(id, paste0(key, ".pi.lb"), pr$pi.lb)
    put(id, paste0(key, ".pi.ub"), pr$pi.ub)
  }
}

METHODS <- c("EE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML")
RE <- c("DL", "HE", "HS", "SJ", "PM", "ML", "REML")

pdf(NULL)  # plots (baujat, funnel) draw here: no Rplots.pdf
battery <- function(id, d, full) {
  yi <- d$yi; vi <- d$vi; k <- length(yi)
  for (m in METHODS) for (test in c("z", "knha")) {
    key <- paste(m, test, sep = ".")
    r <- fit_rma(yi, vi, m, test)
    if (is.null(r)) { fail(id, key); next }
    put_fit(id, key, r)
    if (test == "z" && m %in% RE && k > 1) {
      ci <- tryCatch(confint(r, control = list(tol = 1e-12, maxiter = 10000,
                                                 tau2.max = 1e8))$random,
                     error = function(e) NULL)
      if (is.null(ci)) fail(id, paste0(key, ".qp")) else {
        put(id, paste0(key, ".qp.tau2"), ci[1, 2:3])
        put(id, paste0(key, ".qp.I2"), ci[3, 2:3])
        put(id, paste0(key, ".qp.H2"), ci[4, 2:3])
      }
    }
  }
  if (!full) return(invisible())
  # level 90: the critical values follow the level everywhere
  r <- fit_rma(yi, vi, "REML", "knha", level = 90)
  if (!is.null(r)) put_fit(id, "REML.knha90", r)
  # meta-regression on x (when it varies)
  if (k >= 4 && length(unique(d$x)) > 1) {
    for (mt in c("EE.z", "REML.z", "REML.knha", "ML.z", "DL.knha")) {
      m <- sub("[.].*", "", mt); test <- sub(".*[.]", "", mt)
      key <- paste("mreg", m, test, sep = ".")
      r <- fit_rma(yi, vi, m, test, mods = d$x)
      if (is.null(r)) fail(id, key) else put_fit(id, key, r)
    }
  }
  if (k >= 3) {
    oy <- order(d$year)  # stable, as vertebro's cumulative order
    for (mt in c("REML.z", "DL.knha")) {
      m <- sub("[.].*", "", mt); test <- sub(".*[.]", "", mt)
      r <- fit_rma(yi, vi, m, test)
      rs <- fit_rma(yi[oy], vi[oy], m, test)
      if (is.null(r) || is.null(rs)) next
      pre <- paste(m, test, sep = ".")
      l1 <- tryCatch(leave1out(r), error = function(e) NULL)
      if (!is.null(l1)) for (f in c("estimate", "se", "zval", "pval", "ci.lb", "ci.ub", "Q",
                                    "Qp", "tau2", "I2", "H2"))
        # under test = "knha" metafor names the statistic tval
        put(id, paste0("l1o.", pre, ".", f),
            if (f == "zval" && is.null(l1$zval)) l1$tval else l1[[f]])
      cu <- tryCatch(cumul(rs), error = function(e) NULL)
      if (!is.null(cu)) for (f in c("estimate", "se", "ci.lb", "ci.ub", "tau2", "I2", "H2",
                                    "Q"))
        put(id, paste0("cum.", pre, ".", f), cu[[f]])
    }
    r <- fit_rma(yi, vi, "REML", "z")
    rt <- tryCatch(regtest(r), error = function(e) NULL)
    if (!is.null(rt)) put(id, "regtest", c(rt$zval, rt$pval, rt$est, rt$ci.lb, rt$ci.ub))
    if (k >= 4) {  # PEESE: the variance as predictor (PET is the default above)
      re <- tryCatch(regtest(fit_rma(yi, vi, "EE", "z"), predictor = "vi", model = "rma"),
                     error = function(e) NULL)
      if (!is.null(re)) put(id, "regtest.vi.EE", c(re$zval, re$pval, re$est, re$ci.lb, re$ci.ub))
    }
    rk <- tryCatch(ranktest(r), error = function(e) NULL)
    if (!is.null(rk)) put(id, "ranktest", c(rk$tau, rk$pval))
    # trimfill passes its ... to every rma.uni it calls (the side's regression, each trimmed
    # refit whose estimate centres the filled studies, the final fit): without the tight
    # control the filled values carry metafor's default 1e-5 threshold (~1e-6 relative off).
    # The filled data (tf$yi, tf$vi) are refitted with fit_rma, as every other REML fit here.
    tf <- tryCatch(trimfill(r, control = CON), error = function(e) NULL)
    if (!is.null(tf)) {
      rf <- fit_rma(as.numeric(tf$yi), tf$vi, "REML", "z")
      put(id, "trimfill", c(tf$k0, rf$beta, rf$se, rf$tau2, rf$ci.lb, rf$ci.ub))
    }
    rd <- fit_rma(yi, vi, "DL", "z")
    tf <- tryCatch(trimfill(rd, estimator = "R0"), error = function(e) NULL)
    if (!is.null(tf)) put(id, "trimfill.R0.DL", c(tf$k0, tf$beta, tf$se, tf$tau2))
  }
  # subgroups: separate tau^2 per group, Q across the group estimates
  g <- unique(d$grp)
  if (length(g) >= 2 && all(table(d$grp) >= 2)) {
    est <- c(); se <- c()
    for (gg in g) {
      s <- d$grp == gg
      r <- fit_rma(yi[s], vi[s], "REML", "z")
      est <- c(est, r$beta); se <- c(se, r$se)
    }
    put(id, "subgroup.est", est)
    put(id, "subgroup.se", se)
    put(id, "subgroup.Q", rma(est, sei = se, method = "EE")$QE)
  }
  # moderators as a formula: a numeric column and a three-level factor (treatment contrasts
  # as model.matrix builds them, which is what rma does with mods = ~ x + factor(lvl))
  if (!is.null(d$lvl) && k >= 8 && length(unique(d$lvl)) == 3) {
    mm <- model.matrix(~ x + factor(lvl), data = d)[, -1]
    for (mt in c("EE.z", "REML.z", "REML.knha", "DL.knha")) {
      m <- sub("[.].*", "", mt); test <- sub(".*[.]", "", mt)
      key <- paste("form", m, test, sep = ".")
      r <- fit_rma(yi, vi, m, test, mods = mm)
      if (is.null(r)) fail(id, key) else put_fit(id, key, r)
    }
  }
  # permutation tests, exact where metafor makes them exact (2^k or k!/prod(n_j!) <= 1000):
  # p-values, QMp, the number of refits that failed in metafor (left out of its p-values)
  perm <- function(key, r) {
    pt <- tryCatch(permutest(r, progbar = FALSE, retpermdist = TRUE), error = function(e) NULL)
    if (!is.null(pt)) put(id, key, c(pt$pval, pt$QMp, sum(is.na(pt$QM.perm)),
                                     length(pt$QM.perm)))
  }
  if (k >= 3 && k <= 8) for (mt in c("DL.z", "REML.knha")) {
    m <- sub("[.].*", "", mt); test <- sub(".*[.]", "", mt)
    r <- fit_rma(yi, vi, m, test)
    if (!is.null(r)) perm(paste("perm.int", mt, sep = "."), r)
  }
  if (k == 5 && length(unique(d$x)) > 1) {  # 5! = 120 arrangements
    r <- fit_rma(yi, vi, "DL", "z", mods = d$x)
    if (!is.null(r)) perm("perm.x.DL.z", r)
  }
  if (!is.null(d$lvl) && k == 8 && length(unique(d$lvl)) >= 2) {
    ways <- factorial(k) / prod(factorial(table(d$lvl)))
    mm <- model.matrix(~ factor(lvl), data = d)[, -1, drop = FALSE]
    r <- fit_rma(yi, vi, "REML", "z", mods = mm)
    if (!is.null(r) && ways <= 1000) perm("perm.lvl.REML.z", r)
  }
  # influence diagnostics
  if (k >= 3) for (m in c("REML")) {
    r <- fit_rma(yi, vi, m, "z")
    inf <- tryCatch(influence(r), error = function(e) NULL)
    if (!is.null(inf)) for (f in c("rstudent", "dffits", "cook.d", "cov.r", "tau2.del",
                                   "QE.del", "hat", "weight"))
      put(id, paste("inf", m, f, sep = "."), inf$inf[[f]])
    # Baujat's plot values (drawn on the null device opened above the battery)
    if (!is.null(r)) {
      b <- tryCatch(baujat(r), error = function(e) NULL)
      if (!is.null(b)) {
        put(id, paste("baujat", m, "x", sep = "."), b$x)
        put(id, paste("baujat", m, "y", sep = "."), b$y)
      }
    }
  }
}

# ---- random datasets written by the test
full_ids <- unique(dat$id[dat$full == 1])
for (id in unique(dat$id)) {
  d <- dat[dat$id == id, ]
  battery(id, d, full = id %in% full_ids)
}

# ---- metafor's classics: raw data out, effect sizes, then the battery on metafor's yi/vi
raw <- function(name, df, cols) for (cc in cols) put(name, paste0("raw.", cc), df[[cc]])
classic <- function(name, es, extra = NULL) {
  put(name, "es.yi", es$yi)
  put(name, "es.vi", es$vi)
  d <- data.frame(yi = as.numeric(es$yi), vi = as.numeric(es$vi))
  d$x <- if (is.null(extra)) seq_along(d$yi) else extra
  d$grp <- rep(c("a", "b"), length.out = nrow(d))
  d$year <- seq_along(d$yi)
  battery(name, d, full = TRUE)
}
b <- dat.bcg
raw("bcg", b, c("tpos", "tneg", "cpos", "cneg", "ablat", "year"))
for (m in c("RR", "OR", "RD")) {
  es <- escalc(m, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = b)
  put("bcg", paste0("es.", m, ".yi"), es$yi); put("bcg", paste0("es.", m, ".vi"), es$vi)
}
classic("bcg", escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = b), b$ablat)
# bcg with a formula of a numeric and a factor moderator, as a metafor user writes it, and
# permutation tests too large to be exact (1000 random permutations, seeded; compared within
# Monte Carlo error)
bd <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = b)
for (mt in c("EE.z", "REML.z", "REML.knha", "DL.knha", "ML.z")) {
  m <- sub("[.].*", "", mt); test <- sub(".*[.]", "", mt)
  r <- rma(yi, vi, mods = ~ ablat + factor(alloc), data = bd, method = m, test = test,
           control = CON)
  put_fit("bcg", paste("form", m, test, sep = "."), r)
  put("bcg", paste("form", m, test, "QMdf", sep = "."), r$QMdf)
}
set.seed(20261203)
for (spec in list(list("perm.rand.int.REML.z", NULL), list("perm.rand.ablat.REML.z", b$ablat),
                  list("perm.rand.alloc.DL.knha", "alloc"))) {
  mods <- spec[[2]]
  r <- if (is.null(mods)) rma(yi, vi, data = bd, control = CON)
       else if (is.character(mods)) rma(yi, vi, mods = ~ factor(alloc), data = bd, method = "DL",
                                        test = "knha", control = CON)
       else rma(yi, vi, mods = mods, data = bd, control = CON)
  pt <- permutest(r, iter = 1000, progbar = FALSE, retpermdist = TRUE)
  put("bcg", spec[[1]], c(pt$pval, pt$QMp, sum(is.na(pt$QM.perm)), length(pt$QM.perm)))
}
# contour-enhanced funnel (metafor's documented call): the points it plots, and its contour
# bounds refline -/+ qnorm(alpha/2, lower.tail = FALSE) * se on a grid of se (funnel.rma)
pdf(NULL)
fr <- funnel(rma(yi, vi, data = bd, control = CON), level = c(90, 95, 99),
             shade = c("white", "gray55", "gray75"), refline = 0)
invisible(dev.off())
put("bcg", "funnel.x", fr$x); put("bcg", "funnel.y", fr$y)
se_grid <- seq(0, 0.8, length.out = 50)
for (lv in c(90, 95, 99)) {
  a <- (100 - lv) / 100
  z <- qnorm(a / 2, lower.tail = FALSE)
  put("bcg", paste0("funnel.contour.", lv), c(0 - z * se_grid, 0 + z * se_grid))
}
h <- dat.hackshaw1998
raw("hackshaw", h, c("yi", "vi"))
classic("hackshaw", h)
n <- dat.normand1999
raw("normand", n, c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"))
for (m in c("MD", "SMD", "ROM")) {
  es <- escalc(m, m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = n)
  put("normand", paste0("es.", m, ".yi"), es$yi); put("normand", paste0("es.", m, ".vi"), es$vi)
}
classic("normand", escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                          n2i = n2i, data = n))
mo <- dat.molloy2014
raw("molloy", mo, c("ri", "ni", "meanage"))
for (m in c("COR", "ZCOR")) {
  es <- escalc(m, ri = ri, ni = ni, data = mo)
  put("molloy", paste0("es.", m, ".yi"), es$yi); put("molloy", paste0("es.", m, ".vi"), es$vi)
}
classic("molloy", escalc("ZCOR", ri = ri, ni = ni, data = mo), mo$meanage)
p <- dat.pritz1997
raw("pritz", p, c("xi", "ni"))
for (m in c("PR", "PLO", "PAS", "PFT")) {
  es <- escalc(m, xi = xi, ni = ni, data = p)
  put("pritz", paste0("es.", m, ".yi"), es$yi); put("pritz", paste0("es.", m, ".vi"), es$vi)
}
classic("pritz", escalc("PFT", xi = xi, ni = ni, data = p))
ha <- dat.hart1999
raw("hart", ha, c("x1i", "t1i", "x2i", "t2i"))
for (m in c("IR", "IRLN")) {
  es <- escalc(m, xi = x1i, ti = t1i, data = ha)
  put("hart", paste0("es.", m, ".yi"), es$yi); put("hart", paste0("es.", m, ".vi"), es$vi)
}
es <- escalc("IRR", x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i, data = ha)
put("hart", "es.IRR.yi", es$yi); put("hart", "es.IRR.vi", es$vi)
# sparse 2x2: Mantel-Haenszel and Peto
y <- dat.egger2001
raw("egger2001", y, c("ai", "n1i", "ci", "n2i"))
for (m in c("OR", "RR", "RD")) {
  r <- rma.mh(measure = m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = y)
  put("egger2001", paste0("mh.", m), c(r$beta, r$se, r$zval, r$pval, r$ci.lb, r$ci.ub, r$QE,
                                        r$QEp))
}
r <- rma.peto(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = y)
put("egger2001", "peto", c(r$beta, r$se, r$zval, r$pval, r$ci.lb, r$ci.ub, r$QE, r$QEp))

# ---- effect sizes from random counts (zeros included)
for (m in c("RR", "OR", "RD")) {
  es <- escalc(m, ai = ai, bi = bi, ci = ci, di = di, data = cnt)
  put("counts", paste0("es.", m, ".yi"), es$yi); put("counts", paste0("es.", m, ".vi"), es$vi)
}
for (m in c("PR", "PLO", "PAS", "PFT")) {
  es <- escalc(m, xi = xi, ni = ni, data = cnt)
  put("counts", paste0("es.", m, ".yi"), es$yi); put("counts", paste0("es.", m, ".vi"), es$vi)
}
for (m in c("IR", "IRLN")) {
  es <- escalc(m, xi = xi, ti = ti, data = cnt)
  put("counts", paste0("es.", m, ".yi"), es$yi); put("counts", paste0("es.", m, ".vi"), es$vi)
}
for (m in c("MD", "SMD", "ROM")) {
  es <- escalc(m, m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
               data = cnt)
  put("counts", paste0("es.", m, ".yi"), es$yi); put("counts", paste0("es.", m, ".vi"), es$vi)
}
for (m in c("COR", "ZCOR")) {
  es <- escalc(m, ri = ri, ni = ni, data = cnt)
  put("counts", paste0("es.", m, ".yi"), es$yi); put("counts", paste0("es.", m, ".vi"), es$vi)
}
# Mantel-Haenszel / Peto on groups of the random 2x2 rows (zeros included)
for (g in unique(cnt$grp)) {
  s <- cnt[cnt$grp == g, ]
  for (m in c("OR", "RR", "RD")) {
    r <- tryCatch(rma.mh(measure = m, ai = ai, bi = bi, ci = ci, di = di, data = s),
                  error = function(e) NULL)
    if (!is.null(r)) put(paste0("mh", g), paste0("mh.", m),
                         c(r$beta, r$se, r$zval, r$pval, r$ci.lb, r$ci.ub))
  }
  r <- tryCatch(rma.peto(ai = ai, bi = bi, ci = ci, di = di, data = s), error = function(e) NULL)
  if (!is.null(r)) put(paste0("mh", g), "peto", c(r$beta, r$se, r$zval, r$pval, r$ci.lb,
                                                   r$ci.ub, r$QE))
}

writeLines(c("id,key,idx,value", unlist(buf[seq_len(n_out)])), outfile)
