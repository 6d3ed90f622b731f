#include "engine/key_cursor.hpp"

#include "engine/encoding.hpp"
#include "engine/errc.hpp"
#include "engine/ids.hpp"
#include "engine/sql_values.hpp"
#include "engine/time_format.hpp"

namespace keyflow {

std::string encode_key_cursor(const KeyCursor& cursor) {
  return base64_encode(as_bytes(sql_timestamp(cursor.created_at) + "|" + cursor.id));
}

KeyCursor decode_key_cursor(std::string_view text) {
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
  if (!at || !is_id(id)) throw invalid();
  return {*at, std::move(id)};
}

}  // namespace keyflow
