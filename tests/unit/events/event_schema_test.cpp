// The event schemas themselves and the validator helper: every schema compiles, covers every
// event type keyflow declares, shares its definitions with the others, forbids secrets,
// tolerates additions, and reports problems where they are.
#include "tests/support/event_schema.hpp"

#include <algorithm>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "engine/keys/lifecycle.hpp"
#include "outbox/topics.hpp"

namespace keyflow {
namespace {

namespace json = boost::json;

const test::EventSchemas& schemas() {
  static const test::EventSchemas instance;
  return instance;
}

// The first recorded event of a type, to start from.
json::object recorded(const std::string& type) {
  const auto events = test::event_examples(type);
  if (events.empty()) throw std::runtime_error("no recorded " + type);
  return events.front().event.as_object();
}

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines)
    out += "\n  " + line;
  return out;
}

TEST(EventSchemaTest, EverySchemaIsADraft7DocumentTitledAfterItsType) {
  ASSERT_FALSE(schemas().event_types().empty());
  for (const auto& type : schemas().event_types()) {
    const auto& doc = schemas().document(type).as_object();
    EXPECT_EQ(doc.at("$schema"), "http://json-schema.org/draft-07/schema#") << type;
    EXPECT_EQ(doc.at("title").as_string(), type);
    EXPECT_EQ(doc.at("properties").at("type").at("const").as_string(), type);
  }
}

TEST(EventSchemaTest, EveryEventTypeKeyflowDeclaresHasASchema) {
  for (const auto& type : known_event_types()) {
    EXPECT_TRUE(schemas().has(type)) << type;
  }
}

TEST(EventSchemaTest, EverySchemasAggregateHasATopic) {
  const auto& topics = all_topics();
  for (const auto& type : schemas().event_types()) {
    const auto topic = "keyflow." + type.substr(0, type.find('.')) + "s";
    EXPECT_NE(std::find(topics.begin(), topics.end(), topic), topics.end()) << type;
  }
}

// Each schema stands alone, so that a consumer needs one file per type; the definitions they
// share must therefore stay the same everywhere.
TEST(EventSchemaTest, SharedDefinitionsAreTheSameInEverySchema) {
  std::map<std::string, std::pair<std::string, json::value>> first;
  for (const auto& type : schemas().event_types()) {
    for (const auto& [name, definition] : schemas().document(type).at("definitions").as_object()) {
      const auto [it, inserted] = first.try_emplace(std::string(name), type, definition);
      EXPECT_TRUE(inserted || it->second.second == definition)
          << "definitions/" << name << " differs between " << it->second.first << " and " << type;
    }
  }
}

TEST(EventSchemaTest, EveryEventExampleMatchesItsSchema) {
  for (const auto& type : schemas().event_types()) {
    for (const auto& r : test::event_examples(type)) {
      const auto problems = schemas().validate(r.event);
      EXPECT_TRUE(problems.empty()) << type << "/" << r.name << joined(problems);
    }
  }
}

TEST(EventSchemaTest, RejectsAnEventCarryingAKeyAHashOrASecret) {
  auto created = recorded("api_key.created");
  created["data"].as_object()["key"] = "kf_live_0123456789abcdefghijklmnopqrstuv";
  EXPECT_FALSE(schemas().validate(created).empty());

  auto rotated = recorded("api_key.rotated");
  rotated["data"].as_object()["new_key"].as_object()["key_hash"] = "3q2+7w==";
  EXPECT_FALSE(schemas().validate(rotated).empty());

  auto subscription = recorded("webhook_subscription.created");
  subscription["data"].as_object()["secret"] = "whsec_c2VjcmV0";
  EXPECT_FALSE(schemas().validate(subscription).empty());

  auto write_key = recorded("event_write_key.created");
  write_key["data"].as_object()["key"] = "0123456789abcdefghijklmnopqrstuv";
  EXPECT_FALSE(schemas().validate(write_key).empty());
}

