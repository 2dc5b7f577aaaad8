// DLPack below the Python layer: export/import round trips, the deleter contract (called exactly
// once, when the last view dies; never on a rejected import), flags, NULL strides and byte offsets.
#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"
#include "hyflow/ops/creation.h"
#include "hyflow/ops/tensor.h"
#include "interop/dlpack.h"

namespace hy {
namespace {

// A foreign producer: a heap buffer described by a DLManagedTensorVersioned whose deleter counts calls.
struct ForeignProducer {
  std::vector<float> data;
  std::vector<int64_t> shape, strides;
  int deleted = 0;
  DLManagedTensorVersioned managed{};

  ForeignProducer(std::vector<int64_t> shp, std::vector<int64_t> str) : shape(std::move(shp)), strides(std::move(str)) {
    data.resize(64);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i);
    managed.version = DLPackVersion{1, 0};
    managed.manager_ctx = this;
    managed.deleter = [](DLManagedTensorVersioned* m) { static_cast<ForeignProducer*>(m->manager_ctx)->deleted++; };
    managed.dl_tensor.data = data.data();
    managed.dl_tensor.device = DLDevice{kDLCPU, 0};
    managed.dl_tensor.ndim = static_cast<int32_t>(shape.size());
    managed.dl_tensor.dtype = DLDataType{kDLFloat, 32, 1};
    managed.dl_tensor.shape = shape.data();
    managed.dl_tensor.strides = strides.empty() ? nullptr : strides.data();
  }
};

TEST(DLPack, DTypeCodesFollowTheSpec) {
  EXPECT_EQ(dlpack_dtype(DType::Bool).code, kDLBool);
  EXPECT_EQ(kDLBool, 6);
  EXPECT_EQ(dlpack_dtype(DType::BFloat16).code, kDLBfloat);
  EXPECT_EQ(kDLBfloat, 4);
  EXPECT_EQ(dlpack_dtype(DType::Int32).bits, 32);
  for (int i = 0; i < kNumDTypes; ++i) {
    DType t = static_cast<DType>(i);
    EXPECT_EQ(dtype_from_dlpack(dlpack_dtype(t)), t);
  }
  EXPECT_THROW(dtype_from_dlpack(DLDataType{kDLUInt, 8, 1}), TypeError);
  EXPECT_THROW(dtype_from_dlpack(DLDataType{kDLFloat, 32, 4}), TypeError);
}

TEST(DLPack, ExportDescribesTheTensorAndPinsIt) {
  Tensor t = ops::transpose(ops::view(ops::arange(Scalar(0), Scalar(6), Scalar(1), DType::Float32), {2, 3}), 0, 1);
  DLManagedTensorVersioned* m = to_dlpack_versioned(t);
  EXPECT_EQ(m->version.major, 1u);
  EXPECT_EQ(m->flags, 0u);
  EXPECT_EQ(m->dl_tensor.data, t.raw_data());
  EXPECT_EQ(m->dl_tensor.ndim, 2);
  EXPECT_EQ(m->dl_tensor.shape[0], 3);
  EXPECT_EQ(m->dl_tensor.strides[0], 1);
  EXPECT_EQ(m->dl_tensor.strides[1], 3);
  std::weak_ptr<StorageImpl> storage = t.storage();
  t = Tensor();
  EXPECT_FALSE(storage.expired());  // the managed tensor holds it
  m->deleter(m);
  EXPECT_TRUE(storage.expired());
}

TEST(DLPack, HyflowRoundTripSharesStorage) {
  Tensor t = Tensor::empty({4}, DType::Int64);
  Tensor u = from_dlpack(to_dlpack(t));
  EXPECT_EQ(u.storage(), t.storage());
  Tensor v = from_dlpack(to_dlpack_versioned(t));
  EXPECT_EQ(v.storage(), t.storage());
}

TEST(DLPack, ImportCallsTheDeleterOnceWhenTheLastViewDies) {
  ForeignProducer p({3, 4}, {});  // NULL strides: compact row-major
  Tensor t = from_dlpack(&p.managed);
  EXPECT_EQ(t.strides(), (Strides{4, 1}));
  EXPECT_EQ(t.raw_data(), p.data.data());
  Tensor view = ops::select(t, 0, 2);
  t = Tensor();
  EXPECT_EQ(p.deleted, 0);
  EXPECT_EQ(view.data<float>()[1], 9.0f);
  view = Tensor();
  EXPECT_EQ(p.deleted, 1);
}

TEST(DLPack, ByteOffsetReadOnlyAndStrides) {
  ForeignProducer p({2, 2}, {1, 4});
  p.managed.dl_tensor.byte_offset = 2 * sizeof(float);
  p.managed.flags = DLPACK_FLAG_BITMASK_READ_ONLY;
  {
    Tensor t = from_dlpack(&p.managed);
    EXPECT_EQ(t.data<float>()[0], 2.0f);
    EXPECT_EQ(t.data<float>()[t.strides()[1]], 6.0f);
    EXPECT_FALSE(t.storage()->writable());
    EXPECT_THROW(t.note_write(), ValueError);
  }
  EXPECT_EQ(p.deleted, 1);
}

TEST(DLPack, RejectedImportsLeaveOwnershipWithTheCaller) {
  ForeignProducer neg({3}, {-1});
  EXPECT_THROW(from_dlpack(&neg.managed), ValueError);
  ForeignProducer cuda({3}, {});  // a device hyflow has no backend for
  cuda.managed.dl_tensor.device.device_type = kDLOpenCL;
  EXPECT_THROW(from_dlpack(&cuda.managed), NotImplementedError);
  ForeignProducer newer({3}, {});
  newer.managed.version.major = 2;
  EXPECT_THROW(from_dlpack(&newer.managed), ValueError);
  EXPECT_EQ(neg.deleted + cuda.deleted + newer.deleted, 0);
}

}  // namespace
}  // namespace hy
