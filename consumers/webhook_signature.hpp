#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// generate_webhook_secret() lives with the subscriptions that create secrets; re-exported here
// so that signing code and its tests find it beside sign().
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {

// Standard Webhooks signatures (https://www.standardwebhooks.com): the receiver recomputes
// HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}" with the subscription's secret.

// "v1,<base64 HMAC-SHA256>". The key is the base64 text after "whsec_" decoded; a secret
// without the prefix is taken as base64 as a whole. Throws std::invalid_argument when the
// secret is not base64.
std::string sign(std::string_view whsec_secret, std::string_view msg_id, std::int64_t timestamp,
                 std::string_view body);

// "v1a,<base64 Ed25519 signature>" of the same content, with a libsodium secret key
// (crypto_sign_SECRETKEYBYTES). Throws std::invalid_argument for a key of another size.
std::string sign_ed25519(std::string_view secret_key, std::string_view msg_id,
                         std::int64_t timestamp, std::string_view body);

// A receiver's check: true when any of the space-separated signatures in header_value is a
// valid "v1," signature of the message. Compares in constant time; false for a malformed
// secret or header.
bool verify(std::string_view whsec_secret, std::string_view msg_id, std::int64_t timestamp,
            std::string_view body, std::string_view header_value);

}  // namespace keyflow
