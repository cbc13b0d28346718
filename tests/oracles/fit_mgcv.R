# Fits every oracle model with mgcv and writes mgcv.json beside this script.
#
#     Rscript tests/oracles/fit_mgcv.R        # needs r-base-core and r-cran-mgcv
#
# Deterministic: the data are fixed CSV files, mgcv has no random steps, and the output is
# written with a fixed number of digits. Every spline uses explicit knots, so the basis is
# the one a Python reader rebuilds with scipy (see README.md for the definitions).

suppressMessages(library(mgcv))

script_dir <- function() {
  arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  if (length(arg) == 0) "." else dirname(normalizePath(sub("^--file=", "", arg[1])))
}
HERE <- script_dir()

# Outer (smoothing parameter) and inner (PIRLS) iterations run to near machine precision,
# so the recorded fit is the REML optimum, not one of mgcv's default stopping points.
CONTROL <- gam.control(epsilon = 1e-10, newton = list(conv.tol = 1e-10, maxNstep = 5))

read_data <- function(name) {
  d <- read.csv(file.path(HERE, paste0(name, ".csv")), stringsAsFactors = FALSE)
  for (column in names(d)) {
    if (is.character(d[[column]])) {
      # Radix sort is the C-locale order, which is Python's sorted() order too.
      d[[column]] <- factor(d[[column]], levels = sort(unique(d[[column]]), method = "radix"))
    }
  }
  d
}

# Cubic P-spline knots over the data range [a, b]: k - 3 equal intervals inside, three more
# on each side, k + 4 in all, so k cubic B-splines (mgcv bs = "ps", m = c(2, 2)). The knot
# at b is set to b itself: a + h * (k - 3) can round to one ulp below max(x), and mgcv's
# basis code refuses data outside the inner knots.
ps_knots <- function(x, k) {
  a <- min(x)
  b <- max(x)
  h <- (b - a) / (k - 3)
  knots <- a + h * (-3:k)
  knots[k + 1] <- b
  knots
}

# ---- the raw (unconstrained, unscaled) bases and penalties a reader rebuilds -----------

spline_basis <- function(x, knots) splines::splineDesign(knots, x, ord = 4, outer.ok = TRUE)
level_basis <- function(f) {
  m <- outer(as.integer(f), seq_len(nlevels(f)), "==") * 1
  m
}
second_difference_penalty <- function(k) crossprod(diff(diag(k), differences = 2))

# Row-wise Kronecker product, the second margin's index running fastest (mgcv's order).
row_kronecker <- function(A, B) {
  A[, rep(seq_len(ncol(A)), each = ncol(B)), drop = FALSE] *
    B[, rep(seq_len(ncol(B)), times = ncol(A)), drop = FALSE]
}

margin_raw <- function(margin, d, knots) {
  if (margin$type == "spline") {
    list(X = spline_basis(d[[margin$variable]], knots[[margin$variable]]),
         S = second_difference_penalty(margin$k))
  } else {
    L <- nlevels(d[[margin$variable]])
    list(X = level_basis(d[[margin$variable]]), S = diag(L))
  }
}

term_raw <- function(term, d, knots) {
  margins <- lapply(term$margins, margin_raw, d = d, knots = knots)
  if (length(margins) == 1) {
    X <- margins[[1]]$X
    if (!is.null(term$by_level)) X <- X * (d[[term$by]] == term$by_level)
    return(list(X = X, S = list(margins[[1]]$S)))
  }
  I1 <- diag(ncol(margins[[1]]$X))
  I2 <- diag(ncol(margins[[2]]$X))
  list(X = row_kronecker(margins[[1]]$X, margins[[2]]$X),
       S = list(kronecker(margins[[1]]$S, I2), kronecker(I1, margins[[2]]$S)))
}

# ---- what mgcv did, expressed in the raw bases ------------------------------------------

