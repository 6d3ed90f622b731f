#include "engine/crypto/keyring.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include "engine/crypto/key_hasher.hpp"
#include "engine/crypto/secret_box.hpp"

namespace keyflow {
namespace {

class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
  MasterKey a_ = MasterKey::generate();
  MasterKey b_ = MasterKey::generate();
};

std::string text(const Bytes& b) {
  return {b.begin(), b.end()};
}

// A value sealed the way keyflow sealed before the keyring: nonce || ciphertext || tag under
// the raw master key, the context as additional data.
Bytes legacy_seal(const MasterKey& key, std::string_view plain, std::string_view context) {
  constexpr auto kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  Bytes out(kNonce + plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  randombytes_buf(out.data(), kNonce);
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + kNonce, &n, reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
      reinterpret_cast<const unsigned char*>(context.data()), context.size(), nullptr, out.data(),
      key.data());
  return out;
}

TEST_F(KeyringTest, EachSealedValueNamesTheMasterKeyThatSealedIt) {
  const SecretBox box(a_);
  const auto sealed = box.seal("whsec_secret", "webhook_secret");
  const auto id = master_key_id(a_);
  ASSERT_GE(sealed.size(), 11u);
  EXPECT_EQ(text(Bytes(sealed.begin(), sealed.begin() + 3)), "kf1");
  EXPECT_TRUE(std::equal(id.begin(), id.end(), sealed.begin() + 3));
  EXPECT_TRUE(box.sealed_by_current(sealed));
  EXPECT_EQ(box.open(sealed, "webhook_secret"), "whsec_secret");
  EXPECT_FALSE(box.open(sealed, "event_write_key")) << "the context is bound";
  EXPECT_EQ(text(Bytes(sealed.begin(), sealed.end())).find("whsec_secret"), std::string::npos);
  // Another master key's id, and a stable one.
  EXPECT_NE(master_key_id(a_), master_key_id(b_));
  EXPECT_EQ(master_key_id(a_), master_key_id(*MasterKey::from_base64(a_.to_base64())));
}

// During a master-key rotation a process holding the new key and the previous one opens what
// either sealed, and seals with the new one only; a process holding only the new one does
// not open the old values, nor one holding only the old key the new ones.
TEST_F(KeyringTest, PreviousMasterKeysOpenWhatTheySealedAndOnlyTheCurrentOneSeals) {
  const SecretBox old_box(a_);
  const SecretBox rotating(Keyring(b_, {a_}, b_));
  const SecretBox new_box(b_);
  const auto by_a = old_box.seal("one", "c");
  const auto by_b = rotating.seal("two", "c");
  EXPECT_EQ(rotating.open(by_a, "c"), "one");
  EXPECT_EQ(rotating.open(by_b, "c"), "two");
  EXPECT_FALSE(rotating.sealed_by_current(by_a));
  EXPECT_TRUE(rotating.sealed_by_current(by_b));
  EXPECT_EQ(new_box.open(by_b, "c"), "two");
  EXPECT_FALSE(new_box.open(by_a, "c"));
  EXPECT_FALSE(old_box.open(by_b, "c"));
  // A header naming the wrong key fails too: the header is authenticated.
  auto forged = by_b;
  const auto a_id = master_key_id(a_);
  std::copy(a_id.begin(), a_id.end(), forged.begin() + 3);
  EXPECT_FALSE(rotating.open(forged, "c"));
}

TEST_F(KeyringTest, ValuesSealedBeforeTheKeyringStillOpen) {
  const auto legacy = legacy_seal(a_, "whsec_old", "webhook_secret");
  EXPECT_EQ(SecretBox(a_).open(legacy, "webhook_secret"), "whsec_old");
  EXPECT_EQ(SecretBox(Keyring(b_, {a_}, b_)).open(legacy, "webhook_secret"), "whsec_old");
  EXPECT_FALSE(SecretBox(b_).open(legacy, "webhook_secret"));
  EXPECT_FALSE(SecretBox(a_).sealed_by_current(legacy));
}

// Hashing and sealing use keys of their own: neither is the master key, and the pepper a new
// installation derives is neither of them.
TEST_F(KeyringTest, ThePepperAndTheSealingKeyAreSeparateDerivations) {
  const auto seal = sealing_key(a_);
  const auto pepper = derived_pepper(a_);
  const auto same = [](const MasterKey& x, const MasterKey& y) {
    return sodium_memcmp(x.data(), y.data(), MasterKey::kSize) == 0;
  };
  EXPECT_FALSE(same(seal, a_));
  EXPECT_FALSE(same(pepper, a_));
  EXPECT_FALSE(same(seal, pepper));
  EXPECT_TRUE(same(derived_pepper(a_), pepper));
  // The keyring's pepper is what KeyHasher keys with.
  const Keyring keys(b_, {}, pepper);
  EXPECT_EQ(KeyHasher(keys.pepper()).hash("kf_live_x"), KeyHasher(pepper).hash("kf_live_x"));
  EXPECT_NE(KeyHasher(keys.pepper()).hash("kf_live_x"), KeyHasher(b_).hash("kf_live_x"));
}

}  // namespace
}  // namespace keyflow
