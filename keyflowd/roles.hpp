#pragma once

#include "keyflowd/config.hpp"

namespace keyflow {

// Runs the configured role until SIGINT or SIGTERM; returns the process exit code.
int run_role(const Config& config);

}  // namespace keyflow