# mgcv's coefficients b of a term map to raw coefficients beta = T b (its constraint and
# reparameterization), and its penalties are multiples of the raw ones: S_mgcv = c T'S T.
# Both facts are checked here; a failure stops the script rather than record a guess.
raw_view <- function(model, smooth, raw, lp_matrix) {
  columns <- smooth$first.para:smooth$last.para
  X_mgcv <- lp_matrix[, columns, drop = FALSE]
  T <- qr.solve(raw$X, X_mgcv)
  misfit <- max(abs(raw$X %*% T - X_mgcv))
  if (misfit > 1e-9) stop(smooth$label, ": mgcv's basis is not in the raw basis (", misfit, ")")
  ratio <- numeric(length(raw$S))
  for (j in seq_along(raw$S)) {
    R <- t(T) %*% raw$S[[j]] %*% T
    ratio[j] <- sum(smooth$S[[j]] * R) / sum(R * R)
    off <- max(abs(smooth$S[[j]] - ratio[j] * R)) / max(abs(smooth$S[[j]]))
    if (off > 1e-8) stop(smooth$label, ": penalty ", j, " is not a multiple of the raw one")
  }
  sp <- model$sp[smooth$first.sp:smooth$last.sp]
  list(columns = columns, T = T, ratio = ratio, sp = sp)
}

# ---- the models --------------------------------------------------------------------------

spline <- function(variable, k) list(type = "spline", variable = variable, k = k)
level <- function(variable) list(type = "factor", variable = variable)
term <- function(label, kind, margins, constraint, by = NULL, by_level = NULL) {
  list(label = label, kind = kind, margins = margins, constraint = constraint, by = by,
       by_level = by_level)
}
S_TERM <- "data_rows_sum_to_zero"
NO_CONSTRAINT <- "none"
MARGINS <- "each_margin_data_rows_sum_to_zero"

identity_penalty <- function(f) {
  P <- diag(nlevels(f))
  dimnames(P) <- list(levels(f), levels(f))
  P
}

weak_terms <- function() {
  c(lapply(c("x1", "x2", "x3", "x4"), function(v) {
    term(paste0("s(", v, ")"), "spline", list(spline(v, 10)), S_TERM)
  }), list(term("s(f)", "factor", list(level("f")), NO_CONSTRAINT)))
}

# Effects of every strength, so that summary()'s p-values are neither 0 nor 1.
weak_model <- function(response, family) {
  formula <- as.formula(paste(response, "~ s(x1, bs = \"ps\", m = c(2, 2), k = 10) +",
                              "s(x2, bs = \"ps\", m = c(2, 2), k = 10) +",
                              "s(x3, bs = \"ps\", m = c(2, 2), k = 10) +",
                              "s(x4, bs = \"ps\", m = c(2, 2), k = 10) + s(f, bs = \"re\")"))
  list(data = "weak", family = family, response = response,
       k = c(x1 = 10, x2 = 10, x3 = 10, x4 = 10), formula = formula, terms = weak_terms())
}

# Families with a parameter of their own, estimated by mgcv with the smoothness (tw(): the
# Tweedie power, nb(): the negative binomial's theta).
family_models <- function() {
  list(
    tweedie = list(
      data = "claims", family = tw(), name = "tweedie",
      k = c(age = 10, engine = 10),
      formula = y ~ s(age, bs = "ps", m = c(2, 2), k = 10) +
        s(engine, bs = "ps", m = c(2, 2), k = 10) + s(region, bs = "re"),
      terms = list(term("s(age)", "spline", list(spline("age", 10)), S_TERM),
                   term("s(engine)", "spline", list(spline("engine", 10)), S_TERM),
                   term("s(region)", "factor", list(level("region")), NO_CONSTRAINT))),
    negative_binomial = list(
      data = "visits", family = nb(), name = "negative_binomial",
      k = c(x1 = 10, x2 = 10),
      formula = y ~ s(x1, bs = "ps", m = c(2, 2), k = 10) + s(x2, bs = "ps", m = c(2, 2), k = 10) +
        s(group, bs = "re"),
      terms = list(term("s(x1)", "spline", list(spline("x1", 10)), S_TERM),
                   term("s(x2)", "spline", list(spline("x2", 10)), S_TERM),
                   term("s(group)", "factor", list(level("group")), NO_CONSTRAINT))))
}

