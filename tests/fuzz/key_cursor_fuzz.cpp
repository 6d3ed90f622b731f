// The key list's cursor (engine/keys/key_cursor.hpp), which clients send back as they like.
//
// - decode_key_cursor throws only Error(invalid_argument, field "cursor").
// - What it accepts re-encodes to a cursor that decodes to the same position (within the
//   years 1900 to 2200 in UTC).
// - encode → decode is the identity (at microseconds, PostgreSQL's precision) for every time
//   of the years 1900 to 2200 and every id, made from the input's bytes.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/keys/key_cursor.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace keyflow;
using namespace std::chrono;

void check_rejection(const Error& e) {
  FUZZ_CHECK(e.kind() == errc::invalid_argument && e.field() == "cursor");
}

bool same(const KeyCursor& a, const KeyCursor& b) {
  return a.created_at == b.created_at && a.id == b.id;
}

std::optional<KeyCursor> decode(std::string_view text) {
  std::optional<KeyCursor> out;
  fuzz::accepts([&] { out = decode_key_cursor(text); }, check_rejection);
  return out;
}

// A cursor made from the first 16 bytes: a time in range and an id (engine/core/ids.hpp).
std::optional<KeyCursor> made_from(std::string_view data) {
  if (data.size() < 16) return std::nullopt;
  std::uint64_t raw = 0;
  std::memcpy(&raw, data.data(), sizeof raw);
  const auto first = sys_days{year{1900} / 1 / 1}.time_since_epoch();
  const auto last = sys_days{year{2200} / 12 / 31}.time_since_epoch();
  const auto span = duration_cast<microseconds>(last - first).count();
  const auto offset =
      microseconds(static_cast<std::int64_t>(raw % static_cast<std::uint64_t>(span)));
  std::uint64_t id = 0;
  std::memcpy(&id, data.data() + 8, sizeof id);
  return KeyCursor{TimePoint(duration_cast<TimePoint::duration>(first + offset)),
                   std::to_string(id % static_cast<std::uint64_t>(kMaxId) + 1)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // decode also takes times with an offset, which may land just outside 1900-2200 in UTC,
  // where encode's output is refused: positions no key can have, so not checked.
  const auto first = sys_days{year{1900} / 1 / 1}, end = sys_days{year{2201} / 1 / 1};
  if (const auto cursor = decode(text);
      cursor && cursor->created_at >= first && cursor->created_at < end) {
    const auto again = decode(encode_key_cursor(*cursor));
    FUZZ_CHECK(again && same(*again, *cursor));
  }
  if (const auto cursor = made_from(text)) {
    const auto encoded = encode_key_cursor(*cursor);
    FUZZ_CHECK(encoded.size() <= 256);
    const auto decoded = decode(encoded);
    FUZZ_CHECK(decoded.has_value());
    FUZZ_CHECK(decoded->id == cursor->id);
    FUZZ_CHECK(decoded->created_at == floor<microseconds>(cursor->created_at));
  }
  return 0;
}
