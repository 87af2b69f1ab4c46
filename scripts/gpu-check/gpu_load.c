/* gpu_load — a GPU load generator that needs only the NVIDIA driver: libcuda.so.1
 * opened with dlopen, and a kernel given as PTX text that the driver JIT-compiles.
 * No CUDA toolkit, no headers, no PyTorch.
 *
 * Usage: gpu_load [SECONDS] [DEVICE]   (default 60 s, device 0)
 * Phases (fractions of SECONDS): idle 15 %, 30 % duty 25 %, full 35 %, 70 % duty 10 %,
 * idle 15 %. Each phase start is printed on stdout ("phase NAME t=...") and as a
 * dlenergy epoch marker when DLENERGY_MARKER_FD is set, so the run shows one epoch
 * per phase. Exit 2 when the driver or the GPU is not usable. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUstream;
typedef unsigned long long CUdeviceptr;

static struct {
  CUresult (*init)(unsigned);
  CUresult (*device_get)(CUdevice *, int);
  CUresult (*device_name)(char *, int, CUdevice);
  CUresult (*ctx_create)(CUcontext *, unsigned, CUdevice);
  CUresult (*ctx_destroy)(CUcontext);
  CUresult (*module_load_data_ex)(CUmodule *, const void *, unsigned, int *, void **);
  CUresult (*module_get_function)(CUfunction *, CUmodule, const char *);
  CUresult (*mem_alloc)(CUdeviceptr *, size_t);
  CUresult (*mem_free)(CUdeviceptr);
  CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                     unsigned, CUstream, void **, void **);
  CUresult (*sync)(void);
  CUresult (*error_string)(CUresult, const char **);
} cu;

/* Each thread runs ITERS dependent FMAs and stores the result (so nothing is
 * optimised away). */
static const char ptx[] =
    ".version 6.0\n"
    ".target sm_50\n"
    ".address_size 64\n"
    ".visible .entry burn(.param .u64 out, .param .u32 iters)\n"
    "{\n"
    "  .reg .pred %p<2>;\n"
    "  .reg .f32 %f<4>;\n"
    "  .reg .b32 %r<8>;\n"
    "  .reg .b64 %rd<5>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  ld.param.u32 %r1, [iters];\n"
    "  mov.u32 %r2, %tid.x;\n"
    "  mov.u32 %r3, %ctaid.x;\n"
    "  mov.u32 %r4, %ntid.x;\n"
    "  mad.lo.s32 %r5, %r3, %r4, %r2;\n"
    "  cvt.rn.f32.u32 %f1, %r5;\n"
    "  mul.f32 %f1, %f1, 0f33800000;\n"
    "  mov.f32 %f2, 0f3F800000;\n"
    "  mov.u32 %r6, 0;\n"
    "LOOP:\n"
    "  fma.rn.f32 %f2, %f2, 0f3F7FFF58, %f1;\n"
    "  add.s32 %r6, %r6, 1;\n"
    "  setp.lt.u32 %p1, %r6, %r1;\n"
    "  @%p1 bra LOOP;\n"
    "  cvta.to.global.u64 %rd2, %rd1;\n"
    "  mul.wide.u32 %rd3, %r5, 4;\n"
    "  add.s64 %rd4, %rd2, %rd3;\n"
    "  st.global.f32 [%rd4], %f2;\n"
    "  ret;\n"
    "}\n";