# The parameter mgcv estimated, on the scale sagegam uses: a Tweedie's power p, a negative
# binomial's theta (both from the family's getTheta(TRUE)).
family_record <- function(fit, spec) {
  record <- fit$record
  record$family <- spec$name
  value <- fit$model$family$getTheta(TRUE)
  record$family_parameters <- if (spec$name == "tweedie") list(power = value) else
    list(theta = value)
  record
}

# mgcv's Tweedie log density (ldTweedie) on a grid, against which the series that sagegam
# sums is checked.
tweedie_density_record <- function() {
  grid <- expand.grid(y = c(0, 0.01, 0.3, 1, 2.5, 7, 30), mu = c(0.2, 1.5, 12),
                      phi = c(0.4, 2), p = c(1.05, 1.3, 1.6, 1.95))
  log_density <- mapply(function(y, mu, phi, p) ldTweedie(y, mu, p = p, phi = phi)[1, 1],
                        grid$y, grid$mu, grid$phi, grid$p)
  list(y = I(grid$y), mu = I(grid$mu), phi = I(grid$phi), power = I(grid$p),
       log_density = I(log_density))
}

models <- function(data) {
  P <- identity_penalty(data$factor_pair$g)
  by_terms <- lapply(levels(data$factor_pair$g), function(l) {
    term(paste0("s(x):g", l), "spline_by_level", list(spline("x", 10)),
         "curve_sums_to_zero_over_all_rows", by = "g", by_level = l)
  })
  list(
    gaussian_additive = list(
      data = "additive", family = gaussian(), k = c(x1 = 10, x2 = 12, x3 = 8),
      formula = y ~ s(x1, bs = "ps", m = c(2, 2), k = 10) + s(x2, bs = "ps", m = c(2, 2), k = 12) +
        s(x3, bs = "ps", m = c(2, 2), k = 8),
      terms = list(term("s(x1)", "spline", list(spline("x1", 10)), S_TERM),
                   term("s(x2)", "spline", list(spline("x2", 12)), S_TERM),
                   term("s(x3)", "spline", list(spline("x3", 8)), S_TERM))),
    gaussian_factor = list(
      data = "factor_main", family = gaussian(), k = c(x = 10),
      formula = y ~ s(x, bs = "ps", m = c(2, 2), k = 10) + s(f, bs = "re"),
      terms = list(term("s(x)", "spline", list(spline("x", 10)), S_TERM),
                   term("s(f)", "factor", list(level("f")), NO_CONSTRAINT))),
    gaussian_ti = list(
      data = "numeric_pair", family = gaussian(), k = c(x1 = 8, x2 = 8, x3 = 8),
      formula = y ~ s(x1, bs = "ps", m = c(2, 2), k = 8) + s(x2, bs = "ps", m = c(2, 2), k = 8) +
        ti(x1, x2, bs = c("ps", "ps"), m = list(c(2, 2), c(2, 2)), k = c(8, 8), np = FALSE) +
        s(x3, bs = "ps", m = c(2, 2), k = 8),
      terms = list(term("s(x1)", "spline", list(spline("x1", 8)), S_TERM),
                   term("s(x2)", "spline", list(spline("x2", 8)), S_TERM),
                   term("ti(x1,x2)", "tensor_interaction",
                        list(spline("x1", 8), spline("x2", 8)), MARGINS),
                   term("s(x3)", "spline", list(spline("x3", 8)), S_TERM))),
    gaussian_te = list(
      data = "numeric_pair", family = gaussian(), k = c(x1 = 8, x2 = 8, x3 = 8),
      formula = y ~ te(x1, x2, bs = c("ps", "ps"), m = list(c(2, 2), c(2, 2)), k = c(8, 8),
                       np = FALSE) + s(x3, bs = "ps", m = c(2, 2), k = 8),
      terms = list(term("te(x1,x2)", "tensor", list(spline("x1", 8), spline("x2", 8)), S_TERM),
                   term("s(x3)", "spline", list(spline("x3", 8)), S_TERM))),
    gaussian_factor_pair = list(
      data = "factor_pair", family = gaussian(), k = c(x = 10),
      formula = y ~ s(x, bs = "ps", m = c(2, 2), k = 10) + s(g, bs = "re") +
        ti(x, g, bs = c("ps", "mrf"), m = list(c(2, 2), NA), k = c(10, 5), np = FALSE,
           xt = list(NULL, list(penalty = P))),
      terms = list(term("s(x)", "spline", list(spline("x", 10)), S_TERM),
                   term("s(g)", "factor", list(level("g")), NO_CONSTRAINT),
                   term("ti(x,g)", "tensor_interaction", list(spline("x", 10), level("g")),
                        MARGINS))),
    gaussian_by_factor = list(
      data = "factor_pair", family = gaussian(), k = c(x = 10),
      formula = y ~ s(g, bs = "re") + s(x, bs = "ps", m = c(2, 2), k = 10, by = g),
      terms = c(list(term("s(g)", "factor", list(level("g")), NO_CONSTRAINT)), by_terms)),
    binomial_factor = list(
      data = "binary", family = binomial(), k = c(x = 10),
      formula = y ~ s(x, bs = "ps", m = c(2, 2), k = 10) + s(f, bs = "re"),
      terms = list(term("s(x)", "spline", list(spline("x", 10)), S_TERM),
                   term("s(f)", "factor", list(level("f")), NO_CONSTRAINT))),
    poisson_factor = list(
      data = "counts", family = poisson(), k = c(x1 = 8, x2 = 8),
      formula = y ~ s(x1, bs = "ps", m = c(2, 2), k = 8) + s(x2, bs = "ps", m = c(2, 2), k = 8) +
        s(f, bs = "re"),
      terms = list(term("s(x1)", "spline", list(spline("x1", 8)), S_TERM),
                   term("s(x2)", "spline", list(spline("x2", 8)), S_TERM),
                   term("s(f)", "factor", list(level("f")), NO_CONSTRAINT))),
    gaussian_weak = weak_model("y", gaussian()),
    poisson_weak = weak_model("count", poisson()),
    binomial_weak = weak_model("event", binomial())
  )
}

