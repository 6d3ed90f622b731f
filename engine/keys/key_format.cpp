#include "engine/keys/key_format.hpp"

#include <algorithm>

#include <boost/crc.hpp>
#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {
namespace {

std::string checksum_of(std::string_view text) {
  boost::crc_32_type crc;
  crc.process_bytes(text.data(), text.size());
  const std::uint32_t value = crc.checksum();
  const std::array<std::uint8_t, 4> be{
      static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
      static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
  return base62_encode(be, kKeyChecksumChars);
}

// checksum_of(text) == digits, without building the string: verify checks every key it is
// given, made-up ones included. The CRC-32 as a number, its base62 digits from the last.
bool checksum_matches(std::string_view text, std::string_view digits) {
  if (digits.size() != kKeyChecksumChars) return false;
  boost::crc_32_type crc;
  crc.process_bytes(text.data(), text.size());
  std::uint64_t value = crc.checksum();
  for (std::size_t i = digits.size(); i-- > 0;) {
    if (digits[i] != base62_digit(static_cast<unsigned>(value % 62))) return false;
    value /= 62;
  }
  return value == 0;
}

bool is_prefix_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool is_valid_key_label(std::string_view label) {
  return !label.empty() && label.size() <= 16 &&
         std::all_of(label.begin(), label.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

std::string format_key(std::string_view prefix, std::string_view environment,
                       const KeySecret& secret) {
  std::string key(prefix);
  if (!environment.empty()) {
    key += '_';
    key += environment;
  }
  key += '_';
  key += base62_encode(secret, kKeyBodyChars);
  key += checksum_of(key);
  return key;
}

std::optional<KeyParts> parse_key(std::string_view key) {
  constexpr std::size_t tail = kKeyBodyChars + kKeyChecksumChars;
  if (key.size() < tail + 2 || key.size() > tail + 1 + kKeyPrefixMaxChars) return std::nullopt;
  const std::size_t split = key.size() - tail - 1;
  if (key[split] != '_') return std::nullopt;
  const std::string_view prefix = key.substr(0, split);
  const std::string_view rest = key.substr(split + 1);
  if (prefix.front() == '_' || prefix.back() == '_' ||
      !std::all_of(prefix.begin(), prefix.end(), is_prefix_char) || !is_base62(rest)) {
    return std::nullopt;
  }
  if (!checksum_matches(key.substr(0, key.size() - kKeyChecksumChars),
                        rest.substr(kKeyBodyChars))) {
    return std::nullopt;
  }
  return KeyParts{prefix, rest.substr(0, kKeyBodyChars)};
}

std::string display_prefix(std::string_view key) {
  const auto split = key.size() - kKeyBodyChars - kKeyChecksumChars;
  return std::string(key.substr(0, std::min(key.size(), split + 4)));
}

KeySecret random_key_secret() {
  KeySecret secret;
  randombytes_buf(secret.data(), secret.size());
  return secret;
}

std::string crc32_base62(std::string_view text) {
  return checksum_of(text);
}

}  // namespace keyflow
