#include "engine/keys/key_cursor.hpp"

#include "engine/core/encoding.hpp"
#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/time_format.hpp"
#include "engine/store/sql_values.hpp"

namespace keyflow {

std::string encode_key_cursor(const KeyCursor& cursor) {
  return base64_encode(as_bytes(sql_timestamp(cursor.created_at) + "|" + cursor.id));
}

KeyCursor decode_key_cursor(std::string_view text, bool (*valid_id)(std::string_view)) {
  const auto invalid = [] {
    return Error(errc::invalid_argument, "cursor is not one this API returned", "cursor");
  };
  // A cursor is short; anything long is not ours and need not be decoded.
  if (text.size() > 256) throw invalid();
  const auto raw = base64_decode(text);
  if (!raw) throw invalid();
  const std::string decoded(raw->begin(), raw->end());
  const auto bar = decoded.find('|');
  if (bar == std::string::npos) throw invalid();
  const auto at = parse_timestamp(decoded.substr(0, bar));
  auto id = decoded.substr(bar + 1);
  if (!at || !valid_id(id)) throw invalid();
  return {*at, std::move(id)};
}

}  // namespace keyflow
