// DLPack v1.0: the C structs that let array libraries share memory without copying, written from the
// public specification (https://dmlc.github.io/dlpack/latest/c_api.html), and hyflow's conversions
// between a Tensor and a DLManagedTensor(Versioned). No Python here: the capsule protocol is in
// bindings/bind_dlpack.cpp.
//
//   DLManagedTensorVersioned* m = hy::to_dlpack_versioned(t);   // the consumer calls m->deleter(m)
//   hy::Tensor u = hy::from_dlpack(m);                           // u owns m: deleter runs when u's storage dies
//
// The structs keep the specification's names and layout (they are an ABI). The include guard is the
// reference header's, so a translation unit that includes both gets one definition.
#ifndef DLPACK_DLPACK_H_
#define DLPACK_DLPACK_H_

#include <stddef.h>
#include <stdint.h>

#define DLPACK_MAJOR_VERSION 1
#define DLPACK_MINOR_VERSION 0

#ifdef __cplusplus
extern "C" {
#endif

/// The DLPack ABI version a DLManagedTensorVersioned was produced with.
typedef struct {
  uint32_t major;
  uint32_t minor;
} DLPackVersion;

/// Where the memory lives.
typedef enum {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16,
  kDLMAIA = 17,
} DLDeviceType;

/// A device: its type and ordinal.
typedef struct {
  DLDeviceType device_type;
  int32_t device_id;
} DLDevice;

/// Type codes of DLDataType::code.
typedef enum {
  kDLInt = 0U,
  kDLUInt = 1U,
  kDLFloat = 2U,
  kDLOpaqueHandle = 3U,
  kDLBfloat = 4U,
  kDLComplex = 5U,
  kDLBool = 6U,
} DLDataTypeCode;

/// An element type: code, bits per lane, lanes (1 for scalars).
typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} DLDataType;

/// A strided view of memory. strides (in elements) may be NULL, meaning compact row-major.
typedef struct {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
} DLTensor;

/// The legacy (pre-1.0) managed tensor: a DLTensor plus its owner's context and deleter.
typedef struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(struct DLManagedTensor* self);
} DLManagedTensor;

/// The memory must not be written through this tensor.
#define DLPACK_FLAG_BITMASK_READ_ONLY (1UL << 0UL)
/// The producer made a copy for this export, so the consumer owns data nobody else sees.
#define DLPACK_FLAG_BITMASK_IS_COPIED (1UL << 1UL)

/// The versioned (1.0) managed tensor: adds the ABI version and flags.
typedef struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(struct DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
} DLManagedTensorVersioned;

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // DLPACK_DLPACK_H_

#ifndef HYFLOW_INTEROP_DLPACK_H_
#define HYFLOW_INTEROP_DLPACK_H_
#ifdef __cplusplus
#include <functional>
#include <memory>

#include "core/tensor.h"

namespace hy {

/// The DLPack element type of a hyflow dtype (bool -> kDLBool/8, bfloat16 -> kDLBfloat/16, ...).
DLDataType dlpack_dtype(DType t);
/// The hyflow dtype of a DLPack element type. Throws TypeError for types hyflow lacks (uint8, complex, lanes > 1).
DType dtype_from_dlpack(DLDataType t);

/// Export `t` (a CPU tensor) without copying; the managed tensor keeps t's storage alive until its deleter runs.
DLManagedTensor* to_dlpack(const Tensor& t);
/// Versioned export; read-only storage sets DLPACK_FLAG_BITMASK_READ_ONLY, `copied` sets IS_COPIED.
DLManagedTensorVersioned* to_dlpack_versioned(const Tensor& t, bool copied = false);

/// A tensor viewing `dl` (validated first: CPU, known dtype, non-negative strides). `make_owner` is
/// called only once validation passed, and the storage holds what it returns; so on a throw the
/// caller still owns the producer's memory.
Tensor tensor_from_dltensor(const DLTensor& dl, bool writable, const std::function<std::shared_ptr<void>()>& make_owner);
/// Take ownership of `m`: the tensor (and its views) call m->deleter once, when the last one dies. On a
/// throw `m` is untouched.
Tensor from_dlpack(DLManagedTensor* m);
/// Versioned form: checks the major version and honours the read-only flag.
Tensor from_dlpack(DLManagedTensorVersioned* m);
/// When `m` was exported by hyflow, the tensor it holds (shares its storage, version counter and
/// writability); else an undefined tensor. Lets a hyflow -> hyflow round trip keep storage identity.
Tensor hyflow_tensor_of(const DLManagedTensor* m);
/// Versioned form of hyflow_tensor_of.
Tensor hyflow_tensor_of(const DLManagedTensorVersioned* m);

}  // namespace hy
#endif  // __cplusplus
#endif  // HYFLOW_INTEROP_DLPACK_H_
