/* pq_dl.c — the libpq functions the store uses, resolved with dlopen on first use.
 * See pq_dl.h for why. The table is filled once (pthread_once) and read-only after. */
#include "pq_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dl.h"

/* The shims below keep libpq's names; hidden, so libdlenergy.so does not export them
 * (a process that also links the real libpq, e.g. Python with psycopg2, keeps its own). */
#pragma GCC visibility push(hidden)
#include <libpq-fe.h>

/* Every libpq function dlenergy (store, tests, benches) calls: return type, name,
 * parameters, arguments, and what the shim returns if called without the library (only
 * reachable with a NULL connection/result, since PQconnectdb is the only way to get one).
 * Adding a call to another PQ function = one line here (the link fails until then). */
/* clang-format off */
#define DLE_PQ_FUNCS(X)                                                                      \
  X(PGconn *, PQconnectdb, (const char *conninfo), (conninfo), NULL)                         \
  X(ConnStatusType, PQstatus, (const PGconn *conn), (conn), CONNECTION_BAD)                  \
  X(PGTransactionStatusType, PQtransactionStatus, (const PGconn *conn), (conn),              \
    PQTRANS_UNKNOWN)                                                                         \
  X(char *, PQerrorMessage, (const PGconn *conn), (conn), (char *)"libpq not loaded")        \
  X(int, PQserverVersion, (const PGconn *conn), (conn), 0)                                   \
  X(const char *, PQparameterStatus, (const PGconn *conn, const char *name), (conn, name),   \
    NULL)                                                                                    \
  X(PQnoticeProcessor, PQsetNoticeProcessor,                                                 \
    (PGconn * conn, PQnoticeProcessor proc, void *arg), (conn, proc, arg), NULL)             \
  X(PGresult *, PQexec, (PGconn * conn, const char *query), (conn, query), NULL)             \
  X(PGresult *, PQexecParams,                                                                \
    (PGconn * conn, const char *command, int nParams, const Oid *paramTypes,                 \
     const char *const *paramValues, const int *paramLengths, const int *paramFormats,       \
     int resultFormat),                                                                      \
    (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,            \
     resultFormat),                                                                          \
    NULL)                                                                                    \
  X(PGresult *, PQprepare,                                                                   \
    (PGconn * conn, const char *stmtName, const char *query, int nParams,                    \
     const Oid *paramTypes),                                                                 \
    (conn, stmtName, query, nParams, paramTypes), NULL)                                      \
  X(PGresult *, PQexecPrepared,                                                              \
    (PGconn * conn, const char *stmtName, int nParams, const char *const *paramValues,       \
     const int *paramLengths, const int *paramFormats, int resultFormat),                    \
    (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat), NULL)  \
  X(int, PQsendQuery, (PGconn * conn, const char *query), (conn, query), 0)                  \
  X(int, PQsendQueryParams,                                                                  \
    (PGconn * conn, const char *command, int nParams, const Oid *paramTypes,                 \
     const char *const *paramValues, const int *paramLengths, const int *paramFormats,       \
     int resultFormat),                                                                      \
    (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,            \
     resultFormat),                                                                          \
    0)                                                                                       \
  X(int, PQsetSingleRowMode, (PGconn * conn), (conn), 0)                                     \
  X(PGresult *, PQgetResult, (PGconn * conn), (conn), NULL)                                  \
  X(int, PQputCopyData, (PGconn * conn, const char *buffer, int nbytes),                     \
    (conn, buffer, nbytes), -1)                                                              \
  X(int, PQputCopyEnd, (PGconn * conn, const char *errormsg), (conn, errormsg), -1)          \
  X(int, PQgetCopyData, (PGconn * conn, char **buffer, int async), (conn, buffer, async),    \
    -2)                                                                                      \
  X(ExecStatusType, PQresultStatus, (const PGresult *res), (res), PGRES_FATAL_ERROR)         \
  X(char *, PQresultErrorMessage, (const PGresult *res), (res), (char *)"")                  \
  X(char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode),      \
    NULL)                                                                                    \
  X(int, PQntuples, (const PGresult *res), (res), 0)                                         \
  X(int, PQnfields, (const PGresult *res), (res), 0)                                         \
  X(char *, PQfname, (const PGresult *res, int field_num), (res, field_num), NULL)           \
  X(int, PQfnumber, (const PGresult *res, const char *name), (res, name), -1)                \
  X(char *, PQcmdTuples, (PGresult * res), (res), (char *)"")                                \
  X(char *, PQcmdStatus, (PGresult * res), (res), (char *)"")                                \
  X(char *, PQgetvalue, (const PGresult *res, int row, int col), (res, row, col),            \
    (char *)"")                                                                              \
  X(int, PQgetlength, (const PGresult *res, int row, int col), (res, row, col), 0)           \
  X(int, PQgetisnull, (const PGresult *res, int row, int col), (res, row, col), 1)           \
  X(char *, PQescapeLiteral, (PGconn * conn, const char *str, size_t len), (conn, str, len), \
    NULL)                                                                                    \
  X(char *, PQescapeIdentifier, (PGconn * conn, const char *str, size_t len),                \
    (conn, str, len), NULL)

