"""The fused 8-op chain on 16M float32 against STREAM triad measured in the same process, same moment.

bench_compile.py compares the chain's GB/s with the STREAM figures of ../shared/machine.md, taken on a
quiet machine; on a loaded one that ratio says more about the load than about the kernel. Here the triad
(c = a + 0.25 b over the same 16M float32, plain and non-temporal stores) is compiled with the graph
compiler's toolchain and launched through the same FusedKernel launcher and thread pool as compiled
kernels, interleaved with the chain, so "% of triad" compares like with like:

  * compiled chain (streaming stores: its operands exceed the L3, docs/compiler.md);
  * the same chain compiled with plain stores (the streaming threshold raised for that compile);
  * eager hyflow, torch eager (when installed);
  * GB/s for the bytes the chain must move: read x and y, write the result (12 bytes per element).

    python benchmarks/bench_stream_chain.py [--threads 2] [--repeats 7] [--quick]
"""
from _common import optional_torch, parse_args, report, setup_threads, timeit

import hyflow as hy
from hyflow import _C
from hyflow.compiler.codegen import kernel_source, toolchain

_TRIAD = r"""
#include <cstdint>
#include <immintrin.h>
// c = a + 0.25 b over [begin, end): the launcher's ABI (docs/compiler.md).
extern "C" __attribute__((visibility("default"))) void triad_plain(int64_t begin, int64_t end, char** p, const int64_t*) {
  const float* __restrict a = reinterpret_cast<const float*>(p[0]);
  const float* __restrict b = reinterpret_cast<const float*>(p[1]);
  float* __restrict c = reinterpret_cast<float*>(p[2]);
  for (int64_t i = begin; i < end; ++i) c[i] = a[i] + 0.25f * b[i];
}
extern "C" __attribute__((visibility("default"))) void triad_nt(int64_t begin, int64_t end, char** p, const int64_t*) {
  const float* __restrict a = reinterpret_cast<const float*>(p[0]);
  const float* __restrict b = reinterpret_cast<const float*>(p[1]);
  float* __restrict c = reinterpret_cast<float*>(p[2]);
  int64_t i = begin;
  for (; i < end && (reinterpret_cast<uintptr_t>(c + i) & 63); ++i) c[i] = a[i] + 0.25f * b[i];
#if defined(__AVX512F__)
  for (; i + 16 <= end; i += 16)
    _mm512_stream_ps(c + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_mul_ps(_mm512_set1_ps(0.25f), _mm512_loadu_ps(b + i))));
  _mm_sfence();
#endif
  for (; i < end; ++i) c[i] = a[i] + 0.25f * b[i];
}
"""


def chain8(x, y):
    a = x * y + 1.0
    b = (a - y).abs()
    c = hy.relu(b - 0.5).clamp(0.0, 4.0)
    return c * 0.25 + x


def main():
    args = parse_args(__doc__)
    setup_threads(args.threads)
    torch = optional_torch()
    n = (4 << 20) if args.quick else (16 << 20)
    x, y, out = hy.rand(n), hy.rand(n), hy.empty(n)
    gb = 3 * n * 4 / 1e9

    module = toolchain.load_module(_TRIAD, ["triad_plain", "triad_nt"])
    def launcher(name):
        return _C._compiler.FusedKernel(module.address(name), n, [hy.float32] * 3, [[n]] * 3, [[1]] * 3, [], 32768)
    triads = {name: launcher(name) for name in ("triad_plain", "triad_nt")}

    streamed = hy.compile(chain8)
    streamed(x, y)
    saved = kernel_source.STREAM_BYTES
    kernel_source.STREAM_BYTES = 1 << 62   # this compile keeps plain stores
    try:
        plain = hy.compile(chain8)
        plain(x, y)
    finally:
        kernel_source.STREAM_BYTES = saved
    assert "stream_copy" in streamed.entries()[0].kernels.source or args.quick
    assert "stream_copy" not in plain.entries()[0].kernels.source
    assert bool((streamed(x, y) == chain8(x, y)).all().item())

    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    t_triad = timeit(lambda: triads["triad_plain"].run([x, y, out]), args.repeats)
    t_triad_nt = timeit(lambda: triads["triad_nt"].run([x, y, out]), args.repeats)
    t_stream = timeit(lambda: streamed(x, y), args.repeats)
    t_plain = timeit(lambda: plain(x, y), args.repeats)
    t_eager = timeit(lambda: chain8(x, y), args.repeats)
    rows = [
        {"case": "STREAM triad, plain stores", "ms": t_triad * 1e3, "GB/s": gb / t_triad, "of triad": 1.0},
        {"case": "STREAM triad, non-temporal stores", "ms": t_triad_nt * 1e3, "GB/s": gb / t_triad_nt,
         "of triad": t_triad / t_triad_nt},
        {"case": "8-op chain compiled (streaming stores)", "ms": t_stream * 1e3, "GB/s": gb / t_stream,
         "of triad": t_triad / t_stream, "eager/this": t_eager / t_stream},
        {"case": "8-op chain compiled, plain stores", "ms": t_plain * 1e3, "GB/s": gb / t_plain,
         "of triad": t_triad / t_plain, "eager/this": t_eager / t_plain},
        {"case": "8-op chain eager hyflow", "ms": t_eager * 1e3, "GB/s": gb / t_eager, "of triad": t_triad / t_eager},
    ]
    if torch is not None:
        tx, ty = torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy())

        def tchain():
            a_ = tx * ty + 1.0
            b_ = (a_ - ty).abs()
            c_ = torch.relu(b_ - 0.5).clamp(0.0, 4.0)
            return c_ * 0.25 + tx
        t_torch = timeit(tchain, args.repeats)
        rows.append({"case": "8-op chain torch eager", "ms": t_torch * 1e3, "GB/s": gb / t_torch,
                     "of triad": t_triad / t_torch})
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    report("bench_stream_chain", rows,
           [("case", "case", None), ("ms", "ms", "{:.2f}"), ("GB/s", "GB/s", "{:.1f}"),
            ("of triad", "of triad", "{:.0%}"), ("eager/this", "eager/this", "{:.1f}x")], args,
           notes=[f"{n} float32, {args.threads} thread(s); load average {' '.join(load_before)} before, "
                  f"{' '.join(load_after)} after"])


if __name__ == "__main__":
    main()
