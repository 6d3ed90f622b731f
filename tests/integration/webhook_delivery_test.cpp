#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "consumers/delivery_fanout.hpp"
#include "consumers/webhook_deliverer.hpp"
#include "consumers/webhook_signature.hpp"
#include "engine/core/encoding.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/metrics.hpp"
#include "engine/core/time_format.hpp"
#include "engine/crypto/master_key.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/store/database.hpp"
#include "engine/webhooks/subscription_service.hpp"
#include "engine/webhooks/webhook_message.hpp"
#include "outbox/embedded_broker.hpp"
#include "outbox/kafka_producer.hpp"
#include "outbox/topics.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standard_webhooks.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using test::WebhookReceiver;
using SteadyClock = std::chrono::steady_clock;
using test::eventually;

struct Subscription {
  std::string id;
  std::string secret;
};

struct PublishedEvent {
  std::string id;
  std::string type;
  std::string subject;
  std::string time;
  boost::json::object data;
};

// Runs a deliverer on its own thread until stop() or the object goes away.
class RunningDeliverer {
 public:
  RunningDeliverer(DeliverOptions options, const MasterKey& key, const Clock& clock)
      : deliverer_(std::move(options), key, clock),
        thread_([this](std::stop_token stop) { deliverer_.run(stop); }) {}

  // Asks run() to return and waits for it; returns how long that took.
  std::chrono::milliseconds stop() {
    const auto asked = std::chrono::steady_clock::now();
    thread_.request_stop();
    thread_.join();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 asked);
  }

 private:
  WebhookDeliverer deliverer_;
  std::jthread thread_;
};

class WebhookDeliveryTest : public ::testing::Test {
 protected:
  test::TestDatabase db;
  EmbeddedBroker broker{1, 4};
  MasterKey master_key = *MasterKey::from_base64(test::kTestMasterKey);
  SystemClock clock;
  ConnectionPool pool{db.url(), 2};
  WebhookReceiver receiver;
  std::string organization_id = insert_organization("acme");

  std::string insert_organization(const std::string& name) {
    return pool.transact([&](pqxx::work& txn) {
      return std::string(
          txn.exec_params1("INSERT INTO organizations (id, name) VALUES ($1, $2) RETURNING id",
                           new_id(), name)[0]
              .c_str());
    });
  }

  Subscription subscribe(const std::string& url, const std::vector<std::string>& event_types = {},
                         std::optional<std::string> organization = std::nullopt) {
    Subscription s;
    s.secret = generate_webhook_secret();
    const auto sealed = SecretBox(master_key).seal(s.secret, kWebhookSecretContext);
    std::string types = "{";
    for (const auto& t : event_types)
      types += (types.size() > 1 ? "," : "") + t;
    types += "}";
    s.id = pool.transact([&](pqxx::work& txn) {
      return std::string(txn.exec_params1("INSERT INTO webhook_subscriptions"
                                          " (id, organization_id, url, event_types, secret_sealed)"
                                          " VALUES ($1, $2, $3, $4::text[], $5) RETURNING id",
                                          new_id(), organization, url, types,
                                          pqxx::binarystring(sealed.data(), sealed.size()))[0]
                             .c_str());
    });
    return s;
  }

