#include "consumers/delivery_outcome.hpp"

#include <gtest/gtest.h>

#include "engine/core/encoding.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;

const TimePoint kNow = std::chrono::system_clock::from_time_t(1796000000);
const RetrySchedule kSchedule({0ms, 10s, 1min});

WebhookResponse answered(int status, std::string retry_after = {}) {
  WebhookResponse r;
  r.status_code = status;
  r.retry_after = std::move(retry_after);
  return r;
}

TEST(DeliveryOutcome, TwoHundredsAcknowledgeAndEverythingElseIsRetried) {
  for (int status : {200, 201, 204, 299})
    EXPECT_EQ(decide_outcome(answered(status), 1, kNow, kSchedule, 0.5).status, "succeeded");
  for (int status : {0, 199, 301, 302, 307, 400, 404, 429, 500, 503}) {
    const auto o = decide_outcome(answered(status), 1, kNow, kSchedule, 0.5);
    EXPECT_EQ(o.status, "pending") << status;
    EXPECT_EQ(o.next_attempt_at, kNow + 10s) << status;
    EXPECT_FALSE(o.endpoint_gone);
  }
  WebhookResponse refused;
  refused.error = "connect: refused";
  EXPECT_EQ(decide_outcome(refused, 1, kNow, kSchedule, 0.5).status, "pending");
  EXPECT_EQ(decide_outcome(answered(500), 3, kNow, kSchedule, 0.5).status, "dead");
}

TEST(DeliveryOutcome, GoneIsDeadAtOnceAndSaysSo) {
  const auto o = decide_outcome(answered(410), 1, kNow, kSchedule, 0.5);
  EXPECT_EQ(o.status, "dead");
  EXPECT_TRUE(o.endpoint_gone);
}

TEST(DeliveryOutcome, RetryAfterOf429And503WaitsLongerThanTheScheduleNeverShorter) {
  EXPECT_EQ(decide_outcome(answered(429, "120"), 1, kNow, kSchedule, 0.5).next_attempt_at,
            kNow + 120s);
  EXPECT_EQ(decide_outcome(answered(503, "1"), 1, kNow, kSchedule, 0.5).next_attempt_at,
            kNow + 10s);
  EXPECT_EQ(decide_outcome(answered(500, "120"), 1, kNow, kSchedule, 0.5).next_attempt_at,
            kNow + 10s);  // only 429 and 503 ask for it
  EXPECT_EQ(decide_outcome(answered(429, "99999999999"), 1, kNow, kSchedule, 0.5).next_attempt_at,
            kNow + 24h);  // at most a day
  EXPECT_EQ(decide_outcome(answered(429, "soon"), 1, kNow, kSchedule, 0.5).next_attempt_at,
            kNow + 10s);
}

TEST(DeliveryOutcome, RetryAfterReadsSecondsAndHttpDates) {
  EXPECT_EQ(parse_retry_after("30", kNow), 30s);
  EXPECT_EQ(parse_retry_after(" 0 ", kNow), 0s);
  EXPECT_EQ(parse_retry_after("Mon, 30 Nov 2026 00:54:50 GMT", kNow), 90s);  // kNow + 90 s
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kNow), 0s);
  for (const char* bad : {"", "-5", "1.5", "30s", "tomorrow", "Mon, 30 Nov 2026 00:54:50 PST"})
    EXPECT_FALSE(parse_retry_after(bad, kNow)) << bad;
}

TEST(ValidUtf8, KeepsValidTextAndReplacesEveryBadByteAndNul) {
  EXPECT_EQ(valid_utf8("plain ascii"), "plain ascii");
  EXPECT_EQ(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  const std::string with_nul("a\0b", 3);
  EXPECT_EQ(valid_utf8(with_nul),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(valid_utf8("\xC3"), "\xEF\xBF\xBD");                                  // cut short
  EXPECT_EQ(valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(valid_utf8("\xFF"), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace keyflow
