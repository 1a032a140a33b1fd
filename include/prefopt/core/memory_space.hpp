#pragma once
// Memory spaces: where a view's pointer lives, carried in the view's type so that handing host
// memory to a device backend (or device memory to a host backend) is a compile error rather than
// an invalid address inside a kernel.
//
// Every backend names its space as `B::memory_space`; every view (`matrix_view<T, Space>`,
// `logits_view<T, Space>`) carries one, host_space by default. Algorithms templated on B
// static_assert that each view's space is B::memory_space. A view is put in the device space
// where its pointer is made, e.g. `matrix_view<const float, device_space>::contiguous(p, r, c)`
// for a CUDA tensor's data_ptr(); there is no implicit conversion between spaces.

#include <string_view>

namespace prefopt {

/// Memory the host CPU can read and write directly (Eigen, xtensor, NumPy, CPU tensors).
struct host_space {
  static constexpr std::string_view name = "host_space";
};

/// Memory of an accelerator that host code must not dereference (CUDA device memory).
struct device_space {
  static constexpr std::string_view name = "device_space";
};

}  // namespace prefopt
