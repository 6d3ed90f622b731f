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

std::string delivery_id_for(std::string_view subscription_id, std::string_view event_id) {
  static constexpr std::string_view kContext = "keyflow webhook delivery";
  std::array<std::uint8_t, 20> digest{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, digest.size());
  const auto add = [&state](std::string_view part) {
    // Length-prefixed, so that no two pairs hash the same input.
    const auto size = static_cast<std::uint32_t>(part.size());
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&size), sizeof size);
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(part.data()),
                              part.size());
  };
  add(kContext);
  add(subscription_id);
  add(event_id);
  crypto_generichash_final(&state, digest.data(), digest.size());
  return "msg_" + base62_encode(digest, 27);
}

bool is_delivery_id(std::string_view text) {
  return text.size() == 31 && text.starts_with("msg_") && is_base62(text.substr(4));
}

}  // namespace keyflow
