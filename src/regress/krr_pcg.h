/* krr_pcg.h — kernel ridge's symmetric solve (G + alpha I) x = b by conjugate
 * gradients preconditioned with a pivoted partial Cholesky factor of G (internal to
 * src/regress). A generic numerical method for the smooth kernels of the search: the
 * RBF kernel of standardized features has a numerical rank far below its size, so a
 * rank-r factor G ~ L L' (r ~ 15-70 for the study's gamma ~ Exp(0.01)) makes
 * P = L L' + alpha I an almost exact inverse; CG on the full matrix then converges in
 * a few products with G, and the answer is accepted only when its true residual
 * (recomputed, not the recursive one) meets a backward-error bound as tight as a
 * Cholesky solve's. Otherwise the caller solves densely (Cholesky). No row of G is
 * merged or dropped: every row is solved as itself. */
#ifndef DLE_KRR_PCG_H
#define DLE_KRR_PCG_H

#include <stddef.h>

typedef struct dle_krr_pcg dle_krr_pcg;

/* Workspace for systems of up to n rows (reused across solves). NULL on ENOMEM. */
dle_krr_pcg *dle_krr_pcg_new(size_t n);
void dle_krr_pcg_free(dle_krr_pcg *w);

/* Solves (G + alpha I) x = b; G is n x n symmetric (both triangles filled, row-major),
 * positive semi-definite, alpha > 0. Returns 0 with x set, or -1 when the fast path
 * declines (rank too high, no convergence, residual above the bound): solve densely.
 * rank_out / iters_out (may be NULL) get the factor's rank and the CG iterations. */
int dle_krr_pcg_solve(dle_krr_pcg *w, const double *G, size_t n, double alpha, const double *b,
                      double *x, size_t *rank_out, size_t *iters_out);

#endif
