#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keyflow {

// An API key reads <prefix>_[<environment>_]<43 base62 chars of 32 random bytes><6 base62 chars
// of CRC32 over everything before them>, e.g. kf_live_3xZq...R2a9Kf. The checksum lets verify
// reject a mistyped or truncated key without a database lookup, and lets secret scanners tell
// a real key from noise.
inline constexpr std::size_t kKeySecretBytes = 32;
inline constexpr std::size_t kKeyBodyChars = 43;
inline constexpr std::size_t kKeyChecksumChars = 6;
inline constexpr std::size_t kKeyPrefixMaxChars = 40;

using KeySecret = std::array<std::uint8_t, kKeySecretBytes>;

struct KeyParts {
  std::string_view prefix;  // "kf_live", everything before the last '_'
  std::string_view body;    // the 43 random characters
};

// True for a prefix or environment name that may appear in a key: [a-z0-9]{1,16}.
bool is_valid_key_label(std::string_view label);

std::string format_key(std::string_view prefix, std::string_view environment,
                       const KeySecret& secret);

// The checked parts of a well-formed key, or nullopt (MALFORMED).
std::optional<KeyParts> parse_key(std::string_view key);

// What is shown of a key after creation: its prefix and the first four body characters.
std::string display_prefix(std::string_view key);

KeySecret random_key_secret();

// CRC32 of text as 6 fixed-width base62 characters: the checksum both API keys and event
// write keys end with.
std::string crc32_base62(std::string_view text);

}  // namespace keyflow
