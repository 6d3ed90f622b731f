#include "engine/ids.hpp"

#include <array>
#include <cstdint>

#include <sodium.h>

#include "engine/encoding.hpp"

namespace keyflow {

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
