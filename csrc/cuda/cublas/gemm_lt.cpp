// addmm's bias case (nn.Linear on 2-D input) through cuBLASLt: out = mat1 @ mat2 + bias with the bias added
// in the GEMM's epilogue (CUBLASLT_EPILOGUE_BIAS). The plain path first writes the broadcast bias into the
// m x n output and lets cuBLAS read it back with beta = 1: one extra write and one extra read of the whole
// output, which the epilogue saves. Plain GEMMs stay on cublasGemmStridedBatchedEx, whose own heuristic
// picks from the same kernels; docs/cuda.md says why Lt is used only here.
//
// cublasLtMatmulAlgoGetHeuristic is not free (it inspects the problem and the device), so its answer is
// cached per device in a small LRU keyed by everything it depends on: shape, dtype, operand layouts and
// pointer alignments. "No algorithm" is cached too (the caller falls back to plain cuBLAS). The workspace
// comes from the caching allocator on the current stream, so it is reused in stream order like any tensor.
#include <cublasLt.h>

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cuda/cublas/gemm_internal.h"
#include "cuda/cuda_backend.h"
#include "cuda/gemm_lt_cache.h"
#include "cuda/glue_internal.h"

namespace hy::kernels::cuda {
namespace {

#define HY_CUBLASLT_CHECK(expr)                                                                            \
  do {                                                                                                     \
    cublasStatus_t hy_st_ = (expr);                                                                        \
    if (hy_st_ != CUBLAS_STATUS_SUCCESS)                                                                   \
      throw RuntimeError(str("cuBLASLt error ", cublasLtGetStatusName(hy_st_), " (",                       \
                             cublasLtGetStatusString(hy_st_), ") in ", #expr));                            \
  } while (0)

// The most workspace an algorithm may ask for: cuBLAS's recommendation for Hopper (32 MiB); only what the
// chosen algorithm needs is allocated per call.
constexpr uint64_t kMaxWorkspace = 32u << 20;

std::atomic<bool> g_allowed{true};

// One handle per (thread, device), as the plain cuBLAS handles (kernels_gemm.cpp); never destroyed.
cublasLtHandle_t lt_handle_for(int device) {
  thread_local std::map<int, cublasLtHandle_t> handles;
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  hy::cuda::set_current_device(device);
  cublasLtHandle_t h = nullptr;
  HY_CUBLASLT_CHECK(cublasLtCreate(&h));
  handles[device] = h;
  return h;
}

// The largest power of two (up to 256, Lt's default assumption) dividing the address: the heuristic must
// not pick an algorithm that needs more alignment than a view's offset leaves.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0) align >>= 1;
  return align;
}

struct LtKey {
  int device;
  DType dtype;
  int64_t m, n, k, lda, ldb;
  cublasOperation_t op_a, op_b;
  uint32_t align_a, align_b, align_d, align_bias;
  bool operator==(const LtKey& o) const {
    return device == o.device && dtype == o.dtype && m == o.m && n == o.n && k == o.k && lda == o.lda &&
           ldb == o.ldb && op_a == o.op_a && op_b == o.op_b && align_a == o.align_a && align_b == o.align_b &&
           align_d == o.align_d && align_bias == o.align_bias;
  }
};

struct LtKeyHash {
  size_t operator()(const LtKey& k) const {
    size_t h = 0;
    auto mix = [&h](uint64_t v) { h ^= std::hash<uint64_t>{}(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
    mix(static_cast<uint64_t>(k.device));
    mix(static_cast<uint64_t>(k.dtype));
    for (int64_t v : {k.m, k.n, k.k, k.lda, k.ldb}) mix(static_cast<uint64_t>(v));
    mix(static_cast<uint64_t>(k.op_a) << 1 | static_cast<uint64_t>(k.op_b));
    mix(uint64_t{k.align_a} << 32 | k.align_b);
    mix(uint64_t{k.align_d} << 32 | k.align_bias);
    return h;
  }
};

struct LtChoice {
  bool found = false;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
};

// One device's cached choices, most recently used first, and its counters.
struct DeviceLt {
  std::mutex mu;
  std::list<std::pair<LtKey, LtChoice>> lru;
  std::unordered_map<LtKey, decltype(lru)::iterator, LtKeyHash> index;
  int64_t lt_calls = 0, fallbacks = 0;

  bool find_locked(const LtKey& key, LtChoice& out) {
    auto it = index.find(key);
    if (it == index.end()) return false;
    lru.splice(lru.begin(), lru, it->second);
    out = lru.front().second;
    return true;
  }
  void insert_locked(const LtKey& key, const LtChoice& choice) {
    if (index.count(key)) return;  // another thread asked the heuristic for the same key meanwhile
    while (static_cast<int64_t>(lru.size()) >= hy::cuda::kGemmLtCacheMax) {
      index.erase(lru.back().first);
      lru.pop_back();
    }
    lru.emplace_front(key, choice);
    index[key] = lru.begin();
  }
};

DeviceLt& device_lt(int device) {
  static std::mutex mu;
  static auto* all = new std::map<int, std::unique_ptr<DeviceLt>>();  // never destroyed (exit order)
  std::lock_guard<std::mutex> lock(mu);
  auto& d = (*all)[device];
  if (!d) d = std::make_unique<DeviceLt>();
  return *d;
}

// Owners of Lt's descriptors, destroyed on every exit path.
struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  ~MatmulDesc() { if (d) cublasLtMatmulDescDestroy(d); }
};
struct Layout {
  cublasLtMatrixLayout_t l = nullptr;
  Layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld) {
    HY_CUBLASLT_CHECK(
        cublasLtMatrixLayoutCreate(&l, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld));
  }
  ~Layout() { if (l) cublasLtMatrixLayoutDestroy(l); }
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;
};
struct Preference {
  cublasLtMatmulPreference_t p = nullptr;
  ~Preference() { if (p) cublasLtMatmulPreferenceDestroy(p); }
};

template <typename T>
void set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const T& value) {
  HY_CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &value, sizeof(value)));
}
template <typename T>
void set_pref(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr, const T& value) {
  HY_CUBLASLT_CHECK(cublasLtMatmulPreferenceSetAttribute(p, attr, &value, sizeof(value)));
}

