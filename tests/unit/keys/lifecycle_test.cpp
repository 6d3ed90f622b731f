#include "engine/keys/lifecycle.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using namespace std::chrono_literals;

class KeyStateTest : public ::testing::Test {
 protected:
  TimePoint now = TimePoint(std::chrono::seconds(1'800'000'000));
  ApiKey key;
};

TEST_F(KeyStateTest, ActiveKeyIsValid) {
  EXPECT_EQ(key_state_at(key, now), VerifyCode::valid);
}

TEST_F(KeyStateTest, RevokedWinsOverEverythingElse) {
  key.revoked_at = now - 1s;
  key.enabled = false;
  key.expires_at = now - 1h;
  EXPECT_EQ(key_state_at(key, now), VerifyCode::revoked);
}

TEST_F(KeyStateTest, DisabledKeyIsDisabled) {
  key.enabled = false;
  EXPECT_EQ(key_state_at(key, now), VerifyCode::disabled);
}

TEST_F(KeyStateTest, ExpiryIsExclusiveOfTheInstant) {
  key.expires_at = now + 1s;
  EXPECT_EQ(key_state_at(key, now), VerifyCode::valid);
  key.expires_at = now;
  EXPECT_EQ(key_state_at(key, now), VerifyCode::expired);
}

TEST_F(KeyStateTest, RotatedKeyIsValidOnlyInsideItsGrace) {
  key.replaced_by_key_id = "other";
  key.grace_expires_at = now + 10s;
  EXPECT_EQ(key_state_at(key, now), VerifyCode::valid);
  EXPECT_EQ(key_state_at(key, now + 10s), VerifyCode::expired);
  key.grace_expires_at.reset();
  EXPECT_EQ(key_state_at(key, now), VerifyCode::expired);
}

TEST(NextRotation, AddsWholeDays) {
  const TimePoint t(std::chrono::seconds(0));
  EXPECT_EQ(next_rotation_after(t, 30), t + 30 * 24h);
}

TEST(Scopes, ManagementAndResourceActionScopes) {
  for (const char* ok : {"READ", "CREATE", "UPDATE", "DELETE", "MANAGE", "orders:read", "orders:*",
                         "billing.invoices:write"}) {
    EXPECT_TRUE(is_valid_scope(ok)) << ok;
  }
  for (const char* bad :
       {"", "read", "ROOT", "orders", ":read", "orders:", "Orders:read", "*:read", "a:b:c c"}) {
    EXPECT_FALSE(is_valid_scope(bad)) << bad;
  }
}

TEST(VerifyCodes, HaveTheirWireNames) {
  EXPECT_EQ(to_string(VerifyCode::valid), "VALID");
  EXPECT_EQ(to_string(VerifyCode::insufficient_scopes), "INSUFFICIENT_SCOPES");
  EXPECT_EQ(to_string(VerifyCode::malformed), "MALFORMED");
}

}  // namespace
}  // namespace keyflow
