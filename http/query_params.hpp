#pragma once

#include <string>

#include "http/request.hpp"

namespace keyflow::http {

// A whole number from a query parameter, within [min, max]; fallback when it is absent.
// Throws Error(invalid_argument) naming the parameter otherwise.
int read_int_param(const Request& request, const std::string& name, int min, int max, int fallback);

}  // namespace keyflow::http
