#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include "engine/core/clock.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// Keeps the planner's picture of webhook_deliveries current while the table grows faster than
// autovacuum looks (once a minute by default): a growing backlog would otherwise be planned as
// the near-empty table the statistics last saw, and each claim would scan it. ANALYZE reads a
// sample of the table and sorts it column by column, a cost that grows with the table, so it
// runs after a tenth of the table's rows were written (10 000 at the least), as autovacuum's
// own threshold does, no more than once in 10 s, and only on the columns the claims filter and
// sort by.
class DeliveryStatistics {
 public:
  static constexpr std::size_t kAtLeast = 10000;
  static constexpr std::chrono::seconds kAtMostEvery{10};

  DeliveryStatistics(ConnectionPool& pool, const Clock& clock) : pool_(pool), clock_(clock) {}

  // Counts rows written; analyzes the table when they are enough. Failing to is no error for
  // the caller (the next due time tries again).
  void written(std::size_t rows);

 private:
  ConnectionPool& pool_;
  const Clock& clock_;
  std::size_t since_ = 0;
  std::size_t due_after_ = kAtLeast;
  std::optional<TimePoint> last_;
};

}  // namespace keyflow