  // The receiver got exactly `sent` requests for what was published so far, and gets no more:
  // a sentinel event published now reaches it next (answered 200), with nothing else before
  // or with it.
  void expect_nothing_more_than(std::size_t sent) {
    receiver.set_status(200);
    const std::string sentinel = "1125899906842625";
    publish("api_key.updated", sentinel);
    ASSERT_TRUE(receiver.wait_for(sent + 1, 30s)) << "the sentinel never arrived";
    const auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), sent + 1);
    EXPECT_EQ(boost::json::parse(requests.back().body).at("resourceId").as_string(), sentinel);
  }

  // An api_key event as the relay publishes it: CloudEvents binary mode on keyflow.api_keys.
  PublishedEvent publish(const std::string& type = "api_key.created",
                         const std::string& subject = "3518437208883201",
                         std::optional<std::string> event_id = std::nullopt,
                         std::optional<std::string> organization = std::nullopt,
                         std::optional<std::string> time = std::nullopt) {
    PublishedEvent e;
    e.id = event_id.value_or(random_uuid());
    e.type = type;
    e.subject = subject;
    e.time = time.value_or(format_timestamp(clock.now()));
    e.data = {{"id", subject},
              {"organization_id", organization.value_or(organization_id)},
              {"project_id", nullptr},
              {"name", "ci deploy key"},
              {"key_prefix", "kf_live_a1B2"},
              {"scopes", boost::json::array{"READ", "CREATE"}},
              {"created_at", e.time}};
    KafkaProducer producer(producer_options());
    const auto ec =
        producer.produce(OutgoingMessage{.topic = topic_for_aggregate("api_key"),
                                         .key = subject,
                                         .value = boost::json::serialize(e.data),
                                         .headers = {{"ce_specversion", "1.0"},
                                                     {"ce_id", e.id},
                                                     {"ce_source", "/keyflow"},
                                                     {"ce_type", type},
                                                     {"ce_time", e.time},
                                                     {"ce_subject", subject},
                                                     {"content-type", "application/json"}}},
                         1);
    EXPECT_FALSE(ec) << ec.message();
    const auto deadline = SteadyClock::now() + 10s;
    std::vector<DeliveryReport> reports;
    while (reports.empty() && SteadyClock::now() < deadline)
      reports = producer.poll(50ms);
    EXPECT_EQ(reports.size(), 1u);
    if (!reports.empty()) {
      EXPECT_TRUE(reports[0].ok()) << reports[0].error.message();
    }
    return e;
  }

  ProducerOptions producer_options() {
    ProducerOptions o;
    o.bootstrap_servers = broker.bootstrap_servers();
    return o;
  }

  // `n` api_key.created events of as many keys, through one producer; `first_subject` and up.
  void publish_many(int n, std::int64_t first_subject = 3518437208883201) {
    KafkaProducer producer(producer_options());
    const auto time = format_timestamp(clock.now());
    for (int i = 0; i < n; ++i) {
      const auto subject = std::to_string(first_subject + i);
      boost::json::object data{{"id", subject}, {"organization_id", organization_id}};
      ASSERT_FALSE(producer.produce(OutgoingMessage{.topic = topic_for_aggregate("api_key"),
                                                    .key = subject,
                                                    .value = boost::json::serialize(data),
                                                    .headers = {{"ce_specversion", "1.0"},
                                                                {"ce_id", random_uuid()},
                                                                {"ce_source", "/keyflow"},
                                                                {"ce_type", "api_key.created"},
                                                                {"ce_time", time},
                                                                {"ce_subject", subject}}},
                                    static_cast<std::uint64_t>(i)));
    }
    std::size_t reports = 0;
    const auto deadline = SteadyClock::now() + 20s;
    while (reports < static_cast<std::size_t>(n) && SteadyClock::now() < deadline)
      reports += producer.poll(50ms).size();
    ASSERT_EQ(reports, static_cast<std::size_t>(n));
  }

  std::string random_uuid() {
    return pool.transact([](pqxx::work& txn) {
      return std::string(txn.exec1("SELECT gen_random_uuid()")[0].c_str());
    });
  }

  DeliverOptions options(bool allow_private = true) {
    DeliverOptions o;
    o.database_url = db.url();
    o.brokers = broker.bootstrap_servers();
    o.destinations = DestinationPolicy(allow_private, {});
    o.retry = RetrySchedule({0ms, 100ms, 200ms, 400ms});
    o.request_timeout = 5s;
    return o;
  }

  long count(const std::string& sql) const { return db.count(sql); }

  // The first column of the first row; "<none>" without rows, "<null>" for NULL.
  std::string text(const std::string& sql) {
    return pool.transact([&](pqxx::work& txn) {
      const auto rows = txn.exec(sql);
      if (rows.empty()) return std::string("<none>");
      return rows[0][0].is_null() ? std::string("<null>") : std::string(rows[0][0].c_str());
    });
  }
};

std::int64_t to_int(const std::string& s) {
  return std::stoll(s);
}

TEST_F(WebhookDeliveryTest, DeliversASignedEventWithTheSeedPayload) {
  const auto subscription = subscribe(receiver.url());
  const auto event = publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(receiver.wait_for(1, 30s));
  const auto request = receiver.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/hooks");
  EXPECT_EQ(request.header("content-type"), "application/json");
  EXPECT_FALSE(request.header("user-agent").empty());

  const auto id = request.header("webhook-id");
  EXPECT_TRUE(id.starts_with("msg_")) << id;
  EXPECT_EQ(id.size(), 4u + 27u);
  const auto timestamp = to_int(request.header("webhook-timestamp"));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_LE(std::abs(now - timestamp), 60);
  EXPECT_TRUE(
      verify(subscription.secret, id, timestamp, request.body, request.header("webhook-signature")))
      << request.header("webhook-signature");

  const auto body = boost::json::parse(request.body).as_object();
  EXPECT_EQ(body.at("id").as_string(), id);
  EXPECT_EQ(body.at("event").as_string(), "api_key.created");
  EXPECT_EQ(body.at("resource").as_string(), "api_key");
  EXPECT_EQ(body.at("resourceId").as_string(), event.subject);
  EXPECT_EQ(body.at("timestamp").as_string(), event.time);
  EXPECT_TRUE(parse_timestamp(body.at("timestamp").as_string()).has_value());
  EXPECT_EQ(body.at("apiVersion").as_string(), "2026-11-01");
  EXPECT_EQ(body.at("data").as_object(), event.data);
  EXPECT_FALSE(body.at("data").as_object().contains("key"));

  ASSERT_TRUE(eventually(
      [&] { return text("SELECT status FROM webhook_deliveries") == "succeeded"; }, 10s));
  EXPECT_EQ(text("SELECT id FROM webhook_deliveries"), id);
  EXPECT_EQ(text("SELECT event_id::text FROM webhook_deliveries"), event.id);
  EXPECT_EQ(text("SELECT body FROM webhook_deliveries"), request.body);
  EXPECT_EQ(
      count("SELECT count(*) FROM webhook_attempts WHERE status_code = 200 AND error IS NULL"), 1);
}

