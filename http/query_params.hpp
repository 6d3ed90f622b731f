#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/request.hpp"

namespace keyflow::http {

// A whole number from a query parameter, within [min, max]; fallback when it is absent.
// Throws Error(invalid_argument) naming the parameter otherwise.
int read_int_param(const Request& request, const std::string& name, int min, int max, int fallback);

// A list's Link header for its next page, from the validated request alone: no request byte
// the service did not accept reaches a response header, and every value is percent-encoded.
using ListFilters = std::vector<std::pair<const char*, std::optional<std::string>>>;
std::string next_page_link(const std::string& path, const ListFilters& filters, int limit,
                           const std::string& cursor);

}  // namespace keyflow::http
