#pragma once

#include <string>

#include "engine/core/encoding.hpp"

namespace keyflow {

// A Standard Webhooks signing secret: "whsec_" + base64 of 24 random bytes.
std::string generate_webhook_secret();

// The column context under which subscription secrets are sealed (SecretBox).
inline constexpr const char* kWebhookSecretContext = "webhook_secret";

// A subscription's Ed25519 key pair (Standard Webhooks v1a signatures): the libsodium secret
// key, sealed at rest under kWebhookSigningKeyContext, and the public key, shown as
// "whpk_" + base64 of its 32 bytes.
struct WebhookSigningKey {
  std::string secret_key;  // crypto_sign_SECRETKEYBYTES raw bytes
  Bytes public_key;        // crypto_sign_PUBLICKEYBYTES
};
WebhookSigningKey generate_webhook_signing_key();
std::string public_key_text(const Bytes& public_key);  // whpk_...
inline constexpr const char* kWebhookSigningKeyContext = "webhook_signing_key";

}  // namespace keyflow
