#include "engine/webhooks/webhook_message.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {

namespace {

constexpr std::int64_t kKsuidEpoch = 1400000000;  // 2014-05-13T16:53:20Z
constexpr std::size_t kPayloadBytes = 16;

}  // namespace

std::string ksuid_message_id(TimePoint at, std::span<const std::uint8_t, kPayloadBytes> payload) {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count() - kKsuidEpoch;
  const auto stamp = static_cast<std::uint32_t>(std::clamp<std::int64_t>(seconds, 0, UINT32_MAX));
  // Big-endian time, then the payload: 62^27 > 2^160, so the 20 bytes fill 27 base62 digits
  // without loss, and the digits are in ASCII order, so the ids sort as their numbers do.
  std::array<std::uint8_t, 4 + kPayloadBytes> id{};
  for (std::size_t i = 0; i < 4; ++i)
    id[i] = static_cast<std::uint8_t>(stamp >> (8 * (3 - i)));
  std::copy(payload.begin(), payload.end(), id.begin() + 4);
  return "msg_" + base62_encode(id, 27);
}

std::string new_delivery_id(TimePoint at) {
  std::array<std::uint8_t, kPayloadBytes> random{};
  randombytes_buf(random.data(), random.size());
  return ksuid_message_id(at, random);
}

std::string delivery_id_for(std::string_view subscription_id, std::string_view event_id,
                            TimePoint event_time) {
  static constexpr std::string_view kContext = "keyflow webhook delivery";
  std::array<std::uint8_t, kPayloadBytes> digest{};
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
  return ksuid_message_id(event_time, digest);
}

bool is_delivery_id(std::string_view text) {
  return text.size() == 31 && text.starts_with("msg_") && is_base62(text.substr(4));
}

}  // namespace keyflow
