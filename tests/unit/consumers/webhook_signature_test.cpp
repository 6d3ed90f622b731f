#include "consumers/webhook_signature.hpp"

#include <gtest/gtest.h>

#include "engine/core/encoding.hpp"

namespace keyflow {
namespace {

// The published example of the Standard Webhooks specification.
constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kMsgId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kTimestamp = 1614265330;
constexpr std::string_view kBody = R"({"test": 2432232314})";
constexpr std::string_view kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST(WebhookSignature, MatchesTheSpecificationVector) {
  EXPECT_EQ(sign(kSecret, kMsgId, kTimestamp, kBody), kSignature);
}

TEST(WebhookSignature, VerifyAcceptsTheSpecificationVector) {
  EXPECT_TRUE(verify(kSecret, kMsgId, kTimestamp, kBody, kSignature));
}

TEST(WebhookSignature, VerifyRejectsATamperedBody) {
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp, R"({"test": 2432232315})", kSignature));
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp, R"({"test":2432232314})", kSignature));
}

TEST(WebhookSignature, VerifyRejectsAnotherIdOrTimestamp) {
  EXPECT_FALSE(verify(kSecret, "msg_p5jXN8AQM9LWM0D4loKWxJeK", kTimestamp, kBody, kSignature));
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp + 1, kBody, kSignature));
}

TEST(WebhookSignature, VerifyRejectsAnotherSecret) {
  EXPECT_FALSE(verify(generate_webhook_secret(), kMsgId, kTimestamp, kBody, kSignature));
}

TEST(WebhookSignature, VerifyRejectsATamperedSignature) {
  std::string bad(kSignature);
  bad[5] = bad[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp, kBody, bad));
  EXPECT_FALSE(
      verify(kSecret, kMsgId, kTimestamp, kBody, "v2" + std::string(kSignature.substr(2))));
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp, kBody, kSignature.substr(3)));
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp, kBody, "v1,"));
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp, kBody, "v1,not base64!"));
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp, kBody, ""));
}

TEST(WebhookSignature, VerifyAcceptsAnyOfSeveralSignatures) {
  // During a secret rotation the sender signs with both secrets; a receiver holds one.
  const auto other = sign(generate_webhook_secret(), kMsgId, kTimestamp, kBody);
  EXPECT_TRUE(verify(kSecret, kMsgId, kTimestamp, kBody, other + " " + std::string(kSignature)));
  EXPECT_TRUE(verify(kSecret, kMsgId, kTimestamp, kBody, std::string(kSignature) + " " + other));
  EXPECT_TRUE(verify(kSecret, kMsgId, kTimestamp, kBody,
                     "v1a,c29tZSBlZDI1NTE5IHNpZ25hdHVyZQ== " + std::string(kSignature)));
  EXPECT_FALSE(verify(kSecret, kMsgId, kTimestamp, kBody, other));
}

TEST(WebhookSignature, VerifyRejectsAMalformedSecret) {
  EXPECT_FALSE(verify("whsec_%%%", kMsgId, kTimestamp, kBody, kSignature));
}

TEST(WebhookSignature, SignRejectsAMalformedSecret) {
  EXPECT_THROW(sign("whsec_%%%", kMsgId, kTimestamp, kBody), std::invalid_argument);
}

TEST(WebhookSignature, GeneratedSecretsCarryTwentyFourRandomBytes) {
  const auto a = generate_webhook_secret();
  const auto b = generate_webhook_secret();
  EXPECT_NE(a, b);
  ASSERT_TRUE(a.starts_with("whsec_"));
  const auto key = base64_decode(std::string_view(a).substr(6));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->size(), 24u);
}

TEST(WebhookSignature, GeneratedSecretSignsAndVerifies) {
  const auto secret = generate_webhook_secret();
  const auto signature = sign(secret, "msg_1", 1700000000, "{}");
  EXPECT_TRUE(signature.starts_with("v1,"));
  EXPECT_TRUE(verify(secret, "msg_1", 1700000000, "{}", signature));
}

}  // namespace
}  // namespace keyflow
