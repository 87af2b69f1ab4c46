/* mp_window.h — per-window statistics shared by the batch and the streaming matrix
 * profile (private to src/stabilize/). One definition, so the streaming profile stays
 * bit-identical to the batch one. */
#ifndef DLE_STABILIZE_MP_WINDOW_H
#define DLE_STABILIZE_MP_WINDOW_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "dlenergy/stabilize.h"

/* Mean of the m values at w, the inverse of their centred norm and the constant-window
 * term: a window whose standard deviation is below DLE_MP_CONST_STD (relative to
 * max(|mean|, 1)) has no shape, so *invn = 0 and its correlation comes from *cst = 0.5
 * alone; otherwise *invn = 1 / ||w - mean|| and *cst = 0. */
static inline void dle_mp_window_stats(const double *w, size_t m, double *mu, double *invn,
                                       double *cst) {
  double s = 0;
  for (size_t q = 0; q < m; q++) s += w[q];
  double mean = s / (double)m, ss = 0;
  for (size_t q = 0; q < m; q++) ss += (w[q] - mean) * (w[q] - mean);
  *mu = mean;
  double sd = sqrt(ss / (double)m);
  double scale = fabs(mean) > 1 ? fabs(mean) : 1;
  if (sd <= DLE_MP_CONST_STD * scale) {
    *invn = 0;
    *cst = 0.5;
  } else {
    *invn = 1 / sqrt(ss);
    *cst = 0;
  }
}

/* Offers correlation r between windows i and j to both profiles. Ties go to the
 * smaller neighbour index: a total order, so the result does not depend on the order
 * pairs are visited (threads, the streaming profile). */
static inline void dle_mp_offer(double *P, int64_t *I, size_t i, size_t j, double r) {
  if (r > P[i] || (r == P[i] && (int64_t)j < I[i])) {
    P[i] = r;
    I[i] = (int64_t)j;
  }
  if (r > P[j] || (r == P[j] && (int64_t)i < I[j])) {
    P[j] = r;
    I[j] = (int64_t)i;
  }
}

#endif