TEST_F(WebhookDeliveryTest, RetriesWithTheSameIdUntilTheReceiverAcknowledges) {
  receiver.fail_next(2, 500);
  const auto subscription = subscribe(receiver.url());
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(receiver.wait_for(3, 30s));
  const auto requests = receiver.requests();
  const auto id = requests[0].header("webhook-id");
  for (const auto& r : requests) {
    EXPECT_EQ(r.header("webhook-id"), id);
    EXPECT_EQ(r.body, requests[0].body);
    EXPECT_TRUE(verify(subscription.secret, id, to_int(r.header("webhook-timestamp")), r.body,
                       r.header("webhook-signature")));
  }
  // The schedule's first retry comes after at least half its 100 ms base, the second after 100.
  EXPECT_GE(requests[1].received_at - requests[0].received_at, 50ms);
  EXPECT_GE(requests[2].received_at - requests[1].received_at, 100ms);

  ASSERT_TRUE(eventually(
      [&] { return text("SELECT status FROM webhook_deliveries") == "succeeded"; }, 10s));
  EXPECT_EQ(count("SELECT attempts FROM webhook_deliveries"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM webhook_attempts"), 3);
  EXPECT_EQ(text("SELECT string_agg(status_code::text, ',' ORDER BY id) FROM webhook_attempts"),
            "500,500,200");
  EXPECT_EQ(count("SELECT count(DISTINCT delivery_id) FROM webhook_attempts"), 1);
  EXPECT_EQ(text("SELECT locked_until FROM webhook_deliveries"), "<null>");
  expect_nothing_more_than(3);
}

TEST_F(WebhookDeliveryTest, DeliveryIsDeadAfterTheLastAttempt) {
  receiver.set_status(503);
  subscribe(receiver.url());
  publish();
  auto o = options();
  o.retry = RetrySchedule({0ms, 100ms, 200ms});
  RunningDeliverer deliverer(o, master_key, clock);

  ASSERT_TRUE(
      eventually([&] { return text("SELECT status FROM webhook_deliveries") == "dead"; }, 30s));
  EXPECT_EQ(count("SELECT attempts FROM webhook_deliveries"), 3);
  EXPECT_EQ(count("SELECT last_status_code FROM webhook_deliveries"), 503);
  expect_nothing_more_than(3);
}

TEST_F(WebhookDeliveryTest, OnlyMatchingSubscriptionsReceiveTheEvent) {
  WebhookReceiver revoked_only;
  WebhookReceiver other_organization;
  WebhookReceiver same_organization;
  subscribe(receiver.url());
  const auto revoked = subscribe(revoked_only.url(), {"api_key.revoked"});
  const auto other = subscribe(other_organization.url(), {}, insert_organization("globex"));
  subscribe(same_organization.url(), {"api_key.created", "api_key.revoked"}, organization_id);
  const auto created = publish("api_key.created");
  // A sentinel after it, on the same key and so the same partition: once the sentinel's
  // deliveries exist, the created event's fan-out is over, and whatever it did not record it
  // never will.
  const auto sentinel = publish("api_key.revoked");
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(revoked_only.wait_for(1, 30s));
  const auto deliveries_of = [&](const PublishedEvent& e) {
    return count("SELECT count(*) FROM webhook_deliveries WHERE event_id = '" + e.id + "'");
  };
  // First attempts go out before their deliveries are written: wait for the sentinel's three
  // (receiver, revoked_only, same_organization).
  ASSERT_TRUE(eventually([&] { return deliveries_of(sentinel) == 3; }, 10s))
      << deliveries_of(sentinel);
  EXPECT_EQ(deliveries_of(created), 2);  // receiver, same_organization
  EXPECT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE subscription_id IN (" +
                  revoked.id + ", " + other.id + ") AND event_id = '" + created.id + "'"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = " + other.id),
            0);
  ASSERT_TRUE(receiver.wait_for(2, 30s));
  ASSERT_TRUE(same_organization.wait_for(2, 30s));
  EXPECT_EQ(revoked_only.requests().front().header("webhook-id"),
            text("SELECT id FROM webhook_deliveries WHERE subscription_id = " + revoked.id));
  EXPECT_EQ(other_organization.count(), 0u);
}

TEST_F(WebhookDeliveryTest, ReconsumingAnEventCreatesNoSecondDelivery) {
  subscribe(receiver.url());
  const auto subject = std::string("2251799813685249");
  const auto event = publish("api_key.created", subject);
  {
    RunningDeliverer deliverer(options(), master_key, clock);
    ASSERT_TRUE(receiver.wait_for(1, 30s));
  }
  // The relay may publish an event twice (the same outbox row: its id and its time); and a new
  // group reads the topic from its start.
  publish("api_key.created", subject, event.id, std::nullopt, event.time);
  // Same key, so the same partition, after the duplicates: once it arrives they were consumed.
  publish("api_key.updated", subject);
  auto o = options();
  o.group_id = "keyflow-deliver-replay";
  RunningDeliverer replay(o, master_key, clock);

  ASSERT_TRUE(receiver.wait_for(2, 30s));
  // Every delivery recorded as sent: no further POST can come.
  ASSERT_TRUE(eventually(
      [&] {
        return count("SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'") == 0;
      },
      10s));
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(boost::json::parse(requests[1].body).at("event").as_string(), "api_key.updated");
  EXPECT_EQ(count("SELECT count(*) FROM webhook_deliveries"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE event_id = '" + event.id + "'"),
            1);
}

TEST_F(WebhookDeliveryTest, FanOutOfTheSameEventTwiceAddsNothing) {
  subscribe(receiver.url());
  subscribe(receiver.url("/other"));
  CloudEvent event;
  event.id = random_uuid();
  event.type = "api_key.revoked";
  event.subject = "key-1";
  event.time = format_timestamp(clock.now());
  event.data = {{"organization_id", organization_id}, {"project_id", nullptr}};
  DeliveryFanout fanout(pool, clock);

  const auto first = fanout.fan_out(event);
  const auto second = fanout.fan_out(event);
  EXPECT_EQ(first.matched, 2u);
  EXPECT_EQ(first.created, 2u);
  EXPECT_EQ(second.matched, 2u);
  EXPECT_EQ(second.created, 0u);
  EXPECT_EQ(count("SELECT count(*) FROM webhook_deliveries"), 2);
}

// A consumer's batch: one transaction for all, an event seen twice in it (a relay's resend)
// delivered once, each event matched by its own type and tenant.
TEST_F(WebhookDeliveryTest, ABatchFansOutEveryEventOnceAndEachToItsOwnSubscribers) {
  subscribe(receiver.url(), {"api_key.revoked"});
  subscribe(receiver.url("/all"));
  const auto other = insert_organization("other");
  subscribe(receiver.url("/other"), {}, other);
  const auto event = [&](const std::string& type, const std::string& organization) {
    CloudEvent e;
    e.id = random_uuid();
    e.type = type;
    e.subject = "1";
    e.time = format_timestamp(clock.now());
    e.data = {{"organization_id", organization}, {"project_id", nullptr}};
    return e;
  };
  const auto revoked = event("api_key.revoked", organization_id);
  DeliveryFanout fanout(pool, clock);
  const auto result = fanout.fan_out(std::vector<CloudEvent>{
      revoked, event("api_key.created", organization_id), revoked, event("api_key.created", other),
      event("api_key.revoked", organization_id)});
  EXPECT_EQ(result.matched, 2u + 1 + 2 + 2 + 2) << "two unscoped subscriptions, one of the other";
  EXPECT_EQ(result.created, 7u) << "the resent event's two deliveries are made once";
  EXPECT_EQ(count("SELECT count(*) FROM webhook_deliveries WHERE event_id = '" + revoked.id + "'"),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM webhook_deliveries d JOIN webhook_subscriptions s"
                  " ON s.id = d.subscription_id WHERE s.organization_id = " +
                  other),
            1);
}

TEST_F(WebhookDeliveryTest, LoopbackTargetIsRefusedAndRecordedWithoutAllowPrivate) {
  subscribe(receiver.url());
  publish();
  auto o = options(false);
  o.retry = RetrySchedule({0ms, 100ms});
  RunningDeliverer deliverer(o, master_key, clock);

  ASSERT_TRUE(
      eventually([&] { return text("SELECT status FROM webhook_deliveries") == "dead"; }, 30s));
  EXPECT_EQ(count("SELECT count(*) FROM webhook_attempts WHERE status_code IS NULL"), 2);
  const auto error = text("SELECT error FROM webhook_attempts ORDER BY id LIMIT 1");
  EXPECT_NE(error.find("destination refused"), std::string::npos) << error;
  EXPECT_NE(error.find("127.0.0.1"), std::string::npos) << error;
  EXPECT_NE(error.find("loopback"), std::string::npos) << error;
  EXPECT_EQ(text("SELECT last_error FROM webhook_deliveries"), error);
  EXPECT_EQ(receiver.count(), 0u);
}

TEST_F(WebhookDeliveryTest, SlowReceiverTimesOutAndIsRecorded) {
  receiver.set_delay(2s);
  subscribe(receiver.url());
  publish();
  auto o = options();
  o.request_timeout = 300ms;
  o.retry = RetrySchedule({0ms});
  RunningDeliverer deliverer(o, master_key, clock);

  ASSERT_TRUE(
      eventually([&] { return text("SELECT status FROM webhook_deliveries") == "dead"; }, 30s));
  const auto error = text("SELECT error FROM webhook_attempts");
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_GE(count("SELECT latency_ms FROM webhook_attempts"), 300);
  EXPECT_LT(count("SELECT latency_ms FROM webhook_attempts"), 2000);
}

TEST_F(WebhookDeliveryTest, RunReturnsPromptlyWhenStopIsRequested) {
  subscribe(receiver.url());
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);
  ASSERT_TRUE(receiver.wait_for(1, 30s));
  ASSERT_TRUE(eventually(
      [&] { return text("SELECT status FROM webhook_deliveries") == "succeeded"; }, 10s));

  const auto took = deliverer.stop();
  // The loops look at the stop token every 200 ms; leaving the consumer group adds a little.
  EXPECT_LT(took, 2s) << took.count() << " ms";
  std::printf("[ measure  ] run() returned %lld ms after stop was requested\n",
              static_cast<long long>(took.count()));
}

// SIGTERM finishes what is in flight: a stop that comes while a POST waits for its answer
// waits for the answer (within the sender's shutdown grace) and records it, so that the
// delivery is neither lost nor sent again by the next deliverer.
TEST_F(WebhookDeliveryTest, StopWaitsForTheAttemptInFlightAndRecordsIt) {
  receiver.set_delay(1000ms);
  subscribe(receiver.url());
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);
  ASSERT_TRUE(receiver.wait_for(1, 30s));  // sent; its answer is a second away
  const auto took = deliverer.stop();
  EXPECT_EQ(text("SELECT status FROM webhook_deliveries"), "succeeded");
  EXPECT_EQ(count("SELECT count(*) FROM webhook_attempts"), 1);
  EXPECT_GE(took, 500ms) << "stopped without waiting for the answer";

  RunningDeliverer next(options(), master_key, clock);  // the event's offset was committed
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(count("SELECT count(*) FROM webhook_deliveries"), 1);
}

