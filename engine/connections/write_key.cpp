#include "engine/connections/write_key.hpp"

#include <array>
#include <cstdint>

#include <sodium.h>

#include "engine/core/encoding.hpp"
#include "engine/keys/key_format.hpp"

namespace keyflow {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

}  // namespace

std::string generate_write_key() {
  std::string random_part(kWriteKeyRandomChars, '\0');
  // randombytes_uniform rejects the biased tail, so every character is uniform over the 62.
  for (auto& c : random_part)
    c = kBase62[randombytes_uniform(static_cast<std::uint32_t>(kBase62.size()))];
  return complete_write_key(random_part);
}

std::string complete_write_key(std::string_view random_part) {
  return std::string(random_part) + crc32_base62(random_part);
}

bool is_well_formed_write_key(std::string_view key) {
  if (key.size() != kWriteKeyChars || !is_base62(key)) return false;
  return crc32_base62(key.substr(0, kWriteKeyRandomChars)) == key.substr(kWriteKeyRandomChars);
}

std::string write_key_hint(std::string_view key) {
  return std::string(key.substr(0, 4));
}

}  // namespace keyflow
