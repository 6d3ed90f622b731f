// The event contract against what the engine really writes: every mutation of every service on
// a real PostgreSQL, every outbox row turned into its Kafka message exactly as the relay does
// (to_cloud_event), and each message validated against schemas/events/<type>.json with
// valijson; the webhook body the deliverer would build from it as well.
//
// With KEYFLOW_RECORD_EVENTS=<dir>, the events are also written to <dir>/<type>/NN.json, from
// which schemas/events/examples/ was recorded (see docs/events.md, "Changing an event").
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "consumers/cloud_event.hpp"
#include "consumers/delivery_payload.hpp"
#include "consumers/rotation_scheduler.hpp"
#include "engine/connections/connection_service.hpp"
#include "engine/core/time_format.hpp"
#include "engine/keys/key_lifecycle_service.hpp"
#include "engine/webhooks/endpoint_health.hpp"
#include "outbox/outbox_record.hpp"
#include "tests/support/engine_fixture.hpp"
#include "tests/support/event_schema.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Declared but emitted by nothing yet (see schemas/events/api_key.expired.json).

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines)
    out += "\n  " + line;
  return out;
}

// The outbox rows in commit order, read as the relay's claim reads them.
std::vector<OutboxRecord> outbox_rows(ConnectionPool& pool) {
  return pool.transact([](pqxx::work& txn) {
    std::vector<OutboxRecord> out;
    for (const auto& row : txn.exec("SELECT id, event_id, aggregate_type, aggregate_id,"
                                    " event_type, payload::text, occurred_at FROM outbox"
                                    " ORDER BY id")) {
      out.push_back(OutboxRecord{
          .id = row[0].as<std::int64_t>(),
          .event_id = row[1].c_str(),
          .aggregate_type = row[2].c_str(),
          .aggregate_id = row[3].c_str(),
          .event_type = row[4].c_str(),
          .payload = row[5].c_str(),
          .occurred_at = row[6].c_str(),
      });
    }
    return out;
  });
}

std::map<std::string, std::string> header_map(const OutgoingMessage& m) {
  std::map<std::string, std::string> out;
  for (const auto& h : m.headers)
    out[h.name] = h.value;
  return out;
}

// What the schemas cannot say: the members that must agree with each other and the subject.
void expect_consistent(const json::object& event) {
  const auto& data = event.at("data").as_object();
  const std::string type(event.at("type").as_string());
  const std::string subject(event.at("subject").as_string());
  const auto& id = data.at("id");
  EXPECT_EQ(id.is_string() ? std::string(id.as_string()) : json::serialize(id), subject)
      << type << ": data.id is not the subject";
  if (type == "api_key.updated") {
    std::set<std::string> changed;
    for (const auto& f : data.at("changed_fields").as_array())
      changed.insert(std::string(f.as_string()));
    std::set<std::string> previous;
    for (const auto& [name, value] : data.at("previous").as_object())
      previous.insert(std::string(name));
    EXPECT_EQ(changed, previous) << "previous holds exactly the changed fields";
    for (const auto& name : changed)
      EXPECT_TRUE(data.contains(name)) << name << " changed but is not a key field";
  }
  if (type == "api_key.rotated") {
    EXPECT_EQ(data.at("old_key_id"), data.at("id"));
    EXPECT_EQ(data.at("new_key_id"), data.at("replaced_by_key_id"));
    EXPECT_EQ(data.at("new_key_id"), data.at("new_key").at("id"));
  }
}

class EventContractTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { schemas_ = new test::EventSchemas(); }
  static void TearDownTestSuite() {
    delete schemas_;
    schemas_ = nullptr;
  }

  // Every mutation the services offer, by each kind of actor, with the optional fields both
  // empty and set; collects every secret handed out, none of which may reach an event.
  void drive_every_mutation() {
    const auto project = f.make_project("payments");
    const auto org = project.organization_id;
    const auto live = f.organizations.create_environment(Actor::admin(), project.id, "live");

    // A key acting on the API: its events carry actor api_key.
    NewKey manager_request;
    manager_request.project_id = project.id;
    manager_request.name = "automation";
    manager_request.scopes = {"MANAGE"};
    const auto manager = f.keys.create(Actor::admin(), manager_request);
    secrets_.push_back(manager.plaintext);
    const auto as_key = Actor::key(manager.key);

    // The least a key can have: an organization's key, no options.
    NewKey bare;
    bare.organization_id = org;
    bare.name = "bare";
    const auto minimal = f.keys.create(Actor::admin(), bare);
    secrets_.push_back(minimal.plaintext);

    // Every option set.
    NewKey full;
    full.project_id = project.id;
    full.environment_id = live.id;
    full.name = "checkout";
    full.scopes = {"READ", "orders:write"};
    full.expires_at = f.clock.now() + 24h * 90;
    full.rotation_interval_days = 30;
    full.rotation_webhook_url = "https://hooks.example.com/rotated";
    full.meta = R"({"team":"payments","tier":2})";
    full.allowed_cidrs = {"10.0.0.0/8", "2001:db8::/32"};
    const auto rich = f.keys.create(as_key, full);
    secrets_.push_back(rich.plaintext);
    secrets_.push_back(*rich.rotation_webhook_secret);

    KeyPatch rename;
    rename.name = "bare, renamed";
    rename.scopes = std::vector<std::string>{"READ"};
    f.keys.update(Actor::admin(), minimal.key.id, rename);

    KeyPatch everything;
    everything.name = "checkout v2";
    everything.scopes = std::vector<std::string>{"READ", "orders:*"};
    everything.expires_at = std::optional<TimePoint>();
    everything.rotation_interval_days = 7;
    everything.rotation_webhook_url = std::optional<std::string>("https://hooks.example.com/v2");
    everything.environment_id = std::optional<std::string>();
    everything.enabled = false;
    everything.meta = std::optional<std::string>(R"({"team":"platform"})");
    everything.allowed_cidrs = std::vector<std::string>{};
    secrets_.push_back(*f.keys.update(as_key, rich.key.id, everything).rotation_webhook_secret);
    KeyPatch back;
    back.enabled = true;
    back.environment_id = std::optional<std::string>(live.id);
    back.expires_at = std::optional<TimePoint>(f.clock.now() + 24h * 30);
    back.meta = std::optional<std::string>();
    f.keys.update(as_key, rich.key.id, back);

    // By hand, by a key, and by the scheduler when the rich key's rotation comes due.
    const auto rotated =
        f.keys.rotate(Actor::admin(), minimal.key.id, {0s, std::nullopt, std::nullopt});
    secrets_.push_back(rotated.plaintext);
    const auto rotated_by_key =
        f.keys.rotate(as_key, manager.key.id, {3600s, f.clock.now() + 24h * 365, std::nullopt});
    secrets_.push_back(rotated_by_key.plaintext);
    f.clock.advance(24h * 8);
    RotationScheduler scheduler(f.pool, f.keys, f.clock, {.grace_period = 3600s});
    ASSERT_EQ(scheduler.run_once(), 1);

    // The due-time events: the rich key's rotation webhook is undelivered an hour before its
    // grace ends (extended), the bare key's grace has ended, one key is about to expire and
    // then does.
    NewKey soon;
    soon.project_id = project.id;
    soon.name = "short-lived";
    soon.expires_at = f.clock.now() + 48h;
    secrets_.push_back(f.keys.create(Actor::admin(), soon).plaintext);
    KeyLifecycleService lifecycle(f.pool);
    EXPECT_GE(lifecycle.sweep(f.clock.now()), 3);
    f.clock.advance(72h);
    EXPECT_GE(lifecycle.sweep(f.clock.now()), 1);

    f.keys.revoke(Actor::admin(), rotated.new_key.id);
    f.keys.revoke(Actor::key(rotated_by_key.new_key), rich.key.id);

    NewSubscription all_events;
    all_events.url = "https://hooks.example.com/all";
    const auto everyone = f.subscriptions.create(Actor::admin(), all_events);
    secrets_.push_back(everyone.secret);
    NewSubscription some_events;
    some_events.url = "https://hooks.example.com/keys";
    some_events.event_types = {"api_key.created", "api_key.revoked"};
    const auto scoped = f.subscriptions.create(as_key, some_events);
    secrets_.push_back(scoped.secret);
    SubscriptionPatch pause;
    pause.status = "paused";
    pause.description = std::optional<std::string>("keys of one project");
    f.subscriptions.update(as_key, scoped.subscription.id, pause);
    SubscriptionPatch disable;
    disable.enabled = false;
    f.subscriptions.update(Actor::admin(), everyone.subscription.id, disable);
    f.subscriptions.remove(Actor::admin(), everyone.subscription.id);
    secrets_.push_back(
        f.subscriptions.rotate_secret(as_key, scoped.subscription.id, std::chrono::hours(1))
            .secret);
    f.subscriptions.remove(as_key, scoped.subscription.id);

    // The deliverer's operational events: one receiver answers 410, is enabled again and
    // answers; another has failed for longer than the deliverer waits.
    NewSubscription tuned;
    tuned.url = "https://hooks.example.com/tuned";
    tuned.retry_schedule = std::vector<int>{0, 5, 300};
    tuned.rate_limit = 50;
    const auto tuned_one = f.subscriptions.create(Actor::admin(), tuned);
    secrets_.push_back(tuned_one.secret);
    const auto failing = f.subscriptions.create(Actor::admin(), all_events);
    secrets_.push_back(failing.secret);
    const auto id = tuned_one.subscription.id;
    const auto health = [&](EndpointReport report) {
      f.pool.transact(
          [&](pqxx::work& txn) { apply_endpoint_health(txn, {report}, f.clock.now(), 24h * 5); });
    };
    health({.subscription_id = id,
            .failed = true,
            .first_failure = f.clock.now(),
            .dead = true,
            .gone = true});
    SubscriptionPatch enable;
    enable.enabled = true;
    enable.rate_limit = std::optional<int>();
    f.subscriptions.update(Actor::admin(), id, enable);
    health({.subscription_id = id, .first_failure = {}, .succeeded_last = true});
    health({.subscription_id = failing.subscription.id,
            .failed = true,
            .first_failure = f.clock.now() - 24h * 6});
    f.subscriptions.update(Actor::admin(), failing.subscription.id, enable);
    health(
        {.subscription_id = failing.subscription.id, .first_failure = {}, .succeeded_last = true});

    ConnectionService connections(f.pool, f.master_key, f.clock);
    const auto sdk = connections.create(Actor::admin(), {project.id, "sdk", "web app"});
    secrets_.push_back(sdk.key);
    const auto hook =
        connections.create(Actor::key(rotated_by_key.new_key), {project.id, "webhook", "stripe"});
    secrets_.push_back(hook.key);
    const auto sdk_id = std::to_string(sdk.connection.id);
    const auto second = connections.create_write_key(Actor::admin(), sdk_id);
    secrets_.push_back(second);
    connections.delete_write_key(Actor::admin(), sdk_id, sdk.key);
    connections.remove(Actor::admin(), sdk_id);
  }

  test::EngineFixture f;
  std::vector<std::string> secrets_;
  static test::EventSchemas* schemas_;
};

