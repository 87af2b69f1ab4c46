/* svr_smo.c — epsilon-SVR dual by SMO in beta = alpha - alpha* (see svr_smo.h). */
#include "svr_smo.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lapack_dl.h"

/* Curvature used when a pair's a_ij = K_ii + K_jj - 2 K_ij is not positive (identical
 * rows): the step is then limited by the box (Fan, Chen & Lin, section 4). */
static const double SMO_TAU = 1e-12;

struct dle_svr_smo {
  size_t cap;
  /* Working copies in the solver's order (active variables first). */
  double *b, *g, *y;    /* beta, gradient of the smooth part (K beta - y), target */
  double *kd;           /* K_kk */
  double *uo, *lo;      /* up_k = uo_k - g_k, low_k = lo_k - g_k (see up_of / low_of) */
  size_t *m, *p;        /* distinct-row index, original index */
  double *bsum, *h;     /* u: beta summed per distinct row; K times that */
  size_t *ident;        /* identity map for map == NULL */
  size_t *fidx, *glist; /* the Newton step's free variables, their distinct rows */
  unsigned char *mark;  /* u */
  double *work;         /* the Newton step's matrix and right-hand sides (lazily) */
};

dle_svr_smo *dle_svr_smo_new(size_t n) {
  dle_svr_smo *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  size_t nn = n ? n : 1;
  s->cap = n;
  s->b = malloc(nn * sizeof *s->b);
  s->g = malloc(nn * sizeof *s->g);
  s->y = malloc(nn * sizeof *s->y);
  s->m = malloc(nn * sizeof *s->m);
  s->p = malloc(nn * sizeof *s->p);
  s->bsum = malloc(nn * sizeof *s->bsum);
  s->h = malloc(nn * sizeof *s->h);
  s->kd = malloc(nn * sizeof *s->kd);
  s->uo = malloc(nn * sizeof *s->uo);
  s->lo = malloc(nn * sizeof *s->lo);
  s->fidx = malloc(nn * sizeof *s->fidx);
  s->glist = malloc(nn * sizeof *s->glist);
  s->mark = calloc(nn, 1);
  s->ident = malloc(nn * sizeof *s->ident);
  if (!s->b || !s->g || !s->y || !s->m || !s->p || !s->bsum || !s->h || !s->ident || !s->kd ||
      !s->uo || !s->lo || !s->fidx || !s->glist || !s->mark) {
    dle_svr_smo_free(s);
    return NULL;
  }
  for (size_t i = 0; i < nn; i++) s->ident[i] = i;
  return s;
}

void dle_svr_smo_free(dle_svr_smo *s) {
  if (!s) return;
  free(s->b);
  free(s->g);
  free(s->y);
  free(s->m);
  free(s->p);
  free(s->bsum);
  free(s->h);
  free(s->kd);
  free(s->uo);
  free(s->lo);
  free(s->ident);
  free(s->fidx);
  free(s->glist);
  free(s->mark);
  free(s->work);
  free(s);
}

/* One-sided derivatives of the objective along +e_k ("up") and -e_k ("low"), in
 * libsvm's sign convention (-y_t grad_t): moving beta_k up is worth up_k, down low_k;
 * a pair (i up, j down) decreases the objective when up_i > low_j. The |beta|_1 term
 * contributes -eps on the side where |beta_k| grows and +eps where it shrinks. A
 * variable at its box bound has no move on that side (-INFINITY / +INFINITY). */
static inline double up_of(double b, double g, double c, double eps) {
  return b < 0 ? -g + eps : (b < c ? -g - eps : -INFINITY);
}
static inline double low_of(double b, double g, double c, double eps) {
  return b > 0 ? -g - eps : (b > -c ? -g + eps : INFINITY);
}

/* The offsets of up_of / low_of for beta b: up = uo - g, low = lo - g. */
static inline void set_offsets(dle_svr_smo *s, size_t k, double c, double eps) {
  double b = s->b[k];
  s->uo[k] = b < 0 ? eps : (b < c ? -eps : -INFINITY);
  s->lo[k] = b > 0 ? -eps : (b > -c ? eps : INFINITY);
}