TEST_F(WebhookDeliveryTest, DeliversABacklogOnceEachOverReusedConnections) {
  constexpr int kEvents = 300;
  subscribe(receiver.url());
  subscribe(receiver.url("/second"));
  publish_many(kEvents);
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(receiver.wait_for(1, 30s));
  const auto first = SteadyClock::now();
  ASSERT_TRUE(receiver.wait_for(2 * kEvents, 60s)) << receiver.count();
  const auto elapsed = SteadyClock::now() - first;
  // Every delivery recorded as sent: no further POST can come.
  ASSERT_TRUE(eventually(
      [&] {
        return count("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'") ==
               2 * kEvents;
      },
      10s));
  const auto requests = receiver.requests();
  EXPECT_EQ(requests.size(), 2u * kEvents);
  std::set<std::string> ids;
  for (const auto& r : requests)
    ids.insert(r.header("webhook-id"));
  EXPECT_EQ(ids.size(), 2u * kEvents);
  // Kept-alive connections: at most the per-subscription cap each, not one per request.
  EXPECT_LE(receiver.connections(), 2 * DeliverOptions{}.max_in_flight_per_subscription);
  const double seconds = std::chrono::duration<double>(elapsed).count();
  std::printf(
      "[ measure  ] %d deliveries in %.2f s after the first: %.0f deliveries/s over %zu "
      "connections\n",
      2 * kEvents, seconds, (2 * kEvents - 1) / seconds, receiver.connections());
}