# ---- fitting and recording ---------------------------------------------------------------

# A family whose parameter the fit estimated, with that parameter fixed: a refit at the same
# smoothing parameters then solves the same problem.
fixed_family <- function(family) {
  if (grepl("^Tweedie", family$family)) return(Tweedie(p = family$getTheta(TRUE), link = "log"))
  if (grepl("^Negative Binomial", family$family)) return(negbin(family$getTheta(TRUE)))
  family
}

fit_one <- function(spec, d) {
  knots <- lapply(names(spec$k), function(v) ps_knots(d[[v]], spec$k[[v]]))
  names(knots) <- names(spec$k)
  model <- gam(spec$formula, data = d, family = spec$family, method = "REML", knots = knots,
               control = CONTROL)
  gradient <- max(abs(model$outer.info$grad))
  # At this tolerance mgcv may stop with "step failed": no step improves the score any more.
  # That is accepted only when the score's gradient is zero to within 1e-5.
  if (!(model$outer.info$conv == "full convergence" || gradient < 1e-5)) {
    stop(spec$data, ": REML did not converge (", model$outer.info$conv, ")")
  }
  # mgcv's PIRLS can miss its 1e-10 test on the penalized deviance's rounding (poisson_weak
  # does, at any iteration limit). Such a fit is accepted only if refitting at the same
  # smoothing parameters moves no fitted value by more than 1e-10; the drift is recorded.
  inner_drift <- NULL
  if (!model$converged) {
    again <- suppressWarnings(gam(spec$formula, data = d, family = fixed_family(model$family),
                                  method = "REML", knots = knots, sp = model$sp,
                                  control = gam.control(epsilon = 1e-13, maxit = 1000)))
    inner_drift <- max(abs(again$fitted.values - model$fitted.values))
    if (inner_drift > 1e-10) stop(spec$data, ": PIRLS did not converge (", inner_drift, ")")
  }
  lp_matrix <- predict(model, type = "lpmatrix")
  labels <- vapply(model$smooth, function(s) s$label, "")
  expected <- vapply(spec$terms, function(t) t$label, "")
  if (!identical(labels, expected)) stop("terms out of order: ", paste(labels, collapse = " "))
  contributions <- predict(model, type = "terms")
  terms <- list()
  for (i in seq_along(model$smooth)) {
    smooth <- model$smooth[[i]]
    t <- spec$terms[[i]]
    raw <- term_raw(t, d, knots)
    view <- raw_view(model, smooth, raw, lp_matrix)
    terms[[i]] <- list(
      label = t$label, kind = t$kind, constraint = t$constraint,
      by = if (is.null(t$by)) NULL else t$by, by_level = t$by_level,
      margins = lapply(t$margins, function(m) margin_record(m, d, knots)),
      n_raw_coefficients = ncol(raw$X), n_mgcv_coefficients = length(view$columns),
      sp_mgcv = I(unname(view$sp)), penalty_ratio = I(view$ratio),
      lambda = I(unname(view$sp * view$ratio)),
      edf = sum(model$edf[view$columns]),
      raw_coefficients = I(as.vector(view$T %*% model$coefficients[view$columns])),
      contribution = I(unname(contributions[, smooth$label])))
  }
  record <- list(
    data = paste0(spec$data, ".csv"), response = spec$response, call = call_text(spec),
    family = spec$family$family,
    link = spec$family$link, n = nrow(d), intercept = unname(model$coefficients[1]),
    reml = model$gcv.ubre, scale = model$scale, sig2 = model$sig2,
    scale_estimated = model$scale.estimated, deviance = model$deviance,
    edf_total = sum(model$edf), outer_iterations = model$outer.info$iter,
    outer_convergence = model$outer.info$conv, outer_max_gradient = gradient,
    inner_drift = inner_drift,
    terms = terms,
    fitted = I(unname(model$fitted.values)),
    linear_predictor = I(unname(model$linear.predictors)))
  list(record = record, model = model)
}

