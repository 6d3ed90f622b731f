#pragma once

#include <string>
#include <string_view>

namespace keyflow {

// Engine-level checks shared by the services; each throws Error(invalid_argument, ..., field).
void require_name(std::string_view value, const std::string& field);
void require_id(std::string_view value, const std::string& field);
// An absolute http(s) URL with a host.
void require_http_url(std::string_view value, const std::string& field);

}  // namespace keyflow
