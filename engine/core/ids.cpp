#include "engine/core/ids.hpp"

#include <array>
#include <charconv>

#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {

std::int64_t random_id() {
  for (;;) {
    std::uint64_t bits = 0;
    randombytes_buf(&bits, sizeof bits);
    const auto id = static_cast<std::int64_t>(bits & static_cast<std::uint64_t>(kMaxId));
    if (id != 0) return id;
  }
}

std::string new_id() {
  return std::to_string(random_id());
}

std::optional<std::int64_t> parse_id(std::string_view text) {
  if (text.empty() || text.size() > 16 || text.front() == '0') return std::nullopt;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id > kMaxId) return std::nullopt;
  return id;
}

std::string new_uuid() {
  std::array<std::uint8_t, 16> b;
  randombytes_buf(b.data(), b.size());
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string hex = hex_encode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace keyflow
