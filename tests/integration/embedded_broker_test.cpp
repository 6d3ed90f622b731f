#include "outbox/embedded_broker.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "outbox/kafka_error.hpp"
#include "outbox/kafka_producer.hpp"
#include "outbox/topics.hpp"
#include "tests/support/kafka_test_consumer.hpp"

namespace keyflow {

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using test::KafkaTestConsumer;

// Polls until every produced message has its report, or the deadline passes.
std::vector<DeliveryReport> await_reports(KafkaProducer& producer,
                                          std::chrono::milliseconds timeout) {
  std::vector<DeliveryReport> reports;
  const auto deadline = SteadyClock::now() + timeout;
  while (producer.pending() > 0 && SteadyClock::now() < deadline) {
    for (auto& report : producer.poll(50ms))
      reports.push_back(report);
  }
  return reports;
}

// Runs a command and returns its standard output; nullopt when it fails to run or exits non-0.
std::optional<std::string> run_command(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string output;
  std::array<char, 4096> buffer;
  std::size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.append(buffer.data(), n);
  if (pclose(pipe) != 0) return std::nullopt;
  return output;
}

OutgoingMessage sample_message(const std::string& key, const std::string& value) {
  return OutgoingMessage{
      .topic = topic_for_aggregate("api_key"),
      .key = key,
      .value = value,
      .headers = {{"ce_id", "evt-" + key}, {"content-type", "application/json"}},
  };
}

TEST(EmbeddedBroker, CreatesEveryKeyflowTopic) {
  // 3 partitions, not the 4 of the default nor the 1 a topic created on first use would get.
  EmbeddedBroker broker(1, 3);
  for (const auto& topic : all_topics()) {
    KafkaTestConsumer consumer(broker.bootstrap_servers(), topic);  // throws without metadata
    EXPECT_EQ(consumer.partitions(), 3) << topic;
    EXPECT_TRUE(consumer.drain_for(100ms).empty()) << topic << " is not empty";
  }
}

TEST(EmbeddedBroker, ProducerAndConsumerRoundTripWithHeaders) {
  EmbeddedBroker broker;
  ProducerOptions options;
  options.bootstrap_servers = broker.bootstrap_servers();
  KafkaProducer producer(options);

  ASSERT_FALSE(producer.produce(sample_message("key-1", R"({"n": 1})"), 41));
  ASSERT_FALSE(producer.produce(sample_message("key-2", R"({"n": 2})"), 42));
  const auto reports = await_reports(producer, 10s);
  ASSERT_EQ(reports.size(), 2u);
  for (const auto& report : reports) {
    EXPECT_TRUE(report.ok()) << report.error.message();
    EXPECT_GE(report.offset, 0);
  }
  EXPECT_TRUE(reports[0].tag == 41 || reports[1].tag == 41);
  EXPECT_TRUE(reports[0].tag == 42 || reports[1].tag == 42);

  KafkaTestConsumer consumer(broker.bootstrap_servers(), topic_for_aggregate("api_key"));
  auto messages = consumer.wait_for(2, 10s);
  ASSERT_EQ(messages.size(), 2u);
  std::sort(messages.begin(), messages.end(),
            [](const auto& a, const auto& b) { return a.key < b.key; });
  EXPECT_EQ(messages[0].topic, "keyflow.api_keys");
  EXPECT_EQ(messages[0].key, "key-1");
  EXPECT_EQ(messages[0].value, R"({"n": 1})");
  EXPECT_EQ(messages[0].headers.at("ce_id"), "evt-key-1");
  EXPECT_EQ(messages[0].headers.at("content-type"), "application/json");
  EXPECT_EQ(messages[1].key, "key-2");
}

TEST(EmbeddedBroker, RoundTripsAcrossSeveralBrokers) {
  EmbeddedBroker broker(3, 4);
  ProducerOptions options;
  options.bootstrap_servers = broker.bootstrap_servers();
  KafkaProducer producer(options);
  for (std::uint64_t i = 0; i < 20; ++i)
    ASSERT_FALSE(producer.produce(sample_message("key-" + std::to_string(i), "{}"), i));
  const auto reports = await_reports(producer, 10s);
  ASSERT_EQ(reports.size(), 20u);
  for (const auto& report : reports)
    EXPECT_TRUE(report.ok()) << report.error.message();

  KafkaTestConsumer consumer(broker.bootstrap_servers(), topic_for_aggregate("api_key"));
  EXPECT_EQ(consumer.wait_for(20, 10s).size(), 20u);
}

TEST(EmbeddedBroker, DeliveryFailsWhileBrokersAreDownAndSucceedsAfter) {
  EmbeddedBroker broker;
  ProducerOptions options;
  options.bootstrap_servers = broker.bootstrap_servers();
  options.message_timeout = 1000ms;
  KafkaProducer producer(options);

  broker.set_down(true);
  ASSERT_FALSE(producer.produce(sample_message("key-1", "{}"), 1));
  auto reports = await_reports(producer, 10s);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].ok());
  EXPECT_EQ(reports[0].error.category(), kafka_category());

  broker.set_down(false);
  ASSERT_FALSE(producer.produce(sample_message("key-1", "{}"), 2));
  reports = await_reports(producer, 10s);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].ok()) << reports[0].error.message();
  EXPECT_FALSE(producer.fatal_error());
}

TEST(EmbeddedBroker, KcatListsTheKeyflowTopics) {
  ASSERT_TRUE(run_command("command -v kcat >/dev/null"))
      << "kcat is not installed (scripts/lib/packages lists it)";
  EmbeddedBroker broker;
  const auto listing = run_command("kcat -L -m 10 -b " + broker.bootstrap_servers() + " 2>&1");
  ASSERT_TRUE(listing);
  for (const auto& topic : all_topics()) {
    EXPECT_NE(listing->find("topic \"" + topic + "\" with 4 partitions"), std::string::npos)
        << *listing;
  }
}

}  // namespace
}  // namespace keyflow
