// hyflow._C's CUDA entry points (python/hyflow/cuda/ wraps them): the loader's status, device queries,
// the caching allocator's statistics, streams/events as integer handles, host<->device copies, the
// cuBLASLt switch and counters (hy.backends.cuda.matmul) and the test-only stream gate.
// Everything goes through the core's DeviceBackend, so this file compiles the same with or without CUDA.
#include "bindings/pyconvert.h"
#include "core/current_device.h"
#include "core/device_backend.h"
#include "dispatch/cuda_backend_loader.h"
#include "hyflow/build_config.h"
#include "kernels/device_copy.h"

namespace py = pybind11;

namespace hy {
namespace {

DeviceBackend& cuda() { return device_backend(DeviceType::DeviceType_CUDA); }

// A stream argument: an integer handle or an object with one in `cuda_stream` (hy.cuda.Stream, torch's).
StreamHandle stream_handle(py::handle s, const char* what) {
  py::object h = py::hasattr(s, "cuda_stream") ? s.attr("cuda_stream") : py::reinterpret_borrow<py::object>(s);
  HY_CHECK(py::isinstance<py::int_>(h) && !py::isinstance<py::bool_>(h), TypeError, what,
           ": expected a hy.cuda.Stream or an integer stream handle, got ",
           std::string(py::str(py::type::of(s).attr("__name__"))));
  return h.cast<StreamHandle>();
}

}  // namespace

void bind_cuda(py::module_& m) {
  m.def("_cuda_status", [] {
    const CudaBackendStatus s = cuda_backend_status();
    py::dict d;
    d["built"] = s.built;
    d["loaded"] = s.loaded;
    d["reason"] = s.reason;
    d["library"] = s.library;
    d["archs"] = std::string(HYFLOW_CUDA_ARCHS);
    d["cuda_version"] = std::string(HYFLOW_CUDA_VERSION);
    d["cublas"] = std::string(HYFLOW_CUDA_CUBLAS) == "ON";
    d["cufft"] = std::string(HYFLOW_CUDA_CUFFT) == "ON";
    d["cusolver"] = std::string(HYFLOW_CUDA_CUSOLVER) == "ON";
    return d;
  });
  m.def("_cuda_device_count", [] {
    DeviceBackend* b = find_device_backend(DeviceType::DeviceType_CUDA);
    return b ? b->device_count() : 0;
  });
  m.def("_cuda_device_name", [](int i) { return cuda().device_name(i); });
  // What "cuda" without an index names (hy.cuda.set_device checks the index against the device count).
  m.def("_cuda_current_device", [] { return current_cuda_index(); });
  m.def("_cuda_set_current_device", [](int i) { set_current_cuda_index(i); }, py::arg("index"));
  m.def("_cuda_device_properties", [](int i) {
    const DeviceProperties p = cuda().device_properties(i);
    py::dict d;
    d["name"] = p.name;
    d["major"] = p.major;
    d["minor"] = p.minor;
    d["total_memory"] = p.total_memory;
    d["multi_processor_count"] = p.multi_processor_count;
    d["L2_cache_size"] = p.L2_cache_size;
    d["memory_clock_rate"] = p.memory_clock_rate;
    d["memory_bus_width"] = p.memory_bus_width;
    d["memory_bandwidth"] = p.memory_bandwidth;
    return d;
  });
  m.def("_cuda_synchronize", [](int i) {
    py::gil_scoped_release nogil;
    cuda().synchronize(i);
  });
  m.def("_cuda_memory_stats", [](int i) {
    const DeviceMemoryStats s = cuda().memory_stats(i);
    py::dict d;
    d["allocated"] = s.allocated;
    d["reserved"] = s.reserved;
    d["max_allocated"] = s.max_allocated;
    d["pending_frees"] = s.pending_frees;
    return d;
  });
  m.def("_cuda_reset_peak_memory_stats", [](int i) { cuda().reset_peak_memory_stats(i); });
  m.def("_cuda_empty_cache", [] {
    py::gil_scoped_release nogil;  // it waits for the work of recorded streams, which other threads may release
    if (DeviceBackend* b = find_device_backend(DeviceType::DeviceType_CUDA)) b->empty_cache();
  });
  m.def("_cuda_stream_create", [](int i) { return cuda().stream_create(i); });
  m.def("_cuda_stream_destroy", [](StreamHandle s) { cuda().stream_destroy(s); });
  m.def("_cuda_stream_synchronize", [](int i, StreamHandle s) {
    py::gil_scoped_release nogil;
    cuda().stream_synchronize(i, s);
  });
  m.def("_cuda_current_stream", [](int i) { return cuda().current_stream(i); });
  m.def("_cuda_set_current_stream", [](int i, StreamHandle s) { cuda().set_current_stream(i, s); });
  m.def("_cuda_event_create", [](int i, bool timing) { return cuda().event_create(i, timing); });
  m.def("_cuda_event_destroy", [](EventHandle e) { cuda().event_destroy(e); });
  m.def("_cuda_event_record", [](EventHandle e, int i, StreamHandle s) { cuda().event_record(e, i, s); });
  m.def("_cuda_event_synchronize", [](EventHandle e) {
    py::gil_scoped_release nogil;
    cuda().event_synchronize(e);
  });
  m.def("_cuda_event_query", [](EventHandle e) { return cuda().event_query(e); });
  m.def("_cuda_event_elapsed_ms", [](EventHandle a, EventHandle b) { return cuda().event_elapsed_ms(a, b); });
  m.def("_cuda_stream_wait_event", [](int i, StreamHandle s, EventHandle e) { cuda().stream_wait_event(i, s, e); });
  m.def("_cuda_record_stream", [](const Tensor& t, StreamHandle s) {
    HY_CHECK(t.defined(), ValueError, "record_stream: the tensor is undefined");
    HY_CHECK(t.device().type == DeviceType::DeviceType_CUDA, ValueError, "record_stream: expected a CUDA tensor, "
             "got one on ", device_str(t.device()), " (only device memory is stream-ordered)");
    cuda().record_stream(t.storage()->data(), s);
  });
  m.def("_cuda_fft_plan_cache", [](int i) {
    py::dict d;
    d["size"] = cuda().fft_plan_cache_size(i);
    d["max_size"] = cuda().fft_plan_cache_max_size(i);
    return d;
  });
  m.def("_cuda_set_fft_plan_cache_max_size", [](int i, int64_t n) {
    HY_CHECK(n >= 0, ValueError, "cufft_plan_cache.max_size must be >= 0, got ", n);
    cuda().set_fft_plan_cache_max_size(i, n);
  });
  m.def("_cuda_clear_fft_plan_cache", [](int i) { cuda().fft_plan_cache_clear(i); });
  m.def("_cuda_set_allow_cublaslt", [](bool allow) {
    if (DeviceBackend* b = find_device_backend(DeviceType::DeviceType_CUDA)) b->set_allow_cublaslt(allow);
  });
  m.def("_cuda_cublaslt_stats", [](int i) {
    const GemmLtStats s = cuda().cublaslt_stats(i);
    py::dict d;
    d["cached"] = s.cached;
    d["lt_calls"] = s.lt_calls;
    d["fallbacks"] = s.fallbacks;
    return d;
  });
  m.def("_cuda_clear_cublaslt_cache", [](int i) { cuda().cublaslt_cache_clear(i); });
  // Test-only (docs/cuda.md, "Stream gate"): holds a stream busy until opened, deterministically.
  py::class_<StreamGate, std::unique_ptr<StreamGate>>(m, "_CudaStreamGate")
      .def("close", [](StreamGate& g, py::handle s) { g.close(stream_handle(s, "_CudaStreamGate.close")); },
           py::arg("stream"), "Queue on `stream` a kernel that waits until open() (or the timeout).")
      .def("open", &StreamGate::open, "Let the kernels queued by close() exit.")
      .def_property_readonly("timed_out", &StreamGate::timed_out,
                             "True once a kernel gave up waiting because its timeout passed before open().");
  m.def("_cuda_stream_gate", [](int device, double timeout_s) { return cuda().stream_gate(device, timeout_s); },
        py::arg("device") = 0, py::arg("timeout_s") = 10.0);
  m.def("_to_device", [](const Tensor& t, const std::string& device, bool non_blocking) {
    return tensor_to_device(t, device_from_string(device), non_blocking);
  });
  m.def("_pin_memory", [](const Tensor& t) { return tensor_pin_memory(t); });
  m.def("_is_pinned", [](const Tensor& t) {
    DeviceBackend* b = find_device_backend(DeviceType::DeviceType_CUDA);
    return b != nullptr && t.device().is_cpu() && b->is_pinned(t.raw_data());
  });
}

}  // namespace hy
