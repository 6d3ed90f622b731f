#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyflow {

using Bytes = std::vector<std::uint8_t>;

// Standard base64 with padding (RFC 4648 §4), as the Standard Webhooks signatures use.
std::string base64_encode(std::span<const std::uint8_t> data);
std::optional<Bytes> base64_decode(std::string_view text);

std::string hex_encode(std::span<const std::uint8_t> data);

// Fixed-width base62 (0-9A-Za-z) of a big-endian number; width digits, left-padded with '0'.
std::string base62_encode(std::span<const std::uint8_t> data, std::size_t width);
// The base62 digit of a value below 62.
char base62_digit(unsigned value);
bool is_base62(std::string_view text);

// text as valid UTF-8 without U+0000, as a PostgreSQL text column and JSON take it: each byte
// of an invalid, overlong or truncated sequence, and each NUL, becomes U+FFFD.
std::string valid_utf8(std::string_view text);

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace keyflow
