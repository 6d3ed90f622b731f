// `keyflowd broker` alone: the embedded broker speaks real Kafka to a stock client (kcat).
#include <csignal>
#include <cstdio>

#include <gtest/gtest.h>

#include "tests/support/child_process.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;

// Runs a shell command and returns its stdout.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (auto n = fread(buffer, 1, sizeof buffer, pipe))
    out.append(buffer, n);
  pclose(pipe);
  return out;
}

TEST(BrokerRole, KcatProducesToAndConsumesFromTheEmbeddedBroker) {
  test::ChildProcess broker(KEYFLOWD_PATH, {"broker"}, {{"KEYFLOW_KAFKA_BROKERS", "embedded"}});
  const auto bootstrap = broker.wait_for_line("kafka bootstrap ", 30s);
  ASSERT_TRUE(bootstrap.has_value());

  const auto listing = run("kcat -b " + *bootstrap + " -L -m 10 2>&1");
  EXPECT_NE(listing.find("keyflow.api_keys"), std::string::npos) << listing;

  run("printf 'key-1:hello\\nkey-2:world\\n' | kcat -b " + *bootstrap +
      " -P -t keyflow.api_keys -K: -m 10 2>&1");
  const auto consumed = run("kcat -b " + *bootstrap +
                            " -C -t keyflow.api_keys -o beginning -e -q -m 10 -f '%k=%s\\n' 2>&1");
  EXPECT_NE(consumed.find("key-1=hello"), std::string::npos) << consumed;
  EXPECT_NE(consumed.find("key-2=world"), std::string::npos) << consumed;

  broker.signal(SIGINT);
  EXPECT_EQ(broker.wait(10s), std::optional<int>(0));
}

}  // namespace
}  // namespace keyflow