// 410 Gone: the receiver asked never to be sent to again. One attempt, the delivery dead, the
// subscription disabled at once with its reason, and the change an event like any other.
TEST_F(WebhookDeliveryTest, AReceiverThatAnswers410IsDisabledAtOnce) {
  receiver.set_status(410);
  const auto subscription = subscribe(receiver.url());
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(
      eventually([&] { return text("SELECT status FROM webhook_deliveries") == "dead"; }, 30s));
  EXPECT_EQ(count("SELECT attempts FROM webhook_deliveries"), 1);
  EXPECT_EQ(text("SELECT status || ': ' || disabled_reason FROM webhook_subscriptions"),
            "disabled: the receiver answered 410 Gone");
  EXPECT_EQ(text("SELECT payload->'actor'->>'id' || ' ' || (payload->'changed_fields')::text"
                 " FROM outbox WHERE event_type = 'webhook_subscription.updated'"),
            R"(deliver ["status"])");
  EXPECT_EQ(text("SELECT payload->>'cause' FROM outbox WHERE event_type = "
                 "'webhook.endpoint_disabled'"),
            "gone");
  // Nothing more reaches it: a later event is not even fanned out to it.
  publish("api_key.updated");
  WebhookReceiver other;
  subscribe(other.url());
  publish("api_key.revoked");
  ASSERT_TRUE(other.wait_for(1, 30s));
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(
      count("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = " + subscription.id),
      1);
}

// A receiver failing every attempt for the configured time is disabled (the delivery waits);
// enabled again, its next success is announced as a recovery.
TEST_F(WebhookDeliveryTest, AReceiverFailingForTheConfiguredTimeIsDisabledAndItsRecoveryAnnounced) {
  receiver.set_status(500);
  const auto subscription = subscribe(receiver.url());
  publish();
  auto o = options();
  // The second attempt comes well within the second (the sender polls every 200 ms), the
  // third well after it.
  o.retry = RetrySchedule({0ms, 400ms, 1500ms, 1500ms});
  o.disable_after = 1s;
  RunningDeliverer deliverer(o, master_key, clock);

  ASSERT_TRUE(eventually(
      [&] { return text("SELECT status FROM webhook_subscriptions") == "disabled"; }, 30s));
  EXPECT_EQ(receiver.count(), 3u) << "disabled at the first failure a second after the first";
  EXPECT_TRUE(text("SELECT disabled_reason FROM webhook_subscriptions")
                  .starts_with("the receiver has failed every attempt since "));
  EXPECT_EQ(text("SELECT payload->>'cause' || ' ' || (payload->>'failing_since' IS NOT NULL)"
                 " FROM outbox WHERE event_type = 'webhook.endpoint_disabled'"),
            "failing true");
  EXPECT_EQ(text("SELECT status FROM webhook_deliveries"), "pending");

  // Enabled again (as PATCH does it): the waiting delivery goes out and succeeds.
  receiver.set_status(204);
  db.exec(
      "UPDATE webhook_subscriptions SET status = 'enabled', disabled_reason = NULL,"
      " failing_since = NULL WHERE id = " +
      subscription.id);
  ASSERT_TRUE(eventually(
      [&] {
        return count(
                   "SELECT count(*) FROM outbox WHERE event_type = "
                   "'webhook.endpoint_recovered'") == 1;
      },
      30s));
  EXPECT_EQ(text("SELECT status FROM webhook_deliveries"), "succeeded");
  EXPECT_EQ(text("SELECT (failing_since IS NULL) || ' ' || failing_reported"
                 " FROM webhook_subscriptions"),
            "true false");
}

// A subscription's own retry_schedule replaces the deployment's.
TEST_F(WebhookDeliveryTest, ASubscriptionsOwnRetryScheduleIsUsed) {
  receiver.set_status(500);
  const auto subscription = subscribe(receiver.url());
  db.exec("UPDATE webhook_subscriptions SET retry_schedule = '{0,1}' WHERE id = " +
          subscription.id);
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(
      eventually([&] { return text("SELECT status FROM webhook_deliveries") == "dead"; }, 30s));
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u) << "the deployment's schedule has four attempts";
  EXPECT_GE(requests[1].received_at - requests[0].received_at, 800ms)
      << "1 s less 20% jitter; the deployment's schedule waits 100 ms";
}

