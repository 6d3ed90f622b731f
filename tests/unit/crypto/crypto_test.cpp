#include <gtest/gtest.h>

#include "engine/core/encoding.hpp"
#include "engine/crypto/key_hasher.hpp"
#include "engine/crypto/master_key.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {
namespace {

TEST(MasterKey, AcceptsOnly32BytesOfBase64) {
  EXPECT_TRUE(MasterKey::from_base64("a2V5Zmxvdy10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM="));
  EXPECT_FALSE(MasterKey::from_base64("c2hvcnQ="));
  EXPECT_FALSE(MasterKey::from_base64("not base64 at all!"));
  EXPECT_FALSE(MasterKey::from_base64(""));
  const auto generated = MasterKey::generate();
  EXPECT_TRUE(MasterKey::from_base64(generated.to_base64()));
}

TEST(KeyHasher, IsDeterministicAndDependsOnThePepper) {
  const KeyHasher a(MasterKey::generate());
  const KeyHasher b(MasterKey::generate());
  EXPECT_EQ(a.hash("kf_live_x"), a.hash("kf_live_x"));
  EXPECT_EQ(a.hash("kf_live_x").size(), 32u);
  EXPECT_NE(a.hash("kf_live_x"), a.hash("kf_live_y"));
  EXPECT_NE(a.hash("kf_live_x"), b.hash("kf_live_x"));
}

TEST(KeyHasher, MatchesKeyedBlake2bReference) {
  // BLAKE2b-256 keyed with 32 zero bytes over "abc", computed independently (Python hashlib).
  const auto zero = MasterKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  ASSERT_TRUE(zero);
  EXPECT_EQ(hex_encode(KeyHasher(*zero).hash("abc")),
            "bad705ff155af631f38dc6cafdda827a31595c802f3ff585c10691c58944d89b");
}

TEST(SecretBox, RoundTripsAndBindsTheContext) {
  const SecretBox box(MasterKey::generate());
  const auto sealed = box.seal("whsec_secret", "webhook_secret");
  EXPECT_EQ(box.open(sealed, "webhook_secret"), "whsec_secret");
  EXPECT_FALSE(box.open(sealed, "event_write_key").has_value());
  auto tampered = sealed;
  tampered.back() ^= 1;
  EXPECT_FALSE(box.open(tampered, "webhook_secret").has_value());
  EXPECT_FALSE(SecretBox(MasterKey::generate()).open(sealed, "webhook_secret").has_value());
  EXPECT_NE(box.seal("same", "c"), box.seal("same", "c")) << "nonces must differ";
}

TEST(WebhookSecret, IsWhsecAndBase64Of24Bytes) {
  const auto secret = generate_webhook_secret();
  ASSERT_TRUE(secret.starts_with("whsec_"));
  const auto raw = base64_decode(secret.substr(6));
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 24u);
  EXPECT_NE(secret, generate_webhook_secret());
}

TEST(Encoding, Base62IsFixedWidthAndBase64RoundTrips) {
  const std::vector<std::uint8_t> zero(4, 0);
  EXPECT_EQ(base62_encode(zero, 6), "000000");
  const std::vector<std::uint8_t> v{0, 0, 0, 61};
  EXPECT_EQ(base62_encode(v, 3), "00z");
  const std::vector<std::uint8_t> v62{0, 0, 0, 62};
  EXPECT_EQ(base62_encode(v62, 3), "010");
  const std::string text = "hello, keyflow";
  EXPECT_EQ(base64_encode(as_bytes(text)), "aGVsbG8sIGtleWZsb3c=");
  const auto back = base64_decode("aGVsbG8sIGtleWZsb3c=");
  ASSERT_TRUE(back);
  EXPECT_EQ(std::string(back->begin(), back->end()), text);
  EXPECT_FALSE(base64_decode("***").has_value());
}

}  // namespace
}  // namespace keyflow
