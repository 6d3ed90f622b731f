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

WebhookSigningKey generate_webhook_signing_key() {
  WebhookSigningKey key;
  key.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  key.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  crypto_sign_keypair(key.public_key.data(),
                      reinterpret_cast<unsigned char*>(key.secret_key.data()));
  return key;
}

std::string public_key_text(const Bytes& public_key) {
  return "whpk_" + base64_encode(public_key);
}

}  // namespace keyflow
