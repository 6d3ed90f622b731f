#include "tests/support/standard_webhooks.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/core/encoding.hpp"

namespace keyflow::test {

bool standard_webhooks_accepts(const std::string& secret, const ReceivedRequest& request) {
  const auto key = base64_decode(std::string_view(secret).substr(6));
  if (!key) return false;
  const std::string content =
      request.header("webhook-id") + "." + request.header("webhook-timestamp") + "." + request.body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len);
  const std::string expected = "v1," + base64_encode({mac, mac_len});
  const std::string header = request.header("webhook-signature");
  std::size_t start = 0;
  while (start < header.size()) {
    auto end = header.find(' ', start);
    if (end == std::string::npos) end = header.size();
    if (header.substr(start, end - start) == expected) return true;
    start = end + 1;
  }
  return false;
}

bool standard_webhooks_accepts_ed25519(const std::string& public_key,
                                       const ReceivedRequest& request) {
  if (!public_key.starts_with("whpk_")) return false;
  const auto key = base64_decode(std::string_view(public_key).substr(5));
  if (!key || key->size() != 32) return false;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key->data(), key->size());
  if (pkey == nullptr) return false;
  const std::string content =
      request.header("webhook-id") + "." + request.header("webhook-timestamp") + "." + request.body;
  const std::string header = request.header("webhook-signature");
  bool accepted = false;
  std::size_t start = 0;
  while (!accepted && start < header.size()) {
    auto end = header.find(' ', start);
    if (end == std::string::npos) end = header.size();
    const auto entry = std::string_view(header).substr(start, end - start);
    start = end + 1;
    if (!entry.starts_with("v1a,")) continue;
    const auto signature = base64_decode(entry.substr(4));
    if (!signature) continue;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    accepted = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
               EVP_DigestVerify(ctx, signature->data(), signature->size(),
                                reinterpret_cast<const unsigned char*>(content.data()),
                                content.size()) == 1;
    EVP_MD_CTX_free(ctx);
  }
  EVP_PKEY_free(pkey);
  return accepted;
}

}  // namespace keyflow::test
