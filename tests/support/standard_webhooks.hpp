#pragma once

#include <string>

#include "tests/support/webhook_receiver.hpp"

namespace keyflow::test {

// Standard Webhooks verification written against OpenSSL, independently of keyflow's signer:
// true when one of the request's webhook-signature entries is
// v1,base64(HMAC-SHA256(base64decode(secret without whsec_), "id.timestamp.body")).
bool standard_webhooks_accepts(const std::string& secret, const ReceivedRequest& request);

// The same for the specification's asymmetric form, through OpenSSL's Ed25519: true when one
// of the entries is v1a,base64(Ed25519 signature of "id.timestamp.body") under public_key
// (whpk_ + base64 of 32 bytes).
bool standard_webhooks_accepts_ed25519(const std::string& public_key,
                                       const ReceivedRequest& request);

}  // namespace keyflow::test
