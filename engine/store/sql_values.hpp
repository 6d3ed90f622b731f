#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/clock.hpp"

namespace keyflow {

// Reading and writing the column types keyflow uses through libpqxx's text protocol.

std::optional<std::string> optional_text(const pqxx::field& f);
TimePoint timestamp_of(const pqxx::field& f);  // a NOT NULL timestamptz
std::optional<TimePoint> optional_timestamp(const pqxx::field& f);
std::optional<int> optional_int(const pqxx::field& f);
std::vector<std::string> json_string_array(const pqxx::field& f);  // from array_to_json(col)
std::vector<int> json_int_array(const pqxx::field& f);             // from array_to_json(col)

// A text[] literal ({"a","b"}) with every element quoted and escaped.
std::string text_array_literal(const std::vector<std::string>& items);

// An array literal built an element at a time, each quoted and escaped, or NULL: a column of
// rows sent as one parameter and read back with unnest(), which PostgreSQL parses several
// times faster than the same rows as jsonb.
class ArrayLiteral {
 public:
  explicit ArrayLiteral(std::size_t reserve = 0) { out_.reserve(reserve + 2); }
  void add(std::string_view item);
  void add_optional(const std::optional<std::string>& item);
  void add_optional(const std::optional<int>& item);
  void add_null();
  std::string str() const { return out_ + '}'; }

 private:
  void separate();
  std::string out_ = "{";
};

// A text[] parameter built an element at a time in PostgreSQL's binary array format, sent as a
// binary parameter (the SQL casts it: $1::text[]). The server copies each element as it is,
// where the literal form is read a character at a time: for long texts such as webhook bodies
// that parse was most of a batch insert's cost.
class BinaryTextArray {
 public:
  explicit BinaryTextArray(std::size_t reserve = 0);
  void add(std::string_view item);
  void add_optional(const std::optional<std::string>& item);
  void add_null();
  // The parameter (a copy; the array may grow on after it).
  pqxx::binarystring param();

 private:
  void put_int32(std::int32_t value);
  std::string out_;
  std::int32_t count_ = 0;
  bool has_null_ = false;
};

// A timestamptz parameter at PostgreSQL's own precision (microseconds), so values read back
// compare equal to what was written.
std::string sql_timestamp(TimePoint t);

// Parameters for nullable columns: libpqxx 6.4 sends a null pointer as SQL NULL.
std::optional<std::string> timestamp_param(const std::optional<TimePoint>& t);

// A nullable integer[] parameter ({0,5,300}).
std::optional<std::string> int_array_param(const std::optional<std::vector<int>>& items);

// A nullable bytea parameter, as PostgreSQL's hex input form ("\\x0a1b...").
std::optional<std::string> bytea_param(const std::optional<std::vector<std::uint8_t>>& bytes);

// Runs a due-time claim (ORDER BY due LIMIT n over a partial index) with sorting ruled out, so
// that it walks the index in order and stops after n rows. Without this the planner sorts
// every due row whenever a table's statistics are missing or stale (a fresh database, a burst
// into a table autovacuum has not analysed yet): a claim of 64 then costs O(all due).
template <class Claim>
pqxx::result in_due_order(pqxx::work& txn, Claim&& claim) {
  txn.exec("SET LOCAL enable_sort = off");
  pqxx::result rows = claim();
  txn.exec("SET LOCAL enable_sort = on");
  return rows;
}

// For transactions whose loss in a crash only repeats work: the commit returns before its WAL
// reaches the disk (synchronous_commit = off), and a crash may forget the last few such
// commits. Delivery leases qualify: forgotten, a delivery is simply due again and sent once
// more under the same webhook-id, which is at least once as promised. (Attempt records do
// not: they commit durably, a batch at a time.)
inline void commit_without_waiting_for_disk(pqxx::work& txn) {
  txn.exec("SET LOCAL synchronous_commit = off");
}

// Canonical 8-4-4-4-12 hex form; anything else is not an id of ours.
bool is_uuid(std::string_view text);

}  // namespace keyflow
