/* Tests of the GPU catalogue: the shipped gpus.csv (coverage, sanity of the
 * figures) and the parser and name matching on small in-memory catalogues. */
#include "check.h"
#include "dlenergy/gpus.h"

static void test_shipped(void) {
  dle_error e;
  dle_gpu_catalog *cat = NULL;
  CHECK_OK(dle_gpu_catalog_load(NULL, &cat, &e), &e);
  if (!cat) return;
  size_t n = dle_gpu_catalog_count(cat);
  CHECK_MSG(n >= 30, "%zu boards", n);
  for (size_t i = 0; i < n; i++) {
    const dle_gpu_spec *g = dle_gpu_catalog_at(cat, i);
    CHECK_MSG(g->tdp_w >= 30 && g->tdp_w <= 1000, "%s tdp %g", g->name, g->tdp_w);
    CHECK_MSG(g->cuda_cores >= 384 && g->cuda_cores <= 20000, "%s cores", g->name);
    CHECK_MSG(g->memory_gb >= 1 && g->memory_gb <= 200, "%s memory", g->name);
    CHECK_MSG(g->memory_bandwidth_gbs >= 50 && g->memory_bandwidth_gbs <= 10000, "%s bw", g->name);
    /* Peak FP32 = 2 FLOP x cores x clock: clocks of these boards lie in 0.9..2.7 GHz. */
    double ghz = g->fp32_tflops * 1e3 / (2.0 * g->cuda_cores);
    CHECK_MSG(ghz > 0.9 && ghz < 2.7, "%s implies %.2f GHz", g->name, ghz);
    CHECK_MSG(isnan(g->tensor_fp16_tflops) || g->tensor_fp16_tflops > g->fp32_tflops, "%s tensor",
              g->name);
    CHECK_MSG(g->source[0] != '\0', "%s has no source", g->name);
  }
  /* The boards of the issue, by the names NVML reports. */
  static const char *const nvml[] = {"NVIDIA GeForce GTX 750 Ti",
                                     "NVIDIA GeForce GTX 1050",
                                     "NVIDIA GeForce GTX 1660",
                                     "NVIDIA GeForce RTX 2080",
                                     "NVIDIA GeForce RTX 3070",
                                     "NVIDIA GeForce RTX 3080",
                                     "NVIDIA GeForce RTX 3090",
                                     "NVIDIA GeForce RTX 4090",
                                     "Tesla P100-PCIE-16GB",
                                     "Tesla V100-SXM2-16GB",
                                     "Tesla T4",
                                     "NVIDIA A10",
                                     "NVIDIA A40",
                                     "NVIDIA A100-SXM4-40GB",
                                     "NVIDIA A100-SXM4-80GB",
                                     "NVIDIA L4",
                                     "NVIDIA L40S",
                                     "NVIDIA H100 PCIe",
                                     "NVIDIA H100 80GB HBM3",
                                     "NVIDIA H200",
                                     "NVIDIA H100 NVL",
                                     "Tesla P40",
                                     "Tesla V100S-PCIE-32GB",
                                     "NVIDIA A2",
                                     "Quadro RTX 6000",
                                     "Quadro GV100",
                                     "Quadro P6000",
                                     "NVIDIA RTX A6000",
                                     "NVIDIA RTX A4000",
                                     "NVIDIA RTX 6000 Ada Generation",
                                     "NVIDIA RTX 4000 Ada Generation"};
  for (size_t i = 0; i < sizeof nvml / sizeof nvml[0]; i++) {
    const dle_gpu_spec *g = NULL;
    CHECK_OK(dle_gpu_catalog_find(cat, nvml[i], &g, &e), &e);
    CHECK(g && strcmp(g->name, nvml[i]) == 0);
  }
  /* The study's boards (runs.csv): TDPs of the spec sheets, not nvidia-smi's max limit. */
  const dle_gpu_spec *g = NULL;
  CHECK_OK(dle_gpu_catalog_find(cat, "NVIDIA GeForce RTX 3070", &g, &e), &e);
  CHECK(g && g->tdp_w == 220 && g->cuda_cores == 5888);
  CHECK_OK(dle_gpu_catalog_find(cat, "NVIDIA GeForce GTX 750 Ti", &g, &e), &e);
  CHECK(g && g->tdp_w == 60 && g->cuda_cores == 640 && isnan(g->tensor_fp16_tflops));
  /* Older drivers drop the "NVIDIA " prefix; people type short names. */
  CHECK_OK(dle_gpu_catalog_find(cat, "GeForce RTX 3090", &g, &e), &e);
  CHECK(g && strcmp(g->name, "NVIDIA GeForce RTX 3090") == 0);
  CHECK_OK(dle_gpu_catalog_find(cat, "rtx-3090", &g, &e), &e);
  CHECK(g && strcmp(g->name, "NVIDIA GeForce RTX 3090") == 0);
  CHECK_OK(dle_gpu_catalog_find(cat, "a10", &g, &e), &e);
  CHECK(g && strcmp(g->name, "NVIDIA A10") == 0); /* not an A100 */
  /* Workstation spellings: the Quadro is not the Ada board, "p4" not the P40. */
  CHECK_OK(dle_gpu_catalog_find(cat, "RTX 6000", &g, &e), &e);
  CHECK(g && strcmp(g->name, "Quadro RTX 6000") == 0);
  CHECK_OK(dle_gpu_catalog_find(cat, "rtx 6000 ada", &g, &e), &e);
  CHECK(g && strcmp(g->name, "NVIDIA RTX 6000 Ada Generation") == 0);
  CHECK_OK(dle_gpu_catalog_find(cat, "p4", &g, &e), &e);
  CHECK(g && strcmp(g->name, "Tesla P4") == 0);
  CHECK_OK(dle_gpu_catalog_find(cat, "h100 sxm", &g, &e), &e);
  CHECK(g && strcmp(g->name, "NVIDIA H100 80GB HBM3") == 0);
  CHECK(dle_gpu_catalog_find(cat, "V100", &g, &e) == DLE_EINVAL && g == NULL);
  CHECK(strstr(e.msg, "ambiguous") && strstr(e.msg, "Tesla V100-SXM2-16GB") &&
        strstr(e.msg, "Tesla V100-PCIE-32GB"));
  CHECK(dle_gpu_catalog_find(cat, "Radeon RX 7900", &g, &e) == DLE_ENOTFOUND);
  CHECK(strstr(e.msg, "Radeon RX 7900") != NULL);
  CHECK(dle_gpu_catalog_find(cat, "NVIDIA", &g, &e) == DLE_ENOTFOUND); /* nothing left to match */
  dle_gpu_catalog_free(cat);
  dle_gpu_spec s;
  CHECK_OK(dle_gpu_lookup("Tesla T4", &s, &e), &e);
  CHECK(s.tdp_w == 70);
}

