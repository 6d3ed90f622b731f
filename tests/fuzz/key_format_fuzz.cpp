// API keys and event write keys: parsing, checksums and the round trip.
//
// - parse_key accepts exactly <prefix>_<43 base62><6 base62 CRC32 of everything before them>,
//   and display_prefix of an accepted key is its prefix and four body characters.
// - A key that format_key made from valid labels parses back into its parts; changing any
//   one of its characters makes it malformed (CRC32 catches every error within 32 bits).
// - The same for event write keys: is_well_formed_write_key accepts complete_write_key's
//   output and nothing one character away from it.
// The input is both the text to parse and the bytes a secret and labels are made from.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/connections/write_key.hpp"
#include "engine/core/encoding.hpp"
#include "engine/keys/key_format.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace keyflow;

constexpr std::string_view kLabelChars = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Reads bytes from the input, and zeros once it is used up.
struct Reader {
  std::string_view data;
  std::size_t at = 0;
  std::uint8_t next() { return at < data.size() ? static_cast<std::uint8_t>(data[at++]) : 0; }
};

void check_parsed(std::string_view key) {
  const auto parts = parse_key(key);
  if (!parts) return;
  FUZZ_CHECK(parts->body.size() == kKeyBodyChars && is_base62(parts->body));
  FUZZ_CHECK(!parts->prefix.empty() && parts->prefix.size() <= kKeyPrefixMaxChars);
  const std::string rebuilt = std::string(parts->prefix) + "_" + std::string(parts->body);
  FUZZ_CHECK(key == rebuilt + crc32_base62(rebuilt));
  FUZZ_CHECK(display_prefix(key) ==
             std::string(parts->prefix) + "_" + std::string(parts->body.substr(0, 4)));
}

// Every one-character change of a well-formed key must be caught.
template <class WellFormed>
void check_mutations(const std::string& key, Reader& in, WellFormed well_formed) {
  for (int round = 0; round < 4; ++round) {
    std::string changed = key;
    const std::size_t at = (in.next() * 256u + in.next()) % changed.size();
    const char replacement = static_cast<char>(in.next());
    if (replacement == changed[at]) continue;
    changed[at] = replacement;
    FUZZ_CHECK(!well_formed(changed));
  }
}

void check_api_key_round_trip(Reader& in) {
  KeySecret secret;
  for (auto& b : secret)
    b = in.next();
  auto label = [&](std::size_t max) {
    std::string s(in.next() % (max + 1), 'a');
    for (auto& c : s)
      c = kLabelChars[in.next() % kLabelChars.size()];
    return s;
  };
  const std::string prefix = label(16);
  const std::string environment = label(16);
  if (!is_valid_key_label(prefix) || (!environment.empty() && !is_valid_key_label(environment))) {
    return;
  }
  const std::string key = format_key(prefix, environment, secret);
  const auto parts = parse_key(key);
  FUZZ_CHECK(parts.has_value());
  FUZZ_CHECK(parts->prefix == (environment.empty() ? prefix : prefix + "_" + environment));
  FUZZ_CHECK(parts->body == base62_encode(secret, kKeyBodyChars));
  check_parsed(key);
  check_mutations(key, in, [](std::string_view k) { return parse_key(k).has_value(); });
}

void check_write_key_round_trip(Reader& in) {
  std::string random_part(kWriteKeyRandomChars, '0');
  for (auto& c : random_part)
    c = kBase62[in.next() % kBase62.size()];
  const std::string key = complete_write_key(random_part);
  FUZZ_CHECK(key.size() == kWriteKeyChars && key.starts_with(random_part));
  FUZZ_CHECK(is_well_formed_write_key(key));
  FUZZ_CHECK(write_key_hint(key) == key.substr(0, 4));
  check_mutations(key, in, is_well_formed_write_key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_parsed(text);
  if (is_well_formed_write_key(text)) {
    FUZZ_CHECK(complete_write_key(text.substr(0, kWriteKeyRandomChars)) == text);
  }
  Reader in{text};
  check_api_key_round_trip(in);
  check_write_key_round_trip(in);
  return 0;
}
