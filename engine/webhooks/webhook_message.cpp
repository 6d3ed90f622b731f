#include "engine/webhooks/webhook_message.hpp"

#include <array>
#include <cstdint>

#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {

std::string new_delivery_id() {
  // 62^27 > 2^160, so 20 random bytes fill 27 base62 digits without loss.
  std::array<std::uint8_t, 20> random{};
  randombytes_buf(random.data(), random.size());
  return "msg_" + base62_encode(random, 27);
}

bool is_delivery_id(std::string_view text) {
  return text.size() == 31 && text.starts_with("msg_") && is_base62(text.substr(4));
}

}  // namespace keyflow