// The compatibility rule for consumers: members may be added at any level.
TEST(EventSchemaTest, AcceptsMembersItDoesNotKnow) {
  auto event = recorded("api_key.updated");
  event["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  auto& data = event["data"].as_object();
  data["labels"] = json::array{"new"};
  data["actor"].as_object()["ip"] = "10.1.2.3";
  data["previous"].as_object()["labels"] = json::array{};
  const auto problems = schemas().validate(event);
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

TEST(EventSchemaTest, ReportsWhereAnEventIsWrong) {
  auto event = recorded("api_key.created");
  auto& data = event["data"].as_object();
  data["actor"].as_object()["type"] = "robot";
  data.erase("name");
  data["created_at"] = "yesterday";
  const auto problems = schemas().validate(event);
  EXPECT_TRUE(mentions(problems, "/data/actor/type:")) << joined(problems);
  EXPECT_TRUE(mentions(problems, "'name'")) << joined(problems);
  EXPECT_TRUE(mentions(problems, "/data/created_at: String should be a valid date-time"))
      << joined(problems);
}

TEST(EventSchemaTest, RejectsWrongCloudEventsAttributes) {
  const auto base = recorded("connection.created");
  const std::vector<std::pair<std::string, json::value>> wrong = {
      {"specversion", "0.3"},
      {"id", "42"},
      {"type", "connection.deleted"},
      {"time", "2026-13-01T00:00:00Z"},
      {"subject", "0"},
      {"datacontenttype", "text/plain"},
      {"source", ""},
  };
  for (const auto& [name, value] : wrong) {
    auto event = base;
    event[name] = value;
    EXPECT_FALSE(schemas().validate(event).empty()) << name << " = " << value;
    event.erase(name);
    EXPECT_FALSE(schemas().validate(event).empty()) << "without " << name;
  }
}

TEST(EventSchemaTest, TellsWhenNoSchemaApplies) {
  EXPECT_TRUE(mentions(schemas().validate(json::object{{"type", "api_key.melted"}}),
                       "no schema for event type 'api_key.melted'"));
  EXPECT_TRUE(mentions(schemas().validate(json::array{}), "/type: missing"));
}

// valijson 1.0 applies "format" to null too, so nullable times are a oneOf of null and a
// date-time: both must work.
TEST(EventSchemaTest, NullableTimesAcceptNullAndADateTimeOnly) {
  auto event = recorded("api_key.created");
  auto& data = event["data"].as_object();
  for (const json::value& v : {json::value(nullptr), json::value("2031-02-03T04:05:06.789Z")}) {
    data["expires_at"] = v;
    EXPECT_TRUE(schemas().validate(event).empty()) << v;
  }
  for (const json::value& v : {json::value("2031-02-03"), json::value(0), json::value("")}) {
    data["expires_at"] = v;
    EXPECT_FALSE(schemas().validate(event).empty()) << v;
  }
}

TEST(EventSchemaTest, KafkaHeadersBecomeCloudEventsAttributes) {
  const auto event =
      test::cloud_event_from_kafka({{"ce_specversion", "1.0"},
                                    {"ce_id", "b3a1e5b4-54b6-4dc4-a0b3-5f8f0c2f4a10"},
                                    {"ce_type", "api_key.revoked"},
                                    {"content-type", "application/json"},
                                    {"traceparent", "00-abc"}},
                                   R"({"id":"x"})");
  EXPECT_EQ(event.at("specversion"), "1.0");
  EXPECT_EQ(event.at("id"), "b3a1e5b4-54b6-4dc4-a0b3-5f8f0c2f4a10");
  EXPECT_EQ(event.at("type"), "api_key.revoked");
  EXPECT_EQ(event.at("datacontenttype"), "application/json");
  EXPECT_EQ(event.at("data").at("id"), "x");
  EXPECT_FALSE(event.contains("traceparent"));
  // A value that is not JSON stays text, which no schema accepts as data.
  EXPECT_EQ(test::cloud_event_from_kafka({}, "{oops").at("data"), "{oops");
}

TEST(EventSchemaTest, KafkaBindingNeedsTheAggregatesTopicAndTheSubjectAsKey) {
  const auto event = recorded("api_key.revoked");
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : event) {
    if (name == "data") continue;
    headers[name == "datacontenttype" ? "content-type" : "ce_" + std::string(name)] =
        std::string(value.as_string());
  }
  const auto value = json::serialize(event.at("data"));
  const std::string subject(event.at("subject").as_string());
  EXPECT_TRUE(schemas().validate_kafka("keyflow.api_keys", subject, headers, value).empty());
  EXPECT_TRUE(mentions(schemas().validate_kafka("keyflow.connections", subject, headers, value),
                       "expected keyflow.api_keys"));
  EXPECT_TRUE(mentions(schemas().validate_kafka("keyflow.api_keys", "other", headers, value),
                       "is not ce_subject"));
  EXPECT_FALSE(schemas().validate_kafka("keyflow.api_keys", subject, headers, "{oops").empty());
}

json::object webhook_body_of(const json::object& event) {
  return {{"id", "msg_0123456789abcdefghijklmnopq"},
          {"event", event.at("type")},
          {"resource", "api_key"},
          {"resourceId", event.at("subject")},
          {"timestamp", event.at("time")},
          {"apiVersion", "2026-11-01"},
          {"data", event.at("data")}};
}

TEST(EventSchemaTest, WebhookBodiesAreCheckedEnvelopeAndData) {
  auto body = webhook_body_of(recorded("api_key.rotated"));
  EXPECT_TRUE(schemas().validate_webhook(json::serialize(body)).empty())
      << joined(schemas().validate_webhook(json::serialize(body)));

  body["data"].as_object().erase("new_key_id");
  EXPECT_TRUE(mentions(schemas().validate_webhook(json::serialize(body)), "/data"));
  body["id"] = "42";
  EXPECT_TRUE(mentions(schemas().validate_webhook(json::serialize(body)), "/id:"));
  EXPECT_TRUE(mentions(schemas().validate_webhook("not json"), "not JSON"));
}

}  // namespace
}  // namespace keyflow
