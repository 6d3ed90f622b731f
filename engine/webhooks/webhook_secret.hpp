#pragma once

#include <string>

namespace keyflow {

// A Standard Webhooks signing secret: "whsec_" + base64 of 24 random bytes.
std::string generate_webhook_secret();

// The column context under which subscription secrets are sealed (SecretBox).
inline constexpr const char* kWebhookSecretContext = "webhook_secret";

}  // namespace keyflow