margin_record <- function(margin, d, knots) {
  if (margin$type == "spline") {
    x <- d[[margin$variable]]
    first_rows <- spline_basis(x[1:5], knots[[margin$variable]])
    list(variable = margin$variable, type = "spline", k = margin$k, degree = 3L,
         penalty = "second differences", knots = I(knots[[margin$variable]]),
         basis_first_rows = lapply(seq_len(5), function(r) I(first_rows[r, ])),
         basis_check = mgcv_basis_misfit(margin, d, knots))
  } else {
    list(variable = margin$variable, type = "factor", levels = I(levels(d[[margin$variable]])),
         penalty = "identity")
  }
}

# mgcv's own unconstrained "ps" basis against splines::splineDesign on the same knots.
mgcv_basis_misfit <- function(margin, d, knots) {
  spec <- s(x, bs = "ps", m = c(2, 2), k = margin$k)
  spec$term <- margin$variable
  own <- smoothCon(spec, data = d, knots = knots, absorb.cons = FALSE,
                   scale.penalty = FALSE)[[1]]$X
  max(abs(own - spline_basis(d[[margin$variable]], knots[[margin$variable]])))
}

call_text <- function(spec) {
  paste0("gam(", paste(deparse(spec$formula, width.cutoff = 500L), collapse = " "),
         ", family = ", spec$family$family, "(link = \"", spec$family$link, "\")",
         ", method = \"REML\", knots = <ps_knots per variable>, control = CONTROL)")
}

