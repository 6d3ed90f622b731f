#include "consumers/first_attempts.hpp"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace keyflow {
namespace {

using namespace std::chrono_literals;

FinishedAttempt attempt(const std::string& id, int status = 204) {
  FinishedAttempt a;
  a.claim.delivery_id = id;
  a.response.status_code = status;
  return a;
}

std::vector<std::string> ids(const std::vector<FinishedAttempt>& attempts) {
  std::vector<std::string> out;
  for (const auto& a : attempts)
    out.push_back(a.claim.delivery_id);
  return out;
}

// Until the batch is written, every finished attempt is the batch's; while it is written they
// wait apart; once it is handed over, the sender records them (take() is false).
TEST(FirstAttempts, KeepsWhatFinishesUntilHandedOver) {
  FirstAttempts first;
  auto a = attempt("msg_a");
  EXPECT_TRUE(first.take(a));
  EXPECT_EQ(ids(first.seal()), std::vector<std::string>{"msg_a"});

  auto b = attempt("msg_b");
  EXPECT_TRUE(first.take(b)) << "finished during the write: kept for hand_over";
  EXPECT_EQ(ids(first.hand_over()), std::vector<std::string>{"msg_b"});

  auto c = attempt("msg_c");
  EXPECT_FALSE(first.take(c)) << "after the write: the sender's to record";
  EXPECT_EQ(c.claim.delivery_id, "msg_c") << "left to the caller, not moved from";
}

// A write that failed takes back what it sealed and what finished meanwhile, for the next.
TEST(FirstAttempts, ReopenTakesBackTheSealedAndTheLate) {
  FirstAttempts first;
  auto a = attempt("msg_a");
  first.take(a);
  auto sealed = first.seal();
  auto b = attempt("msg_b");
  first.take(b);
  first.reopen(std::move(sealed));
  EXPECT_TRUE(first.finished(2));
  EXPECT_EQ(ids(first.seal()), (std::vector<std::string>{"msg_a", "msg_b"}));
  EXPECT_TRUE(first.hand_over().empty());
}

TEST(FirstAttempts, WaitReturnsWhenTheLastAwaitedFinishesOrAtTheDeadline) {
  FirstAttempts first;
  const auto started = std::chrono::steady_clock::now();
  first.wait(1, started + 50ms);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms) << "nothing finished";

  std::thread finisher([&first] {
    std::this_thread::sleep_for(20ms);
    auto a = attempt("msg_a");
    first.take(a);
    auto b = attempt("msg_b");
    first.take(b);
  });
  const auto waiting = std::chrono::steady_clock::now();
  first.wait(2, waiting + 10s);
  finisher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - waiting, 5s);
  EXPECT_TRUE(first.finished(2));
}

}  // namespace
}  // namespace keyflow