static void swap_var(dle_svr_smo *s, size_t i, size_t j) {
  double t;
  size_t z;
  t = s->b[i], s->b[i] = s->b[j], s->b[j] = t;
  t = s->g[i], s->g[i] = s->g[j], s->g[j] = t;
  t = s->y[i], s->y[i] = s->y[j], s->y[j] = t;
  t = s->kd[i], s->kd[i] = s->kd[j], s->kd[j] = t;
  t = s->uo[i], s->uo[i] = s->uo[j], s->uo[j] = t;
  t = s->lo[i], s->lo[i] = s->lo[j], s->lo[j] = t;
  z = s->m[i], s->m[i] = s->m[j], s->m[j] = z;
  z = s->p[i], s->p[i] = s->p[j], s->p[j] = z;
}

/* g_k = (K beta)_k - y_k for variables [from, n), from beta summed per distinct row. */
static void gradient_from(dle_svr_smo *s, const double *Ku, size_t u, size_t n, size_t from) {
  if (from >= n) return;
  memset(s->bsum, 0, u * sizeof *s->bsum);
  for (size_t k = 0; k < n; k++) s->bsum[s->m[k]] += s->b[k];
  /* h only where needed: mark with NaN, fill on first use. */
  for (size_t r = 0; r < u; r++) s->h[r] = NAN;
  for (size_t k = from; k < n; k++) {
    size_t r = s->m[k];
    if (isnan(s->h[r])) {
      const double *Kr = Ku + r * u;
      double acc = 0;
      for (size_t q = 0; q < u; q++) acc += Kr[q] * s->bsum[q];
      s->h[r] = acc;
    }
    s->g[k] = s->h[r] - s->y[k];
  }
}

/* Clips the seed to the box and moves its sum to 0 within the box, proportionally to
 * each variable's room on the side the sum has to go (the room always covers it:
 * the total room is |sum| + n C). */
static void project_seed(double *b, const double *seed, size_t n, double c) {
  double sum = 0;
  for (size_t k = 0; k < n; k++) {
    double v = isfinite(seed[k]) ? seed[k] : 0;
    b[k] = v < -c ? -c : (v > c ? c : v);
    sum += b[k];
  }
  if (sum == 0) return;
  double room = 0;
  for (size_t k = 0; k < n; k++) room += sum > 0 ? b[k] + c : c - b[k];
  if (!(room > 0)) return;
  double f = sum / room; /* |f| <= 1 */
  for (size_t k = 0; k < n; k++) {
    double nb = b[k] - f * (sum > 0 ? b[k] + c : c - b[k]);
    b[k] = nb < -c ? -c : (nb > c ? c : nb);
  }
}

enum {
  SMO_NEWTON_MAX_FREE = 400, /* beyond: no Newton step (its solve is cubic) */
  SMO_NEWTON_ROUNDS = 30     /* rounds (bounds reached) per attempt */
};
static const double SMO_NEWTON_GAP = 0.1; /* attempted once the gap is below */
/* Iterations between shrinking (and Newton) checks: libsvm's 1000 is tuned for
 * shrinking alone; with the Newton step 200 measured best on the training table's
 * folds (bench/regress/fit_vs_sklearn.py). */
enum { SMO_CHECK_EVERY = 200 };

/* One right-hand side through the Cholesky factor in A (LAPACK, loaded by the caller of
 * the CV: dle_lapack_load); returns LAPACK's info. */
static lapack_int potrs1(lapack_int n, const double *A, double *b) {
  lapack_int one = 1, info = 0;
  LAPACK_dpotrs("L", &n, &one, A, &n, b, &n, &info);
  return info;
}

/* Newton steps on the free variables (0 < |beta_k| < C among the active ones), the
 * others held where they are. With the free variables' signs fixed the problem is a
 * quadratic under linear equalities, whose minimizer from beta is beta + d with
 *   A d + C lambda = -(g_F + eps sign(beta_F)),  C' d = 0,
 * A = K_FF + delta I (delta: 1e-12 of its mean diagonal, raised when the factor
 * fails: the kernel of nearby rows is close to singular), C = [1, e_p1, e_p2, ...]:
 * the sum constraint, then one column per variable that has reached a bound in an
 * earlier round (it stays there). By the Schur complement: W = A^-1 C (one column per
 * constraint, each a pair of triangular solves), z = A^-1 rhs, (C'W) lambda = C'z,
 * d = z - W lambda. Each round goes as far along d as the sign boxes allow (at most
 * the full step, so the objective decreases: it is convex along d); the variable that
 * stops it lands on its bound and joins C for the next round, until a full step is
 * taken or the rounds run out. One Cholesky factor of A serves every round. SMO then
 * carries on: this shortens its slow tail on an ill-conditioned kernel, and the
 * stopping rule stays the maximal violating pair's. */
