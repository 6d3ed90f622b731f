#pragma once

#include <map>
#include <string>
#include <string_view>

namespace keyflow::http {

// The path and query of a request target ("/v1/api-keys?limit=10"). The path stays
// percent-encoded (routes match on it; ids in it are validated by the engine); query names
// and values are decoded, and must then be valid UTF-8 without control characters, since
// they reach SQL parameters and the messages of error bodies.
struct RequestTarget {
  std::string path;  // without trailing slashes, except for "/"
  std::map<std::string, std::string> query;
};

// Throws Error(malformed_request) for a target that is not in origin form, and
// Error(invalid_argument) naming the parameter for a query name or value that is not text
// or longer than max_param_bytes.
RequestTarget parse_request_target(std::string_view target, std::size_t max_param_bytes = 2048);

// UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

}  // namespace keyflow::http
