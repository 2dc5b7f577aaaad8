// The CUDA kernels of _fused_sgd_ and _fused_adam_ (optim.cu): the CPU kernels' checks (every list one
// contiguous tensor per parameter, of its dtype and size, here on the parameters' GPU), then the chunk
// table of all parameters copied to the device and one launch for the whole step.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <utility>
#include <vector>

#include "cuda/glue_internal.h"
#include "kernels/device_copy.h"

namespace hy::kernels::cuda {
namespace {

using hy::cuda::OptimChunk;

void check_lists(const char* op, const std::vector<Tensor>& params,
                 std::initializer_list<std::pair<const char*, const std::vector<Tensor>*>> lists) {
  const Device device = params.empty() ? Device{} : params[0].device();
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    HY_CHECK(p.dtype() == params[0].dtype() && (p.dtype() == DType::Float32 || p.dtype() == DType::Float64),
             TypeError, op, ": params must all be float32 or all float64, params[", i, "] is ", p.describe());
    HY_CHECK(p.is_contiguous() && p.device() == device, ValueError, op, ": params[", i, "] must be a contiguous ",
             "tensor on ", device_str(device), ", got ", p.describe());
  }
  for (const auto& [name, list] : lists) {
    HY_CHECK(list->size() == params.size(), ValueError, op, ": ", name, " has ", list->size(),
             " tensors but params has ", params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor& t = (*list)[i];
      HY_CHECK(t.dtype() == params[i].dtype() && t.numel() == params[i].numel() && t.is_contiguous() &&
                   t.device() == device,
               ValueError, op, ": ", name, "[", i, "] must be a contiguous tensor on ", device_str(device),
               " with the dtype and size of params[", i, "] (", params[i].describe(), "), got ", t.describe());
    }
  }
}

// The chunk table of the step, on the device (a small synchronous host-to-device copy). The returned
// tensor owns the table; its stream order keeps it alive until the launch has read it.
Tensor chunk_table(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                   std::initializer_list<const std::vector<Tensor>*> states, int64_t& n) {
  std::vector<OptimChunk> chunks;
  for (size_t i = 0; i < params.size(); ++i) {
    OptimChunk c{};
    c.param = params[i].raw_data();
    c.grad = grads[i].raw_data();
    int k = 0;
    for (const auto* list : states) c.state[k++] = list->empty() ? nullptr : (*list)[i].raw_data();
    for (int64_t b = 0; b < params[i].numel(); b += hy::cuda::kOptimChunk) {
      c.begin = b;
      c.end = std::min(params[i].numel(), b + hy::cuda::kOptimChunk);
      chunks.push_back(c);
    }
  }
  n = static_cast<int64_t>(chunks.size());
  const int64_t words = (n * static_cast<int64_t>(sizeof(OptimChunk)) + 7) / 8;
  Tensor host = Tensor::empty(Shape{std::max<int64_t>(words, 1)}, DType::Int64);
  if (n > 0) std::memcpy(host.raw_data(), chunks.data(), chunks.size() * sizeof(OptimChunk));
  return tensor_to_device(host, params[0].device(), false);
}

void note_writes(std::initializer_list<const std::vector<Tensor>*> lists) {
  for (const auto* list : lists)
    for (const Tensor& t : *list) t.note_write();
}

}  // namespace

void fused_sgd_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& momentum_buffers, double lr, double momentum, double dampening,
                double weight_decay, bool nesterov, bool maximize, bool first_step) {
  const char* op = "_fused_sgd_";
  const bool use_mom = momentum != 0.0;
  if (use_mom) check_lists(op, params, {{"grads", &grads}, {"momentum_buffers", &momentum_buffers}});
  else check_lists(op, params, {{"grads", &grads}});
  if (params.empty()) return;
  note_writes({&params});
  if (use_mom) note_writes({&momentum_buffers});
  const std::vector<Tensor> none;
  int64_t n = 0;
  const Tensor table = chunk_table(params, grads, {use_mom ? &momentum_buffers : &none}, n);
  const hy::cuda::SgdHyper h{lr, momentum, dampening, weight_decay, nesterov, maximize, first_step, use_mom};
  hy::cuda::launch_fused_sgd(params[0].dtype(), static_cast<const OptimChunk*>(table.raw_data()), n, h,
                             hy::cuda::launch_stream(params[0].device()));
}

void fused_adam_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const std::vector<Tensor>& max_exp_avg_sqs, double lr, double beta1, double beta2,
                 double weight_decay, double eps, int64_t step, bool amsgrad, bool decoupled, bool maximize) {
  const char* op = "_fused_adam_";
  HY_CHECK(step >= 1, ValueError, op, ": step must be >= 1, got ", step);
  if (amsgrad) {
    check_lists(op, params, {{"grads", &grads}, {"exp_avgs", &exp_avgs}, {"exp_avg_sqs", &exp_avg_sqs},
                             {"max_exp_avg_sqs", &max_exp_avg_sqs}});
  } else {
    check_lists(op, params, {{"grads", &grads}, {"exp_avgs", &exp_avgs}, {"exp_avg_sqs", &exp_avg_sqs}});
  }
  if (params.empty()) return;
  note_writes({&params, &exp_avgs, &exp_avg_sqs});
  if (amsgrad) note_writes({&max_exp_avg_sqs});
  const std::vector<Tensor> none;
  int64_t n = 0;
  const Tensor table = chunk_table(params, grads, {&exp_avgs, &exp_avg_sqs, amsgrad ? &max_exp_avg_sqs : &none}, n);
  const hy::cuda::AdamHyper h{lr,
                              beta1,
                              beta2,
                              weight_decay,
                              eps,
                              1.0 - std::pow(beta1, static_cast<double>(step)),
                              std::sqrt(1.0 - std::pow(beta2, static_cast<double>(step))),
                              amsgrad,
                              decoupled,
                              maximize};
  hy::cuda::launch_fused_adam(params[0].dtype(), static_cast<const OptimChunk*>(table.raw_data()), n, h,
                              hy::cuda::launch_stream(params[0].device()));
}

}  // namespace hy::kernels::cuda
