#pragma once
// Build-wide configuration: the host/device qualifier every kernel-reachable scalar function
// carries, and the library version.

#define PREFOPT_VERSION_MAJOR 0
#define PREFOPT_VERSION_MINOR 1
#define PREFOPT_VERSION_PATCH 0
#define PREFOPT_VERSION_STRING "0.1.0"

// Scalar maths shared by CPU and CUDA code is written once and marked PREFOPT_HD, so the very
// same loss / numerics code is compiled into host functions and device kernels.
#if defined(__CUDACC__) || defined(__HIPCC__)
#define PREFOPT_HD __host__ __device__
#define PREFOPT_DEVICE_COMPILER 1
#else
#define PREFOPT_HD
#define PREFOPT_DEVICE_COMPILER 0
#endif

// True only in the device pass of nvcc, where std:: maths and exceptions are unavailable.
#if defined(__CUDA_ARCH__)
#define PREFOPT_IN_DEVICE_CODE 1
#else
#define PREFOPT_IN_DEVICE_CODE 0
#endif

#include <cstdint>

namespace prefopt {

/// Signed index type for all extents and strides (matches Eigen::Index and PyTorch's int64).
using index_t = std::int64_t;

/// Label value PyTorch's cross-entropy (and TRL) uses for "ignore this position".
inline constexpr std::int64_t ignore_index_default = -100;

struct version_info {
  int major, minor, patch;
};
inline constexpr version_info version{PREFOPT_VERSION_MAJOR, PREFOPT_VERSION_MINOR,
                                      PREFOPT_VERSION_PATCH};

}  // namespace prefopt
