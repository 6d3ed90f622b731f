#pragma once

#include <string_view>

#include "engine/keys/key_service.hpp"
#include "http/request.hpp"

namespace keyflow::http {

// The key routes' requests, read strictly into the engine's structs (http/json_input.hpp):
// every failure throws Error naming the field, before the engine is called.
NewKey read_new_key(std::string_view body);
// PATCH: a field that is absent stays; null clears a nullable field.
KeyPatch read_key_patch(std::string_view body);
RotateOptions read_rotate_options(std::string_view body);
VerifyRequest read_verify_request(std::string_view body);
KeyListRequest read_key_list_request(const Request& request);

}  // namespace keyflow::http
