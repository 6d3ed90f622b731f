// valijson reports a schema it cannot compile by throwing instead of aborting.
#define VALIJSON_USE_EXCEPTIONS 1

#include "tests/support/event_schema.hpp"

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace keyflow::test {
namespace {

namespace json = boost::json;

// The CloudEvents attributes keyflow sends, by Kafka header (binary content mode).
constexpr std::string_view kAttributePrefix = "ce_";

// "<root>" "[data]" "[scopes]" "[0]" -> "/data/scopes/0".
std::string json_pointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string name = part;
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
      name = name.substr(1, name.size() - 2);
    }
    pointer += '/' + name;
  }
  return pointer.empty() ? "/" : pointer;
}

// The aggregate of an event type: api_key for api_key.created.
std::string aggregate_of(std::string_view event_type) {
  return std::string(event_type.substr(0, event_type.find('.')));
}

// The schema of an event's data alone, for the webhook body: the data subschema, with the
// definitions its references point into.
json::value data_schema_of(const json::value& event_schema) {
  json::object data = event_schema.at("properties").at("data").as_object();
  if (const auto* definitions = event_schema.as_object().if_contains("definitions")) {
    data["definitions"] = *definitions;
  }
  data["$schema"] = event_schema.at("$schema");
  return data;
}

}  // namespace

struct CompiledSchema::Impl {
  valijson::Schema schema;
  // One validator for every instance: it keeps the regular expressions of "pattern" compiled.
  std::mutex mutex;
  valijson::Validator validator;
};

CompiledSchema::CompiledSchema(const json::value& schema) : impl_(std::make_unique<Impl>()) {
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    const valijson::adapters::BoostJsonAdapter adapter(schema);
    parser.populateSchema(adapter, impl_->schema);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("not a usable JSON Schema: ") + e.what());
  }
}

CompiledSchema::~CompiledSchema() = default;
CompiledSchema::CompiledSchema(CompiledSchema&&) noexcept = default;
CompiledSchema& CompiledSchema::operator=(CompiledSchema&&) noexcept = default;

std::vector<std::string> CompiledSchema::validate(const json::value& instance) const {
  valijson::ValidationResults results;
  const valijson::adapters::BoostJsonAdapter adapter(instance);
  const std::lock_guard lock(impl_->mutex);
  if (impl_->validator.validate(impl_->schema, adapter, &results)) return {};
  std::vector<std::string> problems;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    problems.push_back(json_pointer(error.context) + ": " + error.description);
  }
  // valijson reports some failures (propertyNames, for one) without a message.
  if (problems.empty()) problems.emplace_back("/: rejected by the schema");
  return problems;
}

bool CompiledSchema::accepts(const json::value& instance) const {
  const valijson::adapters::BoostJsonAdapter adapter(instance);
  const std::lock_guard lock(impl_->mutex);
  return impl_->validator.validate(impl_->schema, adapter, nullptr);
}

std::filesystem::path event_schema_dir() {
  // Set for this file alone by tests/CMakeLists.txt: the source tree being built.
  return std::filesystem::path(KEYFLOW_SOURCE_DIR) / "schemas" / "events";
}

json::value read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = json::parse(text.str(), ec);
  if (ec) throw std::runtime_error(path.string() + " is not JSON: " + ec.message());
  return value;
}

std::vector<std::string> validate_json(const json::value& schema, const json::value& instance) {
  return CompiledSchema(schema).validate(instance);
}

json::object cloud_event_from_kafka(const std::map<std::string, std::string>& headers,
                                    std::string_view value) {
  json::object event;
  for (const auto& [name, text] : headers) {
    if (name.starts_with(kAttributePrefix)) {
      event[name.substr(kAttributePrefix.size())] = text;
    } else if (name == "content-type") {
      event["datacontenttype"] = text;
    }
  }
  boost::system::error_code ec;
  auto data = json::parse(value, ec);
  event["data"] = ec ? json::value(json::string(value)) : std::move(data);
  return event;
}

