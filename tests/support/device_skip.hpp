#pragma once
// The one way a test may be skipped: it needs a device (a CUDA GPU) and none is usable.
//
// skip_for_missing_device() prints the marker line and ends the process with status 0. ctest
// reports the test as "Skipped" because its suite was registered with
// prefopt_add_test_suite(... NEEDS_DEVICE), which matches the marker with
// SKIP_REGULAR_EXPRESSION (tests/CMakeLists.txt). No failure prints this marker, and no exit code
// means "skipped" (Catch2 exits with the number of failed assertions), so a failing test can never
// be mistaken for a skipped one. .ci/run prints every skip with its reason and fails when a test
// outside the device suites was skipped.
#include <cstdio>
#include <cstdlib>
#include <string>

namespace prefopt::testing {

inline constexpr const char* device_skip_marker = "PREFOPT_SKIP_NO_DEVICE:";

[[noreturn]] inline void skip_for_missing_device(const std::string& reason) {
  std::printf("%s %s\n", device_skip_marker, reason.c_str());
  std::fflush(stdout);
  std::exit(0);
}

}  // namespace prefopt::testing
