#pragma once

#include <chrono>

#include "engine/core/clock.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

struct LifecycleOptions {
  // api_key.expiring this long before expires_at (KEYFLOW_EXPIRY_WARNING).
  std::chrono::seconds expiry_warning{7 * 24 * 3600};
  // An undelivered rotation extends the old key's grace once by this much
  // (KEYFLOW_ROTATION_GRACE_EXTENSION), when its grace has less than extension_lead left.
  std::chrono::seconds grace_extension{24 * 3600};
  std::chrono::seconds extension_lead{3600};
  int batch = 500;  // keys per transaction
};

// The due-time events of a key's life, each emitted once through the outbox:
// api_key.expiring (expiry_warning before expires_at, at once for a key created or changed
// inside that window), api_key.expired (when expires_at passes), api_key.grace_ended (when a
// rotated key stops verifying; an undelivered rotation webhook's key is erased then), and
// api_key.rotation_undelivered (the grace was extended because the owner has not got the new
// key yet). Each sweep locks the rows it handles, so any number of schedulers share the work.
class KeyLifecycleService {
 public:
  KeyLifecycleService(ConnectionPool& db, LifecycleOptions options = {})
      : db_(db), options_(options) {}

  // Everything due at `now`; returns how many events were emitted.
  int sweep(TimePoint now);

 private:
  int expiring(TimePoint now);
  int expired(TimePoint now);
  int undelivered(TimePoint now);
  int grace_ended(TimePoint now);

  ConnectionPool& db_;
  LifecycleOptions options_;
};

}  // namespace keyflow
