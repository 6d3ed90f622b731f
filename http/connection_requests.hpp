#pragma once

#include <string>
#include <string_view>

#include "engine/connections/connection_service.hpp"

namespace keyflow::http {

// The connection routes' requests, read strictly (http/json_input.hpp); every failure throws
// Error naming the field.
NewConnection read_new_connection(std::string_view body);
// {"key"}: the body of verifying an event write key.
std::string read_write_key_verify(std::string_view body);

}  // namespace keyflow::http