# ---- a small JSON writer (no jsonlite needed) --------------------------------------------

json_string <- function(x) paste0("\"", gsub("([\"\\\\])", "\\\\\\1", x), "\"")
json_number <- function(x, digits) {
  if (is.na(x)) return("null")
  sprintf(paste0("%.", digits, "g"), x)
}
to_json <- function(x, indent = "") {
  inner <- paste0(indent, "  ")
  if (is.null(x)) return("null")
  if (is.list(x) && !is.null(names(x))) {
    keep <- !vapply(x, is.null, TRUE)
    items <- mapply(function(k, v) paste0(inner, "\"", k, "\": ", to_json(v, inner)),
                    names(x)[keep], x[keep])
    return(paste0("{\n", paste(items, collapse = ",\n"), "\n", indent, "}"))
  }
  if (is.list(x)) {
    items <- vapply(x, function(v) paste0(inner, to_json(v, inner)), "")
    return(paste0("[\n", paste(items, collapse = ",\n"), "\n", indent, "]"))
  }
  as_array <- inherits(x, "AsIs") || length(x) != 1
  values <- if (is.character(x)) json_string(x) else if (is.logical(x)) {
    tolower(as.character(x))
  } else if (is.integer(x)) as.character(x) else vapply(x, json_number, "", digits = 17)
  if (as_array) paste0("[", paste(values, collapse = ", "), "]") else values
}

# ---- inference: summary()'s tests and predict()'s standard errors ------------------------

# What summary.gam reports per smooth (Wood 2013a's test for terms with a null space, Wood
# 2013b's for fully penalized ones), with edf1 = tr(2F - F^2) per term, and the standard
# errors of the linear predictor at the data rows (predict(se.fit = TRUE): the Bayesian
# covariance Vp, intercept included).
inference_record <- function(model, spec) {
  table <- summary(model)$s.table
  kind <- if (model$scale.estimated) "F" else "Chi.sq"
  terms <- lapply(seq_along(model$smooth), function(i) {
    smooth <- model$smooth[[i]]
    columns <- smooth$first.para:smooth$last.para
    list(label = spec$terms[[i]]$label, edf = unname(table[i, "edf"]),
         edf1 = sum(model$edf1[columns]), reference_df = unname(table[i, "Ref.df"]),
         statistic = unname(table[i, kind]), statistic_kind = kind,
         p_value = unname(table[i, "p-value"]),
         test = if (smooth$null.space.dim == 0) "random_effect" else "smooth")
  })
  list(residual_df = nrow(model$model) - sum(model$edf), terms = terms,
       se_link = I(unname(predict(model, type = "link", se.fit = TRUE)$se.fit)))
}

main <- function() {
  names <- c("additive", "factor_main", "numeric_pair", "factor_pair", "binary", "counts",
             "weak", "claims", "visits")
  data <- lapply(names, read_data)
  names(data) <- names
  specs <- models(data)
  fits <- lapply(specs, function(spec) fit_one(spec, data[[spec$data]]))
  family_specs <- family_models()
  family_fits <- lapply(family_specs, function(spec) fit_one(spec, data[[spec$data]]))
  out <- list(
    generated_by = "tests/oracles/fit_mgcv.R",
    mgcv_version = as.character(packageVersion("mgcv")),
    r_version = R.version.string,
    models = lapply(fits, function(fit) fit$record),
    inference = mapply(inference_record, lapply(fits, function(fit) fit$model), specs,
                       SIMPLIFY = FALSE),
    families = mapply(family_record, family_fits, family_specs, SIMPLIFY = FALSE),
    tweedie_density = tweedie_density_record())
  writeLines(to_json(out), file.path(HERE, "mgcv.json"))
}

main()
