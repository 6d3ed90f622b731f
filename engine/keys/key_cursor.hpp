#pragma once

#include <string>
#include <utility>

#include "engine/core/clock.hpp"

namespace keyflow {

// The position after which the next page of a key list starts: the last key's created_at
// and id, opaque to clients (base64 of "<timestamp>|<id>").
struct KeyCursor {
  TimePoint created_at;
  std::string id;
};

std::string encode_key_cursor(const KeyCursor& cursor);
// Throws Error(invalid_argument, field "cursor") for anything encode_key_cursor did not make.
KeyCursor decode_key_cursor(std::string_view text);

}  // namespace keyflow
