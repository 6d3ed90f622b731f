#include "engine/webhooks/webhook_secret.hpp"

#include <array>
#include <cstdint>

#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {

std::string generate_webhook_secret() {
  std::array<std::uint8_t, 24> bytes;
  randombytes_buf(bytes.data(), bytes.size());
  return "whsec_" + base64_encode(bytes);
}

}  // namespace keyflow
