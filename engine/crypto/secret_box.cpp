#include "engine/crypto/secret_box.hpp"

#include <sodium.h>

namespace keyflow {

Bytes SecretBox::seal(std::string_view plaintext, std::string_view context) const {
  constexpr auto kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  Bytes out(kNonce + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  randombytes_buf(out.data(), kNonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + kNonce, &written, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(context.data()), context.size(),
      nullptr, out.data(), key_.data());
  out.resize(kNonce + written);
  return out;
}

std::optional<std::string> SecretBox::open(std::span<const std::uint8_t> sealed,
                                           std::string_view context) const {
  constexpr auto kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  if (sealed.size() < kNonce + crypto_aead_xchacha20poly1305_ietf_ABYTES) return std::nullopt;
  std::string plain(sealed.size() - kNonce - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &written, nullptr, sealed.data() + kNonce,
          sealed.size() - kNonce, reinterpret_cast<const unsigned char*>(context.data()),
          context.size(), sealed.data(), key_.data()) != 0) {
    return std::nullopt;
  }
  plain.resize(written);
  return plain;
}

}  // namespace keyflow
