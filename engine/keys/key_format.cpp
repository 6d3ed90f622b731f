#include "engine/keys/key_format.hpp"

#include <algorithm>
#include <array>

#include <boost/crc.hpp>
#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {
namespace {

// The CRC-32 of text as kKeyChecksumChars base62 digits (a big-endian number, left-padded
// with '0', as base62_encode writes it), built on the stack: verify checks every key it is
// given, made-up ones included.
std::array<char, kKeyChecksumChars> checksum_of(std::string_view text) {
  boost::crc_32_type crc;
  crc.process_bytes(text.data(), text.size());
  std::uint32_t value = crc.checksum();
  std::array<char, kKeyChecksumChars> digits;
  for (std::size_t i = digits.size(); i-- > 0; value /= 62)
    digits[i] = base62_digit(value % 62);
  return digits;  // 62^6 > 2^32: every value fits
}

std::string_view as_text(const std::array<char, kKeyChecksumChars>& digits) {
  return {digits.data(), digits.size()};
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
  key += as_text(checksum_of(key));
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
  if (as_text(checksum_of(key.substr(0, key.size() - kKeyChecksumChars))) !=
      rest.substr(kKeyBodyChars)) {
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
  return std::string(as_text(checksum_of(text)));
}

}  // namespace keyflow