// The deliverer counts attempts by outcome with their durations, and reads the backlog per
// subscription and the disabled subscriptions into gauges.
TEST_F(WebhookDeliveryTest, AttemptsAndTheBacklogAreMeasured) {
  WebhookReceiver failing;
  failing.set_status(500);
  subscribe(receiver.url());
  const auto dies = subscribe(failing.url());
  db.exec("UPDATE webhook_subscriptions SET retry_schedule = '{0,1}' WHERE id = " + dies.id);
  const auto waits = subscribe(receiver.url("/paused"));
  const auto off = subscribe(receiver.url("/off"));
  // One paused with a delivery waiting, one disabled.
  db.exec("UPDATE webhook_subscriptions SET status = 'paused' WHERE id = " + waits.id);
  db.exec(
      "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, body)"
      " VALUES ('" +
      new_delivery_id(clock.now()) + "', " + waits.id +
      ", gen_random_uuid(), 'api_key.created', '{}')");
  db.exec("UPDATE webhook_subscriptions SET status = 'disabled' WHERE id = " + off.id);
  Metrics metrics;
  auto o = options();
  o.metrics = &metrics;
  o.backlog_interval = 100ms;
  publish();
  RunningDeliverer deliverer(o, master_key, clock);

  const auto value = [&](const std::string& series) {
    const auto text = metrics.render();
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size() + 2));
  };
  ASSERT_TRUE(eventually(
      [&] {
        return value(R"(keyflow_webhook_attempts_total{queue="deliver",outcome="dead"})") == 1;
      },
      30s))
      << metrics.render();
  EXPECT_EQ(value(R"(keyflow_webhook_attempts_total{queue="deliver",outcome="succeeded"})"), 1);
  EXPECT_EQ(value(R"(keyflow_webhook_attempts_total{queue="deliver",outcome="retrying"})"), 1);
  EXPECT_EQ(value(R"(keyflow_webhook_attempt_duration_seconds_count{queue="deliver"})"), 3);
  ASSERT_TRUE(eventually(
      [&] {
        return value(R"(keyflow_webhook_pending_deliveries{subscription_id=")" + waits.id +
                     "\"}") == 1;
      },
      10s))
      << metrics.render();
  EXPECT_EQ(value("keyflow_webhook_disabled_subscriptions"), 1);
  // A reading taken after the dead one: a subscription with nothing pending has no sample.
  EXPECT_TRUE(eventually(
      [&] { return metrics.render().find("subscription_id=\"" + dies.id) == std::string::npos; },
      10s));
}

// rate_limit: at most that many attempts a second, after a first burst of as many.
TEST_F(WebhookDeliveryTest, ASubscriptionsRateLimitSpacesItsAttempts) {
  const auto subscription = subscribe(receiver.url());
  db.exec("UPDATE webhook_subscriptions SET rate_limit = 5 WHERE id = " + subscription.id);
  for (int i = 0; i < 15; ++i)
    publish("api_key.created", std::to_string(3518437208883201 + i));
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(receiver.wait_for(15, 30s));
  const auto requests = receiver.requests();
  // 5 at once, then 10 more at 5 a second: at least 2 s from the first to the last.
  EXPECT_GE(requests.back().received_at - requests.front().received_at, 1800ms);
  // Any 11 in a row took the burst of 5 and 6 refills: 1.2 s (a little less at the receiver).
  for (std::size_t i = 10; i < requests.size(); ++i) {
    EXPECT_GE(requests[i].received_at - requests[i - 10].received_at, 1000ms)
        << "more than 5 a second around request " << i;
  }
}

// 429 and 503 wait at least what Retry-After asks, beyond the schedule's own delay.
TEST_F(WebhookDeliveryTest, RetryAfterOf429And503IsHonoured) {
  receiver.fail_next(1, 429);
  receiver.set_answer("slow down", {{"Retry-After", "2"}});
  subscribe(receiver.url());
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(receiver.wait_for(2, 30s));
  const auto requests = receiver.requests();
  const auto waited = requests[1].received_at - requests[0].received_at;
  EXPECT_GE(waited, 2s) << "the schedule alone would wait 100 ms";
  EXPECT_EQ(requests[0].header("webhook-id"), requests[1].header("webhook-id"));
  ASSERT_TRUE(eventually(
      [&] { return text("SELECT status FROM webhook_deliveries") == "succeeded"; }, 10s));
  EXPECT_EQ(text("SELECT string_agg(status_code || ' ' || response_body, ', ' ORDER BY id)"
                 " FROM webhook_attempts"),
            "429 slow down, 200 slow down");
}

// The delivery log keeps the first 20 000 bytes of what the receiver answered, as valid text
// whatever bytes it sent.
TEST_F(WebhookDeliveryTest, TheFirst20000BytesOfTheResponseAreKeptAsText) {
  std::string body(30000, 'x');
  body[19999] = '\xC3';  // the first byte of a two-byte sequence cut by the limit
  body[5] = '\0';
  receiver.set_answer(body);
  subscribe(receiver.url());
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(eventually(
      [&] { return text("SELECT status FROM webhook_deliveries") == "succeeded"; }, 30s));
  // Two bytes replaced by U+FFFD (three bytes each).
  EXPECT_EQ(count("SELECT octet_length(response_body) FROM webhook_attempts"), 20000 + 2 * 2);
  EXPECT_EQ(text("SELECT substr(response_body, 1, 7) FROM webhook_attempts"),
            "xxxxx\xEF\xBF\xBD"
            "x");
}

