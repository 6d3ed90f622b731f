#include "engine/keys/verify_cache.hpp"

#include <set>

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using namespace std::chrono_literals;

ApiKey key_with_id(std::string id) {
  ApiKey k;
  k.id = std::move(id);
  return k;
}

TEST(VerifyCache, ServesUntilTheTtlRunsOut) {
  ManualClock clock(TimePoint(1000s));
  VerifyCache cache(clock, 5s);
  const Bytes h{1, 2, 3};
  EXPECT_FALSE(cache.get(h).has_value());
  cache.put(h, key_with_id("k1"), cache.epoch());
  ASSERT_TRUE(cache.get(h).has_value());
  EXPECT_EQ((*cache.get(h))->id, "k1");
  clock.advance(5s);
  EXPECT_FALSE(cache.get(h).has_value());
}

TEST(VerifyCache, RemembersAbsentKeys) {
  ManualClock clock(TimePoint(1000s));
  VerifyCache cache(clock, 5s);
  cache.put({9}, std::nullopt, cache.epoch());
  const auto hit = cache.get({9});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit, nullptr);
}

TEST(VerifyCache, AKeyLoadedAsAbsentIsNoLongerKnown) {
  ManualClock clock(TimePoint(1000s));
  VerifyCache cache(clock, 5s);
  const Bytes h(32, 7);  // a hash's real length
  cache.put(h, key_with_id("k1"), cache.epoch());
  cache.put(h, std::nullopt, cache.epoch());
  const auto hit = cache.get(h);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit, nullptr);
  cache.put(h, key_with_id("k1"), cache.epoch());
  EXPECT_NE(*cache.get(h), nullptr);
}

TEST(VerifyCache, InvalidatesByKeyId) {
  ManualClock clock(TimePoint(1000s));
  VerifyCache cache(clock, 60s);
  cache.put({1}, key_with_id("k1"), cache.epoch());
  cache.put({2}, key_with_id("k2"), cache.epoch());
  cache.invalidate_key("k1");
  EXPECT_FALSE(cache.get({1}).has_value());
  EXPECT_TRUE(cache.get({2}).has_value());
  cache.invalidate_key("unknown");
}

TEST(VerifyCache, DropsALoadThatRacedWithAnInvalidation) {
  ManualClock clock(TimePoint(1000s));
  VerifyCache cache(clock, 60s);
  const auto before_load = cache.epoch();
  cache.invalidate_key("k1");  // the key's revoke event arrives while its old state loads
  cache.put({1}, key_with_id("k1"), before_load);
  EXPECT_FALSE(cache.get({1}).has_value());
}

TEST(VerifyCache, StaysBounded) {
  ManualClock clock(TimePoint(1000s));
  VerifyCache cache(clock, 60s, 10, 10);
  for (std::uint8_t i = 0; i < 25; ++i)
    cache.put({i}, std::nullopt, cache.epoch());
  EXPECT_LE(cache.size(), 10u);
}

TEST(VerifyCache, AFloodOfUnknownKeysDoesNotPushKnownKeysOut) {
  ManualClock clock(TimePoint(0s));
  VerifyCache cache(clock, 60s, 100, 50);
  ApiKey known;
  known.id = "known";
  cache.put({0xff, 0xff}, known, cache.epoch());
  for (int i = 0; i < 10000; ++i) {
    cache.put({static_cast<std::uint8_t>(i & 0xff), static_cast<std::uint8_t>(i >> 8)},
              std::nullopt, cache.epoch());
  }
  const auto hit = cache.get({0xff, 0xff});
  ASSERT_TRUE(hit.has_value()) << "the known key was evicted by absent ones";
  ASSERT_NE(*hit, nullptr);
  EXPECT_EQ((*hit)->id, "known");
  EXPECT_LE(cache.size(), 51u);
}

TEST(VerifyCache, AnswersOnlyWhileTrusted) {
  ManualClock clock(TimePoint(1000s));
  VerifyCache cache(clock, 60s);
  ApiKey key;
  key.id = "k";
  cache.trust_until(clock.now() + 2s);
  cache.put({1}, key, cache.epoch());
  EXPECT_TRUE(cache.get({1}).has_value());
  clock.advance(3s);
  EXPECT_FALSE(cache.get({1}).has_value()) << "answered past its trust";
  cache.put({2}, key, cache.epoch());
  cache.trust_until(clock.now() + 2s);
  EXPECT_FALSE(cache.get({2}).has_value()) << "kept what it loaded while untrusted";
  EXPECT_TRUE(cache.get({1}).has_value()) << "trusted again, it answers again";
}

TEST(VerifyCache, HandsOutOneSharedCopyOfAKey) {
  ManualClock clock(TimePoint(1000s));
  VerifyCache cache(clock, 60s);
  const auto stored = cache.put({1}, key_with_id("k1"), cache.epoch());
  EXPECT_EQ(*cache.get({1}), stored);
  EXPECT_EQ(*cache.get({1}), stored) << "each verify would copy the key";
}

TEST(SharedKey, CountsTheFirstUseOfEachOfItsMinutesOnly) {
  const SharedKey key(key_with_id("k1"));
  const auto minute = TimePoint(600s) - key.usage_phase();  // where one of the key's begins
  EXPECT_TRUE(key.first_use_this_minute(minute));
  EXPECT_FALSE(key.first_use_this_minute(minute + 1s));
  EXPECT_FALSE(key.first_use_this_minute(minute + 59s + 999ms));
  EXPECT_FALSE(key.first_use_this_minute(minute - 1s)) << "an older use moved it back";
  EXPECT_TRUE(key.first_use_this_minute(minute + 60s));
}

TEST(SharedKey, KeysStartTheirMinutesAtPhasesSpreadOverTheMinute) {
  std::set<std::int64_t> tenths;  // of the minute
  for (int i = 0; i < 100; ++i) {
    const SharedKey key(key_with_id("k" + std::to_string(i)));
    EXPECT_LT(key.usage_phase(), 60s);
    tenths.insert(key.usage_phase() / 6s);
  }
  EXPECT_EQ(tenths.size(), 10u) << "a hundred keys due in every tenth of the minute";
}

TEST(SharedKey, RendersOnce) {
  const SharedKey key(key_with_id("k1"));
  int renders = 0;
  const auto render = [&](const ApiKey& k) {
    ++renders;
    return "{" + k.id + "}";
  };
  EXPECT_EQ(key.rendered(render), "{k1}");
  EXPECT_EQ(key.rendered(render), "{k1}");
  EXPECT_EQ(renders, 1);
}

TEST(UsageRecorder, KeepsTheNewestUsePerKeyUntilTaken) {
  UsageRecorder usage;
  usage.record("k1", TimePoint(10s));
  usage.record("k1", TimePoint(30s));
  usage.record("k1", TimePoint(20s));
  usage.record("k2", TimePoint(5s));
  auto taken = usage.take();
  std::sort(taken.begin(), taken.end());
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0], std::make_pair(std::string("k1"), TimePoint(30s)));
  EXPECT_TRUE(usage.take().empty());
}

}  // namespace
}  // namespace keyflow
