#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>

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

// A page of a list as every list answers it (seed 002's key list): the body is the bare array,
// the next page's cursor travels in X-Next-Cursor and Link.
Response list_page(boost::json::array items, const std::optional<std::string>& next_cursor,
                   const std::string& path, const ListFilters& filters, int limit);

}  // namespace keyflow::http
