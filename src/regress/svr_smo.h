/* svr_smo.h — the epsilon-SVR dual solver of the cross-validation (internal to
 * src/regress).
 *
 * The dual of epsilon-SVR with n training rows, written in beta = alpha - alpha*
 * (n variables instead of libsvm's 2n; at the optimum alpha_k alpha*_k = 0, so
 * alpha_k + alpha*_k = |beta_k|):
 *
 *   minimize  1/2 beta' K beta - y' beta + epsilon |beta|_1
 *   subject to  -C <= beta_k <= C,  sum_k beta_k = 0,
 *
 * solved by sequential minimal optimization on pairs of variables with the
 * second-order working-set selection of Fan, Chen & Lin (JMLR 6, 2005), and the
 * stopping rule of libsvm: the maximal violating pair's gap m(beta) - M(beta) <= tol
 * (the |beta|_1 term enters through its one-sided derivatives, -g_k -/+ epsilon,
 * which are libsvm's -y_t grad_t of the alpha_k / alpha*_k variables). A solve may
 * start from a seed (alpha seeding: DeCoste & Wagstaff 2000; Wen et al. 2017): the
 * seed is projected onto the feasible set (clipped to the box, then its sum moved to
 * 0 within the box) and the gradient computed from it. Working variables are
 * shrunk (set aside) when they sit at a bound and are not expected to move again,
 * with the full gradient rebuilt and checked before the solver stops. Once the gap is
 * below 0.1, every 200 iterations, Newton steps on the free variables (the others
 * held) cut SMO's slow tail on ill-conditioned kernels (see newton_rounds); SMO still
 * decides convergence.
 *
 * The kernel is dense, given on u distinct rows: K_kl = Ku[map[k] u + map[l]]
 * (identical training rows share one kernel row; nothing is merged in the problem:
 * every row keeps its own variable). map NULL: u == n, the identity. */
#ifndef DLE_SVR_SMO_H
#define DLE_SVR_SMO_H

#include <stdbool.h>
#include <stddef.h>

#include "dlenergy/error.h"

typedef struct dle_svr_smo dle_svr_smo;

typedef struct dle_svr_smo_stats {
  size_t iters;    /* pair updates */
  double gap;      /* m - M at the end (<= tol when converged) */
  double obj;      /* dual objective 1/2 b'Kb - y'b + eps |b|_1 */
  bool converged;  /* false: stopped by the iteration cap */
} dle_svr_smo_stats;

/* Workspace for problems of up to n rows (reused across solves). NULL on ENOMEM. */
dle_svr_smo *dle_svr_smo_new(size_t n);
void dle_svr_smo_free(dle_svr_smo *s);

/* Solves the problem above. Ku: u x u symmetric (both triangles), map: n indices
 * < u (or NULL when u == n). c > 0, eps >= 0, tol > 0. seed (n, may be NULL: cold
 * start at 0) is projected onto the feasible set. max_iter 0: libsvm's cap,
 * max(10^7, 100 n). beta (n) and rho receive the solution: f(x) = sum_k beta_k
 * K(x_k, x) - rho, with rho computed as libsvm does (the mean over free variables,
 * else the middle of the bounds). Returns DLE_OK when the gap met tol, DLE_ERANGE
 * with a message (and the last iterate in beta / rho) when the cap stopped it,
 * DLE_EINVAL on bad arguments. st may be NULL. */
int dle_svr_smo_solve(dle_svr_smo *s, const double *Ku, size_t u, const size_t *map, size_t n,
                      const double *y, double c, double eps, double tol, const double *seed,
                      size_t max_iter, double *beta, double *rho, dle_svr_smo_stats *st,
                      dle_error *err);

#endif
