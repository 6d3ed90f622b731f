#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace keyflow {

// An event write key (seed 003) looks like the seed's example: 32 characters of [0-9A-Za-z],
// no prefix, so that it fits wherever the seed's keys fit. The first 26 characters are drawn
// uniformly from libsodium's randomness (26 × log2 62 ≈ 154 bits); the last 6 are the base62
// CRC32 of those 26, so that verify turns away a mistyped or made-up key without a database
// lookup and a secret scanner can tell a real key from any 32 letters.
inline constexpr std::size_t kWriteKeyChars = 32;
inline constexpr std::size_t kWriteKeyRandomChars = 26;
inline constexpr std::size_t kWriteKeyChecksumChars = kWriteKeyChars - kWriteKeyRandomChars;

// The SecretBox context under which write keys are sealed: a sealed write key cannot be passed
// off as a sealed secret of another kind.
inline constexpr std::string_view kWriteKeyContext = "event_write_key";

std::string generate_write_key();

// The key whose random part is `random_part` (26 base62 characters): random_part + checksum.
std::string complete_write_key(std::string_view random_part);

// 32 base62 characters whose last 6 are the checksum of the first 26.
bool is_well_formed_write_key(std::string_view key);

// What events and logs show of a key: its first four characters, which identify it to a human
// among a connection's keys and say nothing useful about the other 150 bits.
std::string write_key_hint(std::string_view key);

}  // namespace keyflow