static void newton_rounds(dle_svr_smo *s, const double *Ku, size_t u, size_t na, double c,
                          double eps) {
  size_t *F = s->fidx, nf = 0;
  for (size_t k = 0; k < na; k++)
    if (s->b[k] != 0 && s->b[k] != c && s->b[k] != -c) F[nf++] = k;
  if (nf < 2 || nf > SMO_NEWTON_MAX_FREE) return;
  enum { MC = SMO_NEWTON_ROUNDS + 1 }; /* constraint columns */
  if (!s->work) {
    size_t mf = s->cap < SMO_NEWTON_MAX_FREE ? s->cap : SMO_NEWTON_MAX_FREE;
    s->work = malloc((mf * mf + mf * (MC + 3) + MC * MC + 2 * MC) * sizeof *s->work);
    if (!s->work) return; /* no memory: SMO alone */
  }
  double *A = s->work, *W = A + nf * nf, *z = W + nf * MC, *d = z + nf, *sg = d + nf;
  double *S = sg + nf, *lam = S + MC * MC;
  size_t rem[MC]; /* positions in F held at their bounds */
  size_t q = 0;
  double tr = 0;
  for (size_t p = 0; p < nf; p++) {
    const double *Kr = Ku + s->m[F[p]] * u;
    for (size_t r = 0; r < nf; r++) A[p * nf + r] = Kr[s->m[F[r]]];
    tr += A[p * nf + p];
    sg[p] = s->b[F[p]] > 0 ? eps : -eps;
  }
  double delta = 1e-12 * tr / (double)nf;
  lapack_int info = -1, ln = (lapack_int)nf;
  for (int attempt = 0; attempt < 3 && info != 0; attempt++, delta *= 1e3) {
    if (attempt) /* restore the triangle dpotrf overwrote, from the other one */
      for (size_t p = 0; p < nf; p++)
        for (size_t r = 0; r < p; r++) A[r * nf + p] = A[p * nf + r];
    for (size_t p = 0; p < nf; p++) A[p * nf + p] = s->kd[F[p]] + delta;
    LAPACK_dpotrf("L", &ln, A, &ln, &info);
  }
  if (info != 0) return;
  for (size_t p = 0; p < nf; p++) W[p] = 1;
  if (potrs1(ln, A, W) != 0) return;
  for (int round = 0; round < SMO_NEWTON_ROUNDS; round++) {
    size_t mcol = q + 1;
    for (size_t p = 0; p < nf; p++) z[p] = -(s->g[F[p]] + sg[p]);
    if (potrs1(ln, A, z) != 0) return;
    /* S = C'W and C'z (column-major S; C's rows: the sum, then the held variables). */
    for (size_t j = 0; j < mcol; j++) {
      const double *Wj = W + j * nf;
      double sum = 0;
      for (size_t p = 0; p < nf; p++) sum += Wj[p];
      S[j * mcol] = sum;
      for (size_t t = 0; t < q; t++) S[j * mcol + t + 1] = Wj[rem[t]];
    }
    double sz = 0;
    for (size_t p = 0; p < nf; p++) sz += z[p];
    lam[0] = sz;
    for (size_t t = 0; t < q; t++) lam[t + 1] = z[rem[t]];
    lapack_int lm = (lapack_int)mcol, piv[MC];
    lapack_int one = 1, ginfo = 0;
    LAPACK_dgesv(&lm, &one, S, &lm, piv, lam, &lm, &ginfo);
    if (ginfo != 0) return;
    for (size_t p = 0; p < nf; p++) {
      double v = z[p];
      for (size_t j = 0; j < mcol; j++) v -= W[j * nf + p] * lam[j];
      d[p] = v;
    }
    for (size_t t = 0; t < q; t++) d[rem[t]] = 0;
    /* 1'd = 0 holds only to the Schur solve's accuracy on a near-singular A: put the
     * rest back on the free variables so that sum(beta) stays 0. */
    double sd = 0;
    for (size_t p = 0; p < nf; p++) sd += d[p];
    sd /= (double)(nf - q);
    for (size_t p = 0; p < nf; p++)
      if (d[p] != 0) d[p] -= sd;
    for (size_t t = 0; t < q; t++) d[rem[t]] = 0;
    double step = 1;
    size_t block = SIZE_MAX;
    for (size_t p = 0; p < nf; p++) {
      if (!isfinite(d[p])) return;
      if (d[p] == 0) continue;
      double b = s->b[F[p]], nb = b + d[p];
      double lim = b > 0 ? (nb > c ? (c - b) / d[p] : (nb < 0 ? -b / d[p] : 1))
                         : (nb < -c ? (-c - b) / d[p] : (nb > 0 ? -b / d[p] : 1));
      if (lim < step) {
        step = lim;
        block = p;
      }
    }
    if (!(step > 0)) return;
    /* Apply; the variable that stopped the step lands exactly on its bound. The
     * gradient changes through the per-distinct-row sums of the change. */
    size_t ng = 0;
    for (size_t p = 0; p < nf; p++) {
      size_t r = s->m[F[p]];
      if (!s->mark[r]) {
        s->mark[r] = 1;
        s->bsum[r] = 0;
        s->glist[ng++] = r;
      }
    }
    for (size_t p = 0; p < nf; p++) {
      if (d[p] == 0) continue;
      size_t k = F[p];
      double b = s->b[k], nb = b + step * d[p];
      if (p == block)
        nb = fabs(nb) < c / 2 ? 0 : (b > 0 ? c : -c);
      else if (b > 0)
        nb = nb >= c ? c : (nb <= 0 ? 0 : nb);
      else
        nb = nb <= -c ? -c : (nb >= 0 ? 0 : nb);
      s->bsum[s->m[k]] += nb - b;
      s->b[k] = nb;
    }
    for (size_t r = 0; r < u; r++) s->h[r] = NAN;
    for (size_t k = 0; k < na; k++) {
      size_t r = s->m[k];
      if (isnan(s->h[r])) {
        const double *Kr = Ku + r * u;
        double acc = 0;
        for (size_t t = 0; t < ng; t++) acc += Kr[s->glist[t]] * s->bsum[s->glist[t]];
        s->h[r] = acc;
      }
      s->g[k] += s->h[r];
    }
    for (size_t p = 0; p < nf; p++) set_offsets(s, F[p], c, eps);
    for (size_t t = 0; t < ng; t++) s->mark[s->glist[t]] = 0;
    if (block == SIZE_MAX) return; /* the full step: optimal for this free set */
    /* Every variable now on a bound is held from here on (the one that stopped the
     * step, and any that the clipping put there with it). */
    for (size_t p = 0; p < nf && q + 1 < MC; p++) {
      double b = s->b[F[p]];
      bool held = false;
      for (size_t t = 0; t < q && !held; t++) held = rem[t] == p;
      if (held || !(b == 0 || b == c || b == -c)) continue;
      rem[q++] = p;
      double *Wq = W + q * nf;
      memset(Wq, 0, nf * sizeof *Wq);
      Wq[p] = 1;
      if (potrs1(ln, A, Wq) != 0) return;
    }
  }
}