static int load(void *lib, const char *name, void *out) {
  void *p = dlsym(lib, name);
  memcpy(out, &p, sizeof p);
  if (!p) fprintf(stderr, "gpu_load: libcuda.so.1 lacks %s\n", name);
  return p ? 0 : -1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

static const char *errstr(CUresult r) {
  const char *s = NULL;
  if (cu.error_string) cu.error_string(r, &s);
  return s ? s : "unknown CUDA error";
}

static void marker(const char *line) {
  const char *fd = getenv("DLENERGY_MARKER_FD");
  if (!fd || !*fd) return;
  int n = atoi(fd);
  if (n > 2) {
    ssize_t w = write(n, line, strlen(line));
    (void)w;
  }
}

int main(int argc, char **argv) {
  double total_s = argc > 1 ? atof(argv[1]) : 60;
  int dev_index = argc > 2 ? atoi(argv[2]) : 0;
  if (!(total_s >= 5)) total_s = 60;
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "gpu_load: no NVIDIA driver here (libcuda.so.1: %s)\n", dlerror());
    return 2;
  }
  if (load(lib, "cuInit", &cu.init) || load(lib, "cuDeviceGet", &cu.device_get) ||
      load(lib, "cuDeviceGetName", &cu.device_name) ||
      load(lib, "cuCtxCreate_v2", &cu.ctx_create) ||
      load(lib, "cuCtxDestroy_v2", &cu.ctx_destroy) ||
      load(lib, "cuModuleLoadDataEx", &cu.module_load_data_ex) ||
      load(lib, "cuModuleGetFunction", &cu.module_get_function) ||
      load(lib, "cuMemAlloc_v2", &cu.mem_alloc) || load(lib, "cuMemFree_v2", &cu.mem_free) ||
      load(lib, "cuLaunchKernel", &cu.launch) || load(lib, "cuCtxSynchronize", &cu.sync))
    return 2;
  load(lib, "cuGetErrorString", &cu.error_string);
  CUresult r;
  CUdevice dev;
  CUcontext ctx;
  CUmodule mod;
  CUfunction fn;
  char name[128] = "";
  if ((r = cu.init(0)) || (r = cu.device_get(&dev, dev_index))) {
    fprintf(stderr, "gpu_load: no usable GPU %d: %s (%d)\n", dev_index, errstr(r), r);
    return 2;
  }
  cu.device_name(name, sizeof name, dev);
  if ((r = cu.ctx_create(&ctx, 0, dev))) {
    fprintf(stderr, "gpu_load: cuCtxCreate: %s (%d)\n", errstr(r), r);
    return 2;
  }
  char log[4096] = "";
  int opts[2] = {4 /* CU_JIT_ERROR_LOG_BUFFER */, 5 /* CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES */};
  void *vals[2] = {log, (void *)(uintptr_t)sizeof log};
  if ((r = cu.module_load_data_ex(&mod, ptx, 2, opts, vals)) ||
      (r = cu.module_get_function(&fn, mod, "burn"))) {
    fprintf(stderr, "gpu_load: PTX JIT failed: %s (%d) %s\n", errstr(r), r, log);
    return 2;
  }
  const unsigned blocks = 4096, threads = 256;
  CUdeviceptr out;
  if ((r = cu.mem_alloc(&out, (size_t)blocks * threads * 4))) {
    fprintf(stderr, "gpu_load: cuMemAlloc: %s\n", errstr(r));
    return 2;
  }
  /* Calibrate: iterations for a launch of about 50 ms. */
  unsigned iters = 1000;
  for (int k = 0; k < 12; k++) {
    void *args[2] = {&out, &iters};
    double t0 = now_s();
    if ((r = cu.launch(fn, blocks, 1, 1, threads, 1, 1, 0, NULL, args, NULL)) || (r = cu.sync())) {
      fprintf(stderr, "gpu_load: launch: %s (%d)\n", errstr(r), r);
      return 2;
    }
    double dt = now_s() - t0;
    if (dt > 0.03 && dt < 0.08) break;
    double scale = dt > 1e-4 ? 0.05 / dt : 16;
    if (scale > 16) scale = 16;
    iters = (unsigned)(iters * scale) + 1;
  }
  printf("gpu_load: %s, %u iterations per 50 ms launch\n", name, iters);
  struct {
    const char *name;
    double frac, duty;
  } ph[] = {{"idle", 0.15, 0},
            {"duty30", 0.25, 0.3},
            {"full", 0.35, 1.0},
            {"duty70", 0.10, 0.7},
            {"idle-end", 0.15, 0}};
  char line[128];
  snprintf(line, sizeof line, "epochs_total 5\n");
  marker(line);
  double start = now_s();
  for (int p = 0; p < 5; p++) {
    double end = now_s() + ph[p].frac * total_s;
    printf("phase %s t=%.1f s\n", ph[p].name, now_s() - start);
    fflush(stdout);
    snprintf(line, sizeof line, "epoch_begin %d\n", p);
    marker(line);
    while (now_s() < end) {
      if (ph[p].duty <= 0) {
        sleep_s(end - now_s() < 0.1 ? end - now_s() : 0.1);
        continue;
      }
      double t0 = now_s();
      void *args[2] = {&out, &iters};
      if ((r = cu.launch(fn, blocks, 1, 1, threads, 1, 1, 0, NULL, args, NULL)) ||
          (r = cu.sync())) {
        fprintf(stderr, "gpu_load: launch: %s (%d)\n", errstr(r), r);
        return 2;
      }
      double busy = now_s() - t0;
      if (ph[p].duty < 1) sleep_s(busy * (1 - ph[p].duty) / ph[p].duty);
    }
    snprintf(line, sizeof line, "epoch_end %d phase=%s\n", p, ph[p].name);
    marker(line);
  }
  cu.mem_free(out);
  cu.ctx_destroy(ctx);
  return 0;
}
