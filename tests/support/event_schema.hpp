#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace keyflow::test {

// The event contract's files in the source tree: schemas/events/<event type>.json, the webhook
// body's webhook_delivery.json, and recorded events under examples/<event type>/.
std::filesystem::path event_schema_dir();

// A JSON file's contents; throws std::runtime_error naming the file when it is missing or not
// JSON.
boost::json::value read_json_file(const std::filesystem::path& path);

// A draft 7 JSON Schema compiled by valijson, for validating many instances against it.
class CompiledSchema {
 public:
  // Throws std::runtime_error when schema is not a schema valijson can compile.
  explicit CompiledSchema(const boost::json::value& schema);
  ~CompiledSchema();
  CompiledSchema(CompiledSchema&&) noexcept;
  CompiledSchema& operator=(CompiledSchema&&) noexcept;

  // One line per problem, "<JSON pointer>: <what is wrong>", innermost first; empty when the
  // instance is valid.
  std::vector<std::string> validate(const boost::json::value& instance) const;
  bool accepts(const boost::json::value& instance) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// CompiledSchema(schema).validate(instance).
std::vector<std::string> validate_json(const boost::json::value& schema,
                                       const boost::json::value& instance);

// The structured form of a CloudEvent carried by a Kafka message in binary mode, which is the
// shape the schemas describe: each ce_<name> header becomes attribute <name>, content-type
// becomes datacontenttype, and the value becomes data (its text as a string when it is not
// JSON, which every schema rejects).
boost::json::object cloud_event_from_kafka(const std::map<std::string, std::string>& headers,
                                           std::string_view value);

// One recorded event: examples/<type>/<name>.json.
struct EventExample {
  std::string name;  // the file name, for messages
  boost::json::value event;
};

// The recorded events of a type, in file name order; empty when there are none.
std::vector<EventExample> event_examples(std::string_view event_type,
                                         const std::filesystem::path& dir = event_schema_dir());

// The event schemas of a directory, compiled once, for validating what keyflow produces.
// Thread-safe after construction.
class EventSchemas {
 public:
  explicit EventSchemas(const std::filesystem::path& dir = event_schema_dir());

  // Every event type with a schema, sorted.
  std::vector<std::string> event_types() const;
  bool has(std::string_view event_type) const;
  // The schema document of a type; throws std::out_of_range when there is none.
  const boost::json::value& document(std::string_view event_type) const;

  // A structured CloudEvent against the schema of its own type; problems as validate_json's,
  // or one saying the event has no type or no schema.
  std::vector<std::string> validate(const boost::json::value& event) const;

  // A Kafka message as the relay publishes it: the CloudEvent its headers and value make, and
  // the binding docs/events.md promises: topic keyflow.<aggregate>s for type <aggregate>.<verb>,
  // message key = ce_subject.
  std::vector<std::string> validate_kafka(std::string_view topic, std::string_view key,
                                          const std::map<std::string, std::string>& headers,
                                          std::string_view value) const;

  // A webhook body: the envelope against webhook_delivery.json, and its data against the data
  // schema of the event type it names.
  std::vector<std::string> validate_webhook(std::string_view body) const;

 private:
  struct Compiled {
    boost::json::value document;
    CompiledSchema schema;
    std::optional<CompiledSchema> data_schema;  // event types only
  };
  const Compiled& compiled(std::string_view event_type) const;

  std::map<std::string, Compiled, std::less<>> schemas_;
  std::optional<Compiled> webhook_;
};

}  // namespace keyflow::test
