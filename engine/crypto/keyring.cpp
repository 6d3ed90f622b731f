#include "engine/crypto/keyring.hpp"

#include <algorithm>

#include <sodium.h>

namespace keyflow {
namespace {

// libsodium's KDF (BLAKE2b keyed by the master key): one subkey per purpose, each under a
// context of its own, none revealing the master key or another subkey.
constexpr char kContext[crypto_kdf_CONTEXTBYTES + 1] = "keyflow1";
enum Subkey : std::uint64_t { sealing = 1, key_id = 2, pepper = 3 };

std::array<std::uint8_t, 32> derive(const MasterKey& key, Subkey which) {
  std::array<std::uint8_t, 32> out{};
  crypto_kdf_derive_from_key(out.data(), out.size(), which, kContext, key.data());
  return out;
}

MasterKey derived_key(const MasterKey& key, Subkey which) {
  auto bytes = derive(key, which);
  auto derived = *MasterKey::from_bytes(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return derived;
}

}  // namespace

Keyring::Keyring(const MasterKey& current) : current_(current), pepper_(current) {}

Keyring::Keyring(MasterKey current, std::vector<MasterKey> previous, MasterKey pepper)
    : current_(std::move(current)), previous_(std::move(previous)), pepper_(std::move(pepper)) {}

MasterKeyId master_key_id(const MasterKey& key) {
  const auto bytes = derive(key, Subkey::key_id);
  MasterKeyId id{};
  std::copy_n(bytes.begin(), id.size(), id.begin());
  return id;
}

std::string to_hex(const MasterKeyId& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const auto b : id) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

MasterKey sealing_key(const MasterKey& key) {
  return derived_key(key, Subkey::sealing);
}

MasterKey derived_pepper(const MasterKey& key) {
  return derived_key(key, Subkey::pepper);
}

}  // namespace keyflow