// One receiver that never answers holds only its own slots: another receiver's deliveries go
// out meanwhile.
TEST_F(WebhookDeliveryTest, AHangingReceiverDoesNotDelayTheOthers) {
  WebhookReceiver hanging;
  hanging.set_delay(60s);
  subscribe(hanging.url());
  subscribe(receiver.url());
  constexpr int kEvents = 100;
  for (int i = 0; i < kEvents; ++i)
    publish("api_key.created", std::to_string(3518437208883201 + i));
  auto o = options();
  o.request_timeout = 60s;
  RunningDeliverer deliverer(o, master_key, clock);

  const auto started = SteadyClock::now();
  ASSERT_TRUE(receiver.wait_for(kEvents, 30s)) << receiver.count() << " of " << kEvents;
  const auto took = SteadyClock::now() - started;
  EXPECT_LT(took, 10s);
  EXPECT_LE(hanging.count(),
            static_cast<std::size_t>(DeliverOptions{}.max_in_flight_per_subscription));
  std::printf(
      "[ measure  ] %d deliveries beside a hanging receiver in %lld ms\n", kEvents,
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

// A secret rotation with an overlap: deliveries carry a signature by each secret, so a receiver
// verifying with either accepts them; without an overlap only the new one signs.
TEST_F(WebhookDeliveryTest, DuringASecretRotationsOverlapBothSecretsSign) {
  const auto subscription = subscribe(receiver.url());
  SubscriptionService subscriptions(pool, master_key, clock);
  const auto rotated = subscriptions.rotate_secret(Actor::admin(), subscription.id, 1h);
  ASSERT_TRUE(rotated.previous_expires_at);
  EXPECT_EQ(subscriptions.secret(Actor::admin(), subscription.id), rotated.secret);
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);
  ASSERT_TRUE(receiver.wait_for(1, 30s));
  auto request = receiver.requests().at(0);
  const auto signatures = request.header("webhook-signature");
  EXPECT_EQ(std::count(signatures.begin(), signatures.end(), ' '), 1) << signatures;
  EXPECT_TRUE(test::standard_webhooks_accepts(subscription.secret, request)) << signatures;
  EXPECT_TRUE(test::standard_webhooks_accepts(rotated.secret, request)) << signatures;

  const auto again = subscriptions.rotate_secret(Actor::admin(), subscription.id, 0s);
  EXPECT_FALSE(again.previous_expires_at);
  publish("api_key.updated");
  ASSERT_TRUE(receiver.wait_for(2, 30s));
  request = receiver.requests().at(1);
  EXPECT_EQ(request.header("webhook-signature").find(' '), std::string::npos);
  EXPECT_TRUE(test::standard_webhooks_accepts(again.secret, request));
  EXPECT_FALSE(test::standard_webhooks_accepts(rotated.secret, request));
  EXPECT_FALSE(test::standard_webhooks_accepts(subscription.secret, request));
}

// "ed25519": true: every delivery carries a v1a signature beside the v1 one, which an
// independent Ed25519 verifier accepts with the subscription's public key, and no other key.
TEST_F(WebhookDeliveryTest, AnEd25519SubscriptionsDeliveriesCarryAVerifiableV1aSignature) {
  SubscriptionService subscriptions(pool, master_key, clock, DestinationPolicy(true, {}));
  NewSubscription request;
  request.url = receiver.url();
  request.ed25519 = true;
  const auto created = subscriptions.create(Actor::admin(), request);
  ASSERT_TRUE(created.subscription.public_key);
  const auto& public_key = *created.subscription.public_key;
  EXPECT_TRUE(public_key.starts_with("whpk_"));
  EXPECT_EQ(base64_decode(public_key.substr(5))->size(), 32u);
  EXPECT_EQ(subscriptions.get(Actor::admin(), created.subscription.id).public_key, public_key);
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(receiver.wait_for(1, 30s));
  const auto request_seen = receiver.requests().at(0);
  const auto signatures = request_seen.header("webhook-signature");
  EXPECT_NE(signatures.find("v1a,"), std::string::npos) << signatures;
  EXPECT_TRUE(test::standard_webhooks_accepts(created.secret, request_seen)) << signatures;
  EXPECT_TRUE(test::standard_webhooks_accepts_ed25519(public_key, request_seen)) << signatures;
  NewSubscription other;
  other.url = receiver.url("/other");
  other.ed25519 = true;
  const auto stranger = subscriptions.create(Actor::admin(), other).subscription.public_key;
  EXPECT_FALSE(test::standard_webhooks_accepts_ed25519(*stranger, request_seen));
  auto tampered = request_seen;
  tampered.body += " ";
  EXPECT_FALSE(test::standard_webhooks_accepts_ed25519(public_key, tampered));
  // The secret key is stored sealed, never as its 64 raw bytes.
  EXPECT_EQ(
      count("SELECT count(*) FROM webhook_subscriptions WHERE octet_length(signing_key_sealed)"
            " <= 64"),
      0);
}

}  // namespace
}  // namespace keyflow