static int parse(const char *text, dle_gpu_catalog **cat, dle_error *e) {
  return dle_gpu_catalog_parse(text, strlen(text), cat, e);
}

#define HDR                                                                                \
  "name,aliases,architecture,cuda_cores,memory_gb,memory_bandwidth_gbs,tdp_w,fp32_tflops," \
  "tensor_fp16_tflops,source\n"

static void test_parser(void) {
  dle_error e;
  dle_gpu_catalog *cat = NULL;
  CHECK_OK(parse("# comment\n\n" HDR
                 "X 1,\"x1|X One\",Arch,128,4,100,50,1.5,,\"sheet, p. 2 \"\"a\"\"\"\r\n",
                 &cat, &e),
           &e);
  if (cat) {
    CHECK(dle_gpu_catalog_count(cat) == 1);
    const dle_gpu_spec *g = dle_gpu_catalog_at(cat, 0);
    CHECK(strcmp(g->source, "sheet, p. 2 \"a\"") == 0);
    CHECK(g->cuda_cores == 128 && isnan(g->tensor_fp16_tflops));
    CHECK(dle_gpu_catalog_at(cat, 1) == NULL);
    CHECK_OK(dle_gpu_catalog_find(cat, "x one", &g, &e), &e);
    dle_gpu_catalog_free(cat);
  }
  struct {
    const char *text, *msg;
  } bad[] = {{"name,aliases\n", "expected 10 fields"},
             {HDR "A,,x,1.5,4,100,50,1,,s\n", "cuda_cores"},
             {HDR "A,,x,128,4,100,-50,1,,s\n", "tdp_w"},
             {HDR "A,,x,128,4,100,50,nan,,s\n", "fp32_tflops"},
             {HDR "A,,x,128,4,100,50,1,,s\nA,,x,128,4,100,50,1,,s\n", "duplicate"},
             {HDR "A,\"x,x,128,4,100,50,1,,s\n", "quote"},
             {HDR, "no GPU rows"},
             {"", "no header"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = parse(bad[i].text, &cat, &e);
    CHECK_MSG(rc == DLE_EPARSE && cat == NULL && strstr(e.msg, bad[i].msg), "case %zu: %d %s", i,
              rc, e.msg);
  }
  CHECK(dle_gpu_catalog_load("/nonexistent/gpus.csv", &cat, &e) == DLE_ENOTFOUND);
}

int main(void) {
  test_shipped();
  test_parser();
  return check_finish();
}