test::EventSchemas* EventContractTest::schemas_ = nullptr;

TEST_F(EventContractTest, EveryEventTheEngineWritesMatchesTheSchemaOfItsType) {
  drive_every_mutation();
  const auto rows = outbox_rows(f.pool);
  ASSERT_FALSE(rows.empty());

  const char* record_dir = std::getenv("KEYFLOW_RECORD_EVENTS");
  std::map<std::string, int> recorded;
  std::set<std::string> produced;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.event_type + " " + row.event_id);
    produced.insert(row.event_type);
    const auto message = to_cloud_event(row);
    const auto headers = header_map(message);
    const auto problems =
        schemas_->validate_kafka(message.topic, message.key, headers, message.value);
    EXPECT_TRUE(problems.empty()) << message.value << joined(problems);
    const auto event = test::cloud_event_from_kafka(headers, message.value);
    if (problems.empty()) expect_consistent(event);
    for (const auto& secret : secrets_) {
      EXPECT_EQ(message.value.find(secret), std::string::npos) << "a secret in the event";
    }

    // The webhook the deliverer builds from this message.
    KafkaMessage consumed;
    consumed.topic = message.topic;
    consumed.key = message.key;
    consumed.value = message.value;
    consumed.headers.insert(headers.begin(), headers.end());
    std::string error;
    const auto parsed = parse_cloud_event(consumed, error);
    ASSERT_TRUE(parsed) << error;
    const auto body = delivery_body(new_delivery_id(event_time(*parsed)), *parsed);
    EXPECT_TRUE(schemas_->validate_webhook(body).empty())
        << body << joined(schemas_->validate_webhook(body));

    if (record_dir != nullptr) {
      const auto dir = std::filesystem::path(record_dir) / row.event_type;
      std::filesystem::create_directories(dir);
      const auto n = ++recorded[row.event_type];
      std::ofstream(dir / ((n < 10 ? "0" : "") + std::to_string(n) + ".json"))
          << json::serialize(event) << "\n";
    }
  }

  // Every type the engine emits has a schema, and every schema is used.
  std::set<std::string> schematized;
  for (const auto& type : schemas_->event_types())
    schematized.insert(type);
  EXPECT_EQ(produced, schematized);
}

}  // namespace
}  // namespace keyflow