std::vector<EventExample> event_examples(std::string_view event_type,
                                         const std::filesystem::path& dir) {
  std::vector<EventExample> out;
  const auto folder = dir / "examples" / std::string(event_type);
  if (!std::filesystem::is_directory(folder)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    out.push_back({entry.path().filename().string(), read_json_file(entry.path())});
  }
  std::sort(out.begin(), out.end(),
            [](const EventExample& a, const EventExample& b) { return a.name < b.name; });
  return out;
}

EventSchemas::EventSchemas(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw std::runtime_error("no event schemas at " + dir.string());
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto& path = entry.path();
    if (!entry.is_regular_file() || path.extension() != ".json") continue;
    const auto stem = path.stem().string();
    // Event types have a dot (api_key.created); the webhook body's schema has none.
    const bool event_type = stem.find('.') != std::string::npos;
    if (!event_type && stem != "webhook_delivery") continue;
    auto document = read_json_file(path);
    try {
      Compiled compiled{document, CompiledSchema(document), std::nullopt};
      if (event_type) {
        compiled.data_schema.emplace(data_schema_of(document));
        schemas_.emplace(stem, std::move(compiled));
      } else {
        webhook_.emplace(std::move(compiled));
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(path.string() + ": " + e.what());
    }
  }
  if (!webhook_) throw std::runtime_error("no webhook_delivery.json in " + dir.string());
}

std::vector<std::string> EventSchemas::event_types() const {
  std::vector<std::string> types;
  for (const auto& [type, compiled] : schemas_)
    types.push_back(type);
  return types;
}

bool EventSchemas::has(std::string_view event_type) const {
  return schemas_.find(event_type) != schemas_.end();
}

const EventSchemas::Compiled& EventSchemas::compiled(std::string_view event_type) const {
  const auto it = schemas_.find(event_type);
  if (it == schemas_.end()) {
    throw std::out_of_range("no schema for event type '" + std::string(event_type) + "'");
  }
  return it->second;
}

const json::value& EventSchemas::document(std::string_view event_type) const {
  return compiled(event_type).document;
}

std::vector<std::string> EventSchemas::validate(const json::value& event) const {
  const auto* object = event.if_object();
  const auto* type = object ? object->if_contains("type") : nullptr;
  if (type == nullptr || !type->is_string()) return {"/type: missing, so no schema applies"};
  const std::string_view name = type->get_string();
  if (!has(name)) return {"/type: no schema for event type '" + std::string(name) + "'"};
  return compiled(name).schema.validate(event);
}

std::vector<std::string> EventSchemas::validate_kafka(
    std::string_view topic, std::string_view key, const std::map<std::string, std::string>& headers,
    std::string_view value) const {
  const auto event = cloud_event_from_kafka(headers, value);
  auto problems = validate(event);
  if (const auto* type = event.if_contains("type"); type && type->is_string()) {
    const auto expected = "keyflow." + aggregate_of(type->get_string()) + "s";
    if (topic != expected) {
      problems.push_back("topic " + std::string(topic) + ": expected " + expected);
    }
  }
  const auto subject = headers.find("ce_subject");
  if (subject == headers.end() || subject->second != key) {
    problems.push_back("message key '" + std::string(key) + "' is not ce_subject");
  }
  return problems;
}

std::vector<std::string> EventSchemas::validate_webhook(std::string_view body) const {
  boost::system::error_code ec;
  const auto value = json::parse(body, ec);
  if (ec) return {"the body is not JSON: " + ec.message()};
  auto problems = webhook_->schema.validate(value);
  if (!problems.empty()) return problems;
  const std::string_view type = value.at("event").as_string();
  if (!has(type)) return {"/event: no schema for event type '" + std::string(type) + "'"};
  for (auto& problem : compiled(type).data_schema->validate(value.at("data"))) {
    problems.push_back("/data" + (problem.starts_with("/:") ? problem.substr(1) : problem));
  }
  return problems;
}

}  // namespace keyflow::test