namespace keyflow {
namespace {

// A receiver that answers at once: the delivery is written once, already in its outcome, in the
// transaction that records its attempt (the same xmin), never inserted pending and updated.
TEST_F(WebhookDeliveryTest, AFirstAttemptIsWrittenOnceInItsOutcome) {
  const auto subscription = subscribe(receiver.url());
  const auto event = publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(receiver.wait_for(1, 30s));
  ASSERT_TRUE(eventually(
      [&] { return text("SELECT status FROM webhook_deliveries") == "succeeded"; }, 10s));
  EXPECT_EQ(text("SELECT d.xmin = a.xmin FROM webhook_deliveries d"
                 " JOIN webhook_attempts a ON a.delivery_id = d.id"),
            "t");
  EXPECT_EQ(count("SELECT attempts FROM webhook_deliveries"), 1);
  EXPECT_EQ(text("SELECT locked_until FROM webhook_deliveries"), "<null>");
  // The webhook-id is the pair's: a first attempt sent again after a crash, before its row was
  // written, carries the same one.
  const auto id = receiver.requests().at(0).header("webhook-id");
  EXPECT_EQ(id, delivery_id_for(subscription.id, event.id, *parse_timestamp(event.time)));
  EXPECT_EQ(text("SELECT id FROM webhook_deliveries"), id);
  expect_nothing_more_than(1);
}

// An attempt that outlasts the fan-out's wait: its delivery is written leased, so that the
// Kafka offset can move on, and the attempt is recorded against that lease when it finishes.
TEST_F(WebhookDeliveryTest, AFirstAttemptStillRunningIsWrittenLeasedAndRecordedWhenItEnds) {
  receiver.set_delay(2500ms);
  subscribe(receiver.url());
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(receiver.wait_for(1, 30s));
  ASSERT_TRUE(
      eventually([&] { return count("SELECT count(*) FROM webhook_deliveries") == 1; }, 10s));
  EXPECT_EQ(text("SELECT status || ' ' || attempts || ' ' || (locked_until IS NOT NULL)"
                 " FROM webhook_deliveries"),
            "pending 0 true");
  ASSERT_TRUE(eventually(
      [&] { return text("SELECT status FROM webhook_deliveries") == "succeeded"; }, 10s));
  EXPECT_EQ(count("SELECT attempts FROM webhook_deliveries"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM webhook_attempts WHERE status_code = 200"), 1);
  EXPECT_EQ(text("SELECT locked_until FROM webhook_deliveries"), "<null>");
  expect_nothing_more_than(1);
}

// One event to many subscriptions under a small global cap: each finished attempt starts the
// next subscription's, without waiting for the sender's next poll.
TEST_F(WebhookDeliveryTest, AFinishedAttemptHandsItsSlotToAnotherSubscription) {
  constexpr int kSubscriptions = 40;
  for (int i = 0; i < kSubscriptions; ++i)
    subscribe(receiver.url("/" + std::to_string(i)));
  publish();
  auto o = options();
  o.max_in_flight = 2;
  o.poll_interval = 30s;
  RunningDeliverer deliverer(o, master_key, clock);

  ASSERT_TRUE(receiver.wait_for(1, 30s));
  const auto first = SteadyClock::now();
  ASSERT_TRUE(receiver.wait_for(kSubscriptions, 10s)) << receiver.count();
  EXPECT_LT(SteadyClock::now() - first, 5s);
  ASSERT_TRUE(eventually(
      [&] {
        return count("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'") ==
               kSubscriptions;
      },
      10s));
}

}  // namespace
}  // namespace keyflow

namespace keyflow {
namespace {

// First attempts waiting behind a receiver that hangs take no room from the sender's claims:
// another subscription's retry still goes out on time.
TEST_F(WebhookDeliveryTest, FirstAttemptsWaitingForOneReceiverDoNotHoldUpRetriesOfAnother) {
  WebhookReceiver hanging;
  hanging.set_delay(60s);
  subscribe(hanging.url(), {"api_key.created"});
  subscribe(receiver.url(), {"api_key.updated"});
  receiver.fail_next(1, 500);
  constexpr int kEvents = 400;  // more than the sender claims ahead (2 x max_in_flight)
  publish_many(kEvents);
  auto o = options();
  o.request_timeout = 60s;
  RunningDeliverer deliverer(o, master_key, clock);
  ASSERT_TRUE(hanging.wait_for(1, 30s));
  publish("api_key.updated");

  ASSERT_TRUE(receiver.wait_for(2, 10s)) << receiver.count() << " attempts arrived";
  ASSERT_TRUE(eventually(
      [&] {
        return text("SELECT status FROM webhook_deliveries WHERE event_type = 'api_key.updated'") ==
               "succeeded";
      },
      10s));
  EXPECT_EQ(count("SELECT attempts FROM webhook_deliveries WHERE event_type = 'api_key.updated'"),
            2);
}

}  // namespace
}  // namespace keyflow

namespace keyflow {
namespace {

// A secret that does not open (sealed under another master key) is never sent from the
// fan-out: the delivery is written pending, and the sender's attempts record why it cannot be
// signed until it is dead.
TEST_F(WebhookDeliveryTest, ASecretThatDoesNotOpenIsRecordedNotSent) {
  const auto subscription = subscribe(receiver.url());
  const auto other_key = *MasterKey::from_base64("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=");
  const auto sealed = SecretBox(other_key).seal(subscription.secret, kWebhookSecretContext);
  pool.transact([&](pqxx::work& txn) {
    txn.exec_params("UPDATE webhook_subscriptions SET secret_sealed = $2 WHERE id = $1",
                    subscription.id, pqxx::binarystring(sealed.data(), sealed.size()));
  });
  publish();
  RunningDeliverer deliverer(options(), master_key, clock);

  ASSERT_TRUE(
      eventually([&] { return text("SELECT status FROM webhook_deliveries") == "dead"; }, 30s));
  EXPECT_EQ(count("SELECT count(*) FROM webhook_attempts WHERE error LIKE 'cannot decrypt%'"), 4);
  EXPECT_EQ(receiver.count(), 0u);
}

}  // namespace
}  // namespace keyflow