// Asks the heuristic for its best algorithm; any failure means "none" (plain cuBLAS then runs the product).
LtChoice choose(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const Layout& la, const Layout& lb, const Layout& ld,
                const LtKey& key) {
  Preference pref;
  if (cublasLtMatmulPreferenceCreate(&pref.p) != CUBLAS_STATUS_SUCCESS) return {};
  set_pref(pref.p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, kMaxWorkspace);
  set_pref(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.align_a);
  set_pref(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.align_b);
  set_pref(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.align_d);  // C is D (beta = 0)
  set_pref(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.align_d);
  cublasLtMatmulHeuristicResult_t result{};
  int returned = 0;
  const cublasStatus_t st =
      cublasLtMatmulAlgoGetHeuristic(h, desc, la.l, lb.l, ld.l, ld.l, pref.p, 1, &result, &returned);
  if (st != CUBLAS_STATUS_SUCCESS || returned < 1 || result.state != CUBLAS_STATUS_SUCCESS) return {};
  return LtChoice{true, result.algo, result.workspaceSize};
}

}  // namespace

bool gemm_lt_bias(const Tensor& out, const GemmOperand& a, const GemmOperand& b, const Tensor& bias, int64_t m,
                  int64_t n, int64_t k, DType dtype) {
  if (!g_allowed.load(std::memory_order_relaxed)) return false;
  const Device device = out.device();
  auto stream = static_cast<cudaStream_t>(hy::cuda::launch_stream(device));
  cublasLtHandle_t h = lt_handle_for(device.index);
  const cudaDataType_t type = gemm_cuda_type(dtype);

  // Column-major, as the plain path: out^T (n x m) = op(b) (n x k) * op(a) (k x m), so Lt's A is our b and
  // its B our a, and the bias (n values) runs down the rows of out^T: one value per output feature.
  MatmulDesc desc;
  HY_CUBLASLT_CHECK(cublasLtMatmulDescCreate(&desc.d, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  set_desc(desc.d, CUBLASLT_MATMUL_DESC_TRANSA, b.op);
  set_desc(desc.d, CUBLASLT_MATMUL_DESC_TRANSB, a.op);
  set_desc(desc.d, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS);
  const void* bias_ptr = bias.raw_data();
  set_desc(desc.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias_ptr);  // bias dtype: D's (the default)
  const Layout la(type, b.op == CUBLAS_OP_N ? n : k, b.op == CUBLAS_OP_N ? k : n, b.ld);
  const Layout lb(type, a.op == CUBLAS_OP_N ? k : m, a.op == CUBLAS_OP_N ? m : k, a.ld);
  const Layout ld(type, n, m, n);

  const LtKey key{device.index, dtype, m, n, k, b.ld, a.ld, b.op, a.op, alignment_of(b.t.raw_data()),
                  alignment_of(a.t.raw_data()), alignment_of(out.raw_data()), alignment_of(bias_ptr)};
  DeviceLt& cache = device_lt(device.index);
  LtChoice choice;
  bool cached;
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    cached = cache.find_locked(key, choice);
  }
  if (!cached) {
    choice = choose(h, desc.d, la, lb, ld, key);
    std::lock_guard<std::mutex> lock(cache.mu);
    cache.insert_locked(key, choice);
  }
  // The heuristic is told A's, B's and D's alignment but has no attribute for the bias pointer's: a bias view
  // at an odd offset goes to plain cuBLAS rather than risk a kernel that assumes an aligned bias.
  if (choice.found && alignment_of(bias_ptr) >= 16) {
    Tensor workspace;  // freed back to this stream's cache once the matmul is queued, like cuFFT's work area
    if (choice.workspace > 0)
      workspace = Tensor::empty({static_cast<int64_t>((choice.workspace + 7) / 8)}, DType::Int64, device);
    const float one = 1.0f, zero = 0.0f;
    const cublasStatus_t st =
        cublasLtMatmul(h, desc.d, &one, b.t.raw_data(), la.l, a.t.raw_data(), lb.l, &zero, out.raw_data(), ld.l,
                       out.raw_data(), ld.l, &choice.algo, workspace.defined() ? workspace.raw_data() : nullptr,
                       choice.workspace, stream);
    if (st == CUBLAS_STATUS_SUCCESS) {
      std::lock_guard<std::mutex> lock(cache.mu);
      ++cache.lt_calls;
      return true;
    }
    if (st != CUBLAS_STATUS_NOT_SUPPORTED) HY_CUBLASLT_CHECK(st);
  }
  std::lock_guard<std::mutex> lock(cache.mu);
  ++cache.fallbacks;
  return false;
}

}  // namespace hy::kernels::cuda

namespace hy::cuda {

void set_gemm_lt_allowed(bool allow) { kernels::cuda::g_allowed.store(allow); }
bool gemm_lt_allowed() { return kernels::cuda::g_allowed.load(std::memory_order_relaxed); }

GemmLtStats gemm_lt_stats(int device) {
  kernels::cuda::DeviceLt& d = kernels::cuda::device_lt(device);
  std::lock_guard<std::mutex> lock(d.mu);
  return GemmLtStats{static_cast<int64_t>(d.lru.size()), d.lt_calls, d.fallbacks};
}

void gemm_lt_cache_clear(int device) {
  kernels::cuda::DeviceLt& d = kernels::cuda::device_lt(device);
  std::lock_guard<std::mutex> lock(d.mu);
  d.lru.clear();
  d.index.clear();
}

}  // namespace hy::cuda