/* Functions without a result. */
#define DLE_PQ_VOID_FUNCS(X)                       \
  X(PQfinish, (PGconn * conn), (conn))             \
  X(PQreset, (PGconn * conn), (conn))              \
  X(PQclear, (PGresult * res), (res))              \
  X(PQfreemem, (void *ptr), (ptr))
/* clang-format on */

typedef struct pq_table {
  int ok;
  void *lib; /* kept open for the life of the process */
  char why[400];
#define X(ret, name, params, args, fallback) ret(*name) params;
  DLE_PQ_FUNCS(X)
#undef X
#define X(name, params, args) void(*name) params;
  DLE_PQ_VOID_FUNCS(X)
#undef X
} pq_table;

/* Written once inside pthread_once, read-only afterwards. */
static pq_table g_pq;
static pthread_once_t g_pq_once = PTHREAD_ONCE_INIT;

static void pq_init(void) {
  const char *path, *why;
  /* Kept open for the process's life. */
  void *lib = dle_dl_open("DLENERGY_LIBPQ", DLE_LIBPQ_SONAME, &path, &why);
  if (!lib) {
    snprintf(g_pq.why, sizeof g_pq.why, "PostgreSQL store needs %s (%s): apt-get install libpq5",
             path, why);
    return;
  }
  const char *missing = NULL;
#define X(ret, name, params, args, fallback) dle_dl_resolve(lib, #name, &g_pq.name, &missing);
  DLE_PQ_FUNCS(X)
#undef X
#define X(name, params, args) dle_dl_resolve(lib, #name, &g_pq.name, &missing);
  DLE_PQ_VOID_FUNCS(X)
#undef X
  if (missing) {
    snprintf(g_pq.why, sizeof g_pq.why,
             "PostgreSQL store: %s lacks %s (libpq too old?): apt-get install libpq5", path,
             missing);
    dlclose(lib);
    return;
  }
  g_pq.lib = lib;
  g_pq.ok = 1;
}

static const pq_table *pq(void) {
  pthread_once(&g_pq_once, pq_init);
  return g_pq.ok ? &g_pq : NULL;
}

#define X(ret, name, params, args, fallback) \
  ret name params {                          \
    const pq_table *t = pq();                \
    return t ? t->name args : fallback;      \
  }
DLE_PQ_FUNCS(X)
#undef X
#define X(name, params, args) \
  void name params {          \
    const pq_table *t = pq(); \
    if (t) t->name args;      \
  }
DLE_PQ_VOID_FUNCS(X)
#undef X
#pragma GCC visibility pop

int dle_pq_load(dle_error *err) {
  if (pq()) return DLE_OK;
  return dle_error_set(err, DLE_EUNSUPPORTED, "%s", g_pq.why);
}
