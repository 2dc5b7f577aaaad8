// bf16 GEMM through oneDNN's matmul primitive (docs/design.md, "Choosing a library": on this machine it
// reaches AMX/AVX512-BF16 speed that a hand-written kernel would need months to match).
//
// Threads: Debian's oneDNN runs on OpenMP, a second pool beside hyflow's TBB arena. It is only entered
// from a thread outside hyflow's parallel loops, sized to hyflow's thread count, so the two pools never
// run at once; inside a parallel_for chunk (nested) it gets one thread, like the BLAS.
#include "kernels/cpu/onednn/gemm_onednn_internal.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/gil_release_internal.h"
#include "core/parallel.h"

#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
extern "C" void omp_set_num_threads(int);
#endif

namespace hy::cpu {
namespace {

using dnnl::memory;
using Dt = memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// Every matrix b of an operand at base + b * stride (stride 0: one matrix broadcast over the batch), or
// false when the offsets follow no single stride (then each product is its own call).
bool uniform_stride(const int64_t* offs, int64_t batch, int64_t* stride) {
  *stride = batch > 1 ? offs[1] - offs[0] : 0;
  for (int64_t i = 1; i < batch; ++i)
    if (offs[i] - offs[0] != i * *stride) return false;
  return true;
}

// A (rows x cols) operand's memory descriptor: `nb` matrices `stride` apart, each row-major with leading
// dimension ld, or stored transposed (its transpose row-major with ld) - oneDNN reads both in place.
memory::desc operand_desc(int64_t nb, int64_t rows, int64_t cols, int64_t stride, int64_t ld, bool trans) {
  memory::dims strides{nb > 1 ? stride : rows * cols, trans ? 1 : ld, trans ? ld : 1};
  return memory::desc({nb, rows, cols}, Dt::bf16, strides);
}

// The primitive for one problem shape, cached per thread: creating a primitive descriptor costs tens of
// microseconds, which a training loop would pay on every small matmul otherwise.
// The thread count is part of the key: oneDNN plans a primitive's work split for the threads it sees when
// the primitive is created, and runs a primitive made for 1 thread on 1 thread only.
using PrimKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, bool, bool, float, float, bool, int>;
struct CachedPrim {
  bool usable;  // false: oneDNN has only its reference kernel for this case (slower than our float32 path)
  dnnl::matmul prim;
};

const CachedPrim& primitive_for(const PrimKey& key, const memory::desc& ad, const memory::desc& bd,
                                const memory::desc& cd, float alpha, float beta) {
  thread_local std::map<PrimKey, CachedPrim> cache;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() > 512) cache.clear();  // shapes churn (e.g. varying batch sizes): bound the memory
  CachedPrim entry{false, {}};
  try {
    dnnl::primitive_attr attr;
    if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
    if (beta != 0.0f) {
      dnnl::post_ops po;
      po.append_sum(beta);
      attr.set_post_ops(po);
    }
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), attr, cpu_engine());
    const std::string impl = pd.impl_info_str();
    if (impl.rfind("ref", 0) != 0) entry = {true, dnnl::matmul(pd)};
  } catch (const dnnl::error&) {
    // No kernel for this layout/attribute on this CPU: the caller's float32 path handles it.
  }
  return cache.emplace(key, std::move(entry)).first->second;
}

}  // namespace

bool onednn_gemm_bf16(const LowpGemm& g, void* c, bool c_is_f32) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0 || g.k <= 0) return false;  // nothing a library could speed up
  if (g.bias) return false;  // the caller retries with a float32 C holding the bias
  int64_t sa, sb;
  const bool strided =
      uniform_stride(g.a.batch_offsets, g.batch, &sa) && uniform_stride(g.b.batch_offsets, g.batch, &sb);
  // One call over the whole batch when both operands follow a stride, else one call per product.
  const int64_t nb = strided ? g.batch : 1, calls = strided ? 1 : g.batch;
  const int64_t na = strided && sa == 0 ? 1 : nb, nbb = strided && sb == 0 ? 1 : nb;
  if (!strided) sa = sb = 0;
  const memory::desc ad = operand_desc(na, g.m, g.k, sa, g.a.ld, g.a.trans);
  const memory::desc bd = operand_desc(nbb, g.k, g.n, sb, g.b.ld, g.b.trans);
  const memory::desc cd({nb, g.m, g.n}, c_is_f32 ? Dt::f32 : Dt::bf16, memory::format_tag::abc);
  const int threads = in_parallel_region() ? 1 : get_num_threads();
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  omp_set_num_threads(threads);  // before the primitive is made: it is planned for this many threads
#endif
  const PrimKey key{na, nbb, nb, g.m, g.n, g.k, sa, sb, g.a.ld, g.b.ld, g.a.trans, g.b.trans,
                    g.alpha, g.beta, c_is_f32, threads};
  const CachedPrim& p = primitive_for(key, ad, bd, cd, g.alpha, g.beta);
  if (!p.usable) return false;
  thread_local dnnl::stream stream(cpu_engine());
  const size_t c_elem = c_is_f32 ? 4 : 2;
  // Like a long parallel_for, a large product lets other Python threads run meanwhile; a small one keeps
  // the GIL (2^18 multiply-adds take about half a microsecond here, what a GIL hand-over costs).
  auto run = [&] {
    for (int64_t i = 0; i < calls; ++i) {
      // oneDNN takes non-const handles but only reads src/weights.
      auto* pa = const_cast<uint16_t*>(g.a.base + g.a.batch_offsets[strided ? 0 : i]);
      auto* pb = const_cast<uint16_t*>(g.b.base + g.b.batch_offsets[strided ? 0 : i]);
      char* pc = static_cast<char*>(c) + static_cast<size_t>(i * g.m * g.n) * c_elem;
      memory am(ad, cpu_engine(), pa), bm(bd, cpu_engine(), pb), cm(cd, cpu_engine(), pc);
      p.prim.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    }
    stream.wait();
  };
  if (g.batch * g.m * g.n * g.k >= (int64_t{1} << 18)) run_without_gil(run);
  else run();
  return true;
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string onednn_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::sse41: return "sse41";
    default: return "other";
  }
}

}  // namespace hy::cpu
