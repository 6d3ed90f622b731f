// Old consumers against new schemas: every schema must still describe the events recorded in
// schemas/events/examples/, and deliberately broken copies of a schema show that each kind of
// breaking change is caught.
#include "tests/support/event_schema_compat.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace keyflow {
namespace {

namespace json = boost::json;

const test::EventSchemas& schemas() {
  static const test::EventSchemas instance;
  return instance;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines)
    out += "\n  " + line;
  return out;
}

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

// A copy of a type's schema, to break, and the events recorded for the type.
struct Case {
  json::value schema;
  std::vector<test::EventExample> recorded;

  explicit Case(const std::string& type)
      : schema(schemas().document(type)), recorded(test::event_examples(type)) {}

  json::object& definition(const std::string& name) {
    return schema.at("definitions").at(name).as_object();
  }
  json::object& data() { return schema.at("properties").at("data").as_object(); }
  std::vector<std::string> problems() const {
    return test::compatibility_problems(schema, recorded);
  }
};

void remove_required(json::object& schema, std::string_view name) {
  auto& required = schema.at("required").as_array();
  required.erase(std::remove(required.begin(), required.end(), json::value(name)), required.end());
}

TEST(EventSchemaCompatTest, EveryEventTypeHasEventExamples) {
  for (const auto& type : schemas().event_types()) {
    EXPECT_FALSE(test::event_examples(type).empty())
        << "record events of " << type << " in schemas/events/examples/" << type;
  }
}

TEST(EventSchemaCompatTest, EverySchemaStillDescribesTheEventsConsumersHaveSeen) {
  for (const auto& type : schemas().event_types()) {
    const auto problems =
        test::compatibility_problems(schemas().document(type), test::event_examples(type));
    EXPECT_TRUE(problems.empty()) << type << joined(problems);
  }
}

TEST(EventSchemaCompatTest, RenamingAFieldIsCaught) {
  Case c("api_key.created");
  auto& key = c.definition("api_key");
  auto& properties = key.at("properties").as_object();
  properties["display_name"] = properties.at("name");
  properties.erase("name");
  remove_required(key, "name");
  key.at("required").as_array().emplace_back("display_name");
  const auto problems = c.problems();
  EXPECT_TRUE(mentions(problems, "the schema rejects this recorded event")) << joined(problems);
}

TEST(EventSchemaCompatTest, RemovingAFieldIsCaught) {
  Case c("api_key.revoked");
  auto& key = c.definition("api_key");
  key.at("properties").as_object().erase("key_prefix");
  remove_required(key, "key_prefix");
  const auto problems = c.problems();
  EXPECT_TRUE(mentions(problems, "no longer declares")) << joined(problems);
  EXPECT_TRUE(mentions(problems, "'key_prefix'")) << joined(problems);
}

TEST(EventSchemaCompatTest, MakingAFieldOptionalIsCaught) {
  Case c("connection.deleted");
  remove_required(c.data(), "deleted_at");
  const auto problems = c.problems();
  EXPECT_TRUE(mentions(problems, "/data/deleted_at may now be missing")) << joined(problems);
}

TEST(EventSchemaCompatTest, MakingAFieldNullableIsCaught) {
  Case c("api_key.updated");
  c.definition("api_key").at("properties").at("created_at") = {
      {"$ref", "#/definitions/nullable_timestamp"}};
  const auto problems = c.problems();
  EXPECT_TRUE(mentions(problems, "/data/created_at may now be null")) << joined(problems);
}

TEST(EventSchemaCompatTest, TighteningATypeIsCaught) {
  Case c("api_key.created");
  c.definition("api_key").at("properties").at("scopes").at("items") = {
      {"enum", json::array{"READ", "CREATE", "UPDATE", "DELETE", "MANAGE"}}};
  const auto problems = c.problems();
  EXPECT_TRUE(mentions(problems, "the schema rejects this recorded event")) << joined(problems);
}

TEST(EventSchemaCompatTest, ChangingATypeIsCaught) {
  Case c("event_write_key.created");
  c.definition("connection_id") = {{"type", "string"}};
  const auto problems = c.problems();
  EXPECT_TRUE(mentions(problems, "the schema rejects this recorded event")) << joined(problems);
}

TEST(EventSchemaCompatTest, LooseningATypeOrAFormatIsCaught) {
  Case c("webhook_subscription.created");
  auto& properties = c.data().at("properties").as_object();
  properties["created_at"] = {{"type", "string"}};
  properties["url"] = json::object{};
  const auto problems = c.problems();
  EXPECT_TRUE(mentions(problems, "/data/created_at may now be any string, not only a date-time"))
      << joined(problems);
  EXPECT_TRUE(mentions(problems, "/data/url may now be number")) << joined(problems);
}

TEST(EventSchemaCompatTest, AddingAnOptionalFieldIsCompatible) {
  Case c("api_key.rotated");
  c.data().at("properties").as_object()["rotation_reason"] = {{"type", "string"}};
  c.definition("api_key").at("properties").as_object()["labels"] = {{"type", "array"}};
  const auto problems = c.problems();
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

TEST(EventSchemaCompatTest, ClosedSchemaAllowsOnlyDeclaredMembersAlsoThroughAllOf) {
  const auto schema = json::parse(R"({
    "definitions": {"base": {"type": "object", "properties": {"a": {"type": "integer"}}}},
    "type": "object",
    "properties": {"b": {"type": "object", "properties": {"c": {}}}},
    "allOf": [{"$ref": "#/definitions/base"}]
  })");
  const auto closed = test::closed_schema(schema);
  EXPECT_TRUE(test::validate_json(closed, json::parse(R"({"a": 1, "b": {"c": 2}})")).empty());
  EXPECT_FALSE(test::validate_json(closed, json::parse(R"({"a": 1, "z": 2})")).empty());
  EXPECT_FALSE(test::validate_json(closed, json::parse(R"({"b": {"z": 2}})")).empty());
  EXPECT_FALSE(test::validate_json(closed, json::parse(R"({"a": "1"})")).empty());
  // The open original accepts additions.
  EXPECT_TRUE(test::validate_json(schema, json::parse(R"({"a": 1, "z": 2})")).empty());
}

TEST(EventSchemaCompatTest, OnlyLocalDefinitionsCanBeInlined) {
  EXPECT_THROW(test::inline_references(json::parse(R"({"$ref": "other.json#/x"})")),
               std::runtime_error);
  EXPECT_THROW(
      test::inline_references(json::parse(
          R"({"definitions": {"a": {"$ref": "#/definitions/a"}}, "$ref": "#/definitions/a"})")),
      std::runtime_error);
}

}  // namespace
}  // namespace keyflow
