#include "engine/crypto/secret_box.hpp"

#include <algorithm>

#include <sodium.h>

namespace keyflow {
namespace {

constexpr std::string_view kMagic = "kf1";
constexpr std::size_t kIdSize = std::tuple_size_v<MasterKeyId>;
constexpr std::size_t kHeader = kMagic.size() + kIdSize;
constexpr auto kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr auto kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;

std::optional<std::string> decrypt(std::span<const std::uint8_t> nonce_and_ciphertext,
                                   std::string_view additional, const MasterKey& key) {
  if (nonce_and_ciphertext.size() < kNonce + kTag) return std::nullopt;
  std::string plain(nonce_and_ciphertext.size() - kNonce - kTag, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &written, nullptr,
          nonce_and_ciphertext.data() + kNonce, nonce_and_ciphertext.size() - kNonce,
          reinterpret_cast<const unsigned char*>(additional.data()), additional.size(),
          nonce_and_ciphertext.data(), key.data()) != 0) {
    return std::nullopt;
  }
  plain.resize(written);
  return plain;
}

}  // namespace

SecretBox::SecretBox(const Keyring& keys) {
  const auto add = [this](const MasterKey& key) {
    keys_.push_back({master_key_id(key), sealing_key(key), key});
  };
  add(keys.current());
  for (const auto& previous : keys.previous())
    add(previous);
}

Bytes SecretBox::current_header() const {
  Bytes header(kMagic.begin(), kMagic.end());
  header.insert(header.end(), keys_.front().id.begin(), keys_.front().id.end());
  return header;
}

Bytes SecretBox::seal(std::string_view plaintext, std::string_view context) const {
  Bytes out = current_header();
  // The header is authenticated with the context: neither can be swapped.
  std::string additional(out.begin(), out.end());
  additional.append(context);
  out.resize(kHeader + kNonce + plaintext.size() + kTag);
  randombytes_buf(out.data() + kHeader, kNonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + kHeader + kNonce, &written,
      reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(additional.data()), additional.size(), nullptr,
      out.data() + kHeader, keys_.front().sealing.data());
  out.resize(kHeader + kNonce + written);
  return out;
}

std::optional<std::string> SecretBox::open(std::span<const std::uint8_t> sealed,
                                           std::string_view context) const {
  const bool headed =
      sealed.size() >= kHeader + kNonce + kTag &&
      std::equal(kMagic.begin(), kMagic.end(), sealed.begin(),
                 [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
  if (headed) {
    for (const auto& key : keys_) {
      if (!std::equal(key.id.begin(), key.id.end(), sealed.begin() + kMagic.size())) continue;
      std::string additional(sealed.begin(), sealed.begin() + kHeader);
      additional.append(context);
      if (auto plain = decrypt(sealed.subspan(kHeader), additional, key.sealing)) return plain;
    }
  }
  // From before the keyring (a random nonce may start with the magic too: it is tried
  // this way as well).
  for (const auto& key : keys_) {
    if (auto plain = decrypt(sealed, context, key.raw)) return plain;
  }
  return std::nullopt;
}

bool SecretBox::sealed_by_current(std::span<const std::uint8_t> sealed) const {
  const auto header = current_header();
  return sealed.size() >= header.size() + kNonce + kTag &&
         std::equal(header.begin(), header.end(), sealed.begin());
}

}  // namespace keyflow
