// Fault injection for the end-to-end tests: the 1-based steps at which a job makes a fault happen
// on purpose (a NaN loss, a non-finite parameter), listed in an environment variable such as
// RIL_FAULT_NAN_STEPS=3,4. So the tests observe the real guards, not a stand-in.
// Which ranks call: any (every rank reads the same environment under mpirun).
#pragma once

#include <cstdint>
#include <set>

namespace ril {

// The steps listed in `env_name` ("" or unset: none); a malformed entry is a ConfigError.
std::set<int64_t> fault_steps(const char* env_name);

}  // namespace ril
