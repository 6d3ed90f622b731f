#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/ids.hpp"

namespace keyflow {

// The position after which the next page of a key list starts: the last key's created_at
// and id, opaque to clients (base64 of "<timestamp>|<id>").
struct KeyCursor {
  TimePoint created_at;
  std::string id;
};

std::string encode_key_cursor(const KeyCursor& cursor);
// Throws Error(invalid_argument, field "cursor") for anything encode_key_cursor did not make.
// Lists of other resources page the same way; valid_id says what their ids look like.
KeyCursor decode_key_cursor(std::string_view text, bool (*valid_id)(std::string_view) = is_id);

// Lists read limit + 1 rows, oldest or newest first by (created_at, id): the extra one tells
// that another page follows. Trims `items` to `limit` and returns the cursor after the last
// one kept, or nothing on the last page.
template <class Item>
std::optional<std::string> next_page_cursor(std::vector<Item>& items, int limit) {
  if (items.size() <= static_cast<std::size_t>(limit)) return std::nullopt;
  items.resize(static_cast<std::size_t>(limit));
  return encode_key_cursor({items.back().created_at, items.back().id});
}

}  // namespace keyflow