/* Whether variable k can be set aside: at a box corner (beta in {-C, 0, C}) and with
 * neither of its moves able to form a violating pair (up_k < M = min low, low_k >
 * m = max up). */
static inline bool shrinkable(double b, double g, double c, double eps, double mup, double mlow) {
  if (!(b == 0 || b == c || b == -c)) return false;
  return up_of(b, g, c, eps) < mlow && low_of(b, g, c, eps) > mup;
}

int dle_svr_smo_solve(dle_svr_smo *s, const double *Ku, size_t u, const size_t *map, size_t n,
                      const double *y, double c, double eps, double tol, const double *seed,
                      size_t max_iter, double *beta, double *rho, dle_svr_smo_stats *st,
                      dle_error *err) {
  if (st) *st = (dle_svr_smo_stats){0, NAN, NAN, false};
  if (!s || !Ku || !y || !beta || !rho) return dle_error_set(err, DLE_EINVAL, "missing argument");
  if (n < 1 || n > s->cap)
    return dle_error_set(err, DLE_EINVAL, "%zu rows (workspace %zu)", n, s->cap);
  if (!map && u != n) return dle_error_set(err, DLE_EINVAL, "no row map but %zu kernel rows", u);
  if (u < 1 || u > s->cap) return dle_error_set(err, DLE_EINVAL, "%zu kernel rows", u);
  if (!(c > 0) || !isfinite(c) || !(eps >= 0) || !isfinite(eps) || !(tol > 0))
    return dle_error_set(err, DLE_EINVAL,
                         "need C > 0, epsilon >= 0, tol > 0 (C %g, epsilon %g, tol %g)", c, eps,
                         tol);
  if (!map) map = s->ident;
  for (size_t k = 0; k < n; k++) {
    if (map[k] >= u)
      return dle_error_set(err, DLE_EINVAL, "row %zu: kernel row %zu >= %zu", k, map[k], u);
    if (!isfinite(y[k])) return dle_error_set(err, DLE_EINVAL, "row %zu: target not finite", k);
    s->y[k] = y[k];
    s->m[k] = map[k];
    s->p[k] = k;
  }
  if (max_iter == 0)
    max_iter = n > SIZE_MAX / 100 ? SIZE_MAX : (100 * n > 10000000 ? 100 * n : 10000000);
  if (seed) {
    project_seed(s->b, seed, n, c);
    gradient_from(s, Ku, u, n, 0);
  } else {
    for (size_t k = 0; k < n; k++) {
      s->b[k] = 0;
      s->g[k] = -s->y[k];
    }
  }

  for (size_t k = 0; k < n; k++) {
    s->kd[k] = Ku[s->m[k] * u + s->m[k]];
    set_offsets(s, k, c, eps);
  }
  size_t na = n, iters = 0;
  size_t every = n < SMO_CHECK_EVERY ? n : SMO_CHECK_EVERY, counter = every;
  bool unshrunk = false, converged = false, reselect = false, have_i = false;
  size_t i = SIZE_MAX;
  double mup = -INFINITY;
  double gap = INFINITY;
  double *b = s->b, *g = s->g;
  const size_t *m = s->m;
  for (;;) {
    if (reselect) {
      reselect = false; /* the whole problem's selection first, shrink after one step */
      have_i = false;
    } else if (--counter == 0) {
      counter = every;
      have_i = false;
      if (gap < SMO_NEWTON_GAP) newton_rounds(s, Ku, u, na, c, eps);
      /* Shrinking: the maximal violation over the active set first. */
      double smup = -INFINITY, smlow = INFINITY;
      for (size_t k = 0; k < na; k++) {
        double up = s->uo[k] - g[k], lo = s->lo[k] - g[k];
        if (up > smup) smup = up;
        if (lo < smlow) smlow = lo;
      }
      if (!unshrunk && smup - smlow <= 10 * tol) {
        /* Near the end: the whole problem once more, with an exact gradient. */
        unshrunk = true;
        gradient_from(s, Ku, u, n, na);
        na = n;
      }
      for (size_t k = 0; k < na; k++) {
        if (!shrinkable(b[k], g[k], c, eps, smup, smlow)) continue;
        /* Move k past the end of the active set: take the last active variable that
         * stays, in its place. */
        while (na > k + 1 && shrinkable(b[na - 1], g[na - 1], c, eps, smup, smlow)) na--;
        na--;
        if (na > k) swap_var(s, k, na);
      }
    }
    /* Working-set selection: i maximizes up (found by the previous step's gradient
     * pass); j minimizes -(up_i - low_j)^2 / a_ij over the variables that violate with
     * i (Fan, Chen & Lin, WSS 3). */
    const double *uo = s->uo, *lo = s->lo, *kd = s->kd;
    if (!have_i) {
      mup = -INFINITY;
      i = SIZE_MAX;
      for (size_t k = 0; k < na; k++) {
        double up = uo[k] - g[k];
        if (up >= mup) {
          mup = up;
          i = k;
        }
      }
      if (mup == -INFINITY) i = SIZE_MAX;
    }
    have_i = false;
    size_t j = SIZE_MAX;
    double mlow = INFINITY;
    if (i != SIZE_MAX) {
      const double *Ki = Ku + m[i] * u;
      double kii = kd[i];
      /* The gain (up_i - low_k)^2 / a_ik compared as num / den without dividing:
       * num_k den_best >= num_best den_k (dens > 0); non-violating k count 0. */
      double bnum = 0, bden = 1;
      for (size_t k = 0; k < na; k++) {
        double low = lo[k] - g[k];
        mlow = low < mlow ? low : mlow;
        double diff = mup - low;
        double a = kii + kd[k] - 2 * Ki[m[k]];
        a = a > 0 ? a : SMO_TAU;
        double num = diff > 0 ? diff * diff : 0;
        if (num * bden >= bnum * a && num > 0 && k != i) {
          bnum = num;
          bden = a;
          j = k;
        }
      }
    } else {
      for (size_t k = 0; k < na; k++) {
        double low = lo[k] - g[k];
        mlow = low < mlow ? low : mlow;
      }
    }
    gap = mup - mlow;
    if (!(gap >= tol) || j == SIZE_MAX) {
      /* Optimal on the active set: rebuild the gradient of the rest and look again. */
      if (na < n) {
        gradient_from(s, Ku, u, n, na);
        na = n;
        counter = 1;
        reselect = true;
        continue;
      }
      converged = true;
      break;
    }
    if (iters >= max_iter) break;
    iters++;
    /* The pair's step along beta_i += t, beta_j -= t: the exact minimizer of the
     * 1-D piecewise quadratic 1/2 a t^2 - D t (+ 2 eps for each kink of |beta| at 0
     * passed: the slope of the l1 term flips there), within the box. */
    const double *Ki = Ku + m[i] * u, *Kj = Ku + m[j] * u;
    double a = kd[i] + kd[j] - 2 * Ki[m[j]];
    if (!(a > 0)) a = SMO_TAU;
    double dslope = mup - (lo[j] - g[j]);
    double box = fmin(c - b[i], c + b[j]);
    double k1 = b[i] < 0 ? -b[i] : INFINITY, k2 = b[j] > 0 ? b[j] : INFINITY;
    double kink_lo = fmin(k1, k2), kink_hi = fmax(k1, k2);
    double t = dslope / a;
    if (t > kink_lo && kink_lo < box) {
      /* Past the first kink the slope is 2 eps less steep. */
      double t2 = (dslope - 2 * eps) / a;
      if (t2 <= kink_lo) {
        t = kink_lo;
      } else if (t2 > kink_hi && kink_hi < box) {
        double t3 = (dslope - 4 * eps) / a;
        t = t3 <= kink_hi ? kink_hi : t3;
      } else {
        t = t2;
      }
    }
    if (t > box) t = box;
    double nbi = t == k1 ? 0 : (t == c - b[i] ? c : b[i] + t);
    double nbj = t == k2 ? 0 : (t == c + b[j] ? -c : b[j] - t);
    double di = nbi - b[i], dj = nbj - b[j];
    b[i] = nbi;
    b[j] = nbj;
    set_offsets(s, i, c, eps);
    set_offsets(s, j, c, eps);
    /* The gradient's update and the next i in one pass. */
    mup = -INFINITY;
    i = SIZE_MAX;
    for (size_t k = 0; k < na; k++) {
      double gk = g[k] + di * Ki[m[k]] + dj * Kj[m[k]];
      g[k] = gk;
      double up = uo[k] - gk;
      if (up >= mup) {
        mup = up;
        i = k;
      }
    }
    if (mup == -INFINITY) i = SIZE_MAX;
    have_i = true;
    /* The shrunk variables' gradients are rebuilt from beta when they come back. */
  }

  /* rho as libsvm: over the 2n variables alpha_k (y = +1, y grad = g_k + eps) and
   * alpha*_k (y = -1, y grad = g_k - eps), the mean of y grad over free variables,
   * else the middle of the bounds the others set. */
  if (na < n) gradient_from(s, Ku, u, n, na);
  double ub = INFINITY, lb = -INFINITY, sum_free = 0;
  size_t nfree = 0;
  for (size_t k = 0; k < n; k++) {
    double ap = b[k] > 0 ? b[k] : 0, am = b[k] < 0 ? -b[k] : 0;
    double yg = g[k] + eps; /* alpha_k */
    if (ap >= c) {
      if (yg > lb) lb = yg;
    } else if (ap <= 0) {
      if (yg < ub) ub = yg;
    } else {
      nfree++;
      sum_free += yg;
    }
    yg = g[k] - eps; /* alpha*_k */
    if (am >= c) {
      if (yg < ub) ub = yg;
    } else if (am <= 0) {
      if (yg > lb) lb = yg;
    } else {
      nfree++;
      sum_free += yg;
    }
  }
  *rho = nfree ? sum_free / (double)nfree : (ub + lb) / 2;
  double obj = 0;
  for (size_t k = 0; k < n; k++) {
    obj += 0.5 * b[k] * (g[k] - s->y[k]) + eps * fabs(b[k]);
    beta[s->p[k]] = b[k];
  }
  if (st) *st = (dle_svr_smo_stats){iters, gap, obj, converged};
  if (!converged)
    return dle_error_set(err, DLE_ERANGE,
                         "epsilon-SVR solver stopped at its cap of %zu iterations with the "
                         "optimality gap %.3g above tol %.3g (C %g, epsilon %g)",
                         max_iter, gap, tol, c, eps);
  return DLE_OK;
}
